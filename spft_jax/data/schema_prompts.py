"""The schema prompt stored with each prepared question, and how to compute the same one.

It is `schema_prompt` with its defaults (CREATE TABLE statements), so a prompt built elsewhere
with defaults matches the prepared one; a pipeline that wants another style or value count
builds its own from the Dataset's schemas and databases.

Three sample values per column: enough to show a column's format (date layout, code style,
casing) so the model writes literals the database actually holds, few enough that the
largest Spider schema stays under 9,000 characters (about 1,900 on average).

A database file that is missing gives the prompt from tables.json alone, without sample values:
the question is kept (as the raw loader keeps it) and the prompt still describes its schema.
"""

from __future__ import annotations

from spft_jax.sql.dataset import Dataset
from spft_jax.sql.schema_text import schema_prompt

SAMPLE_VALUES_PER_COLUMN = 3


def database_schema_prompt(dataset: Dataset, db_id: str) -> str:
    """The schema prompt of `db_id`, with sample values when its database file exists."""
    db_path = dataset.db_path(db_id)
    return schema_prompt(
        dataset.schemas[db_id],
        db_path if db_path.is_file() else None,
        values_per_column=SAMPLE_VALUES_PER_COLUMN,
    )
