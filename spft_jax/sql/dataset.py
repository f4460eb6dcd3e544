"""Spider-format Text-to-SQL datasets: a question file, tables.json and a database folder.

The same layout serves Spider, Spider-Syn, Spider-Realistic, Spider-DK and the embedded demo:
- questions: a JSON list of objects; only `db_id`, `question` and `query` are required (BIRD
  calls the query `SQL`; pass `query_field="SQL"`), other fields are kept in `Example.extra`;
- tables.json: one schema entry per database;
- databases: `<db_dir>/<db_id>/<db_id>.sqlite`.
A question whose database file is missing is kept, counted and reported (`Dataset.missing`), so
evaluation can say how many questions it skipped instead of crashing or silently shrinking.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
from collections import Counter
from collections.abc import Mapping
from typing import Any

from spft_jax.errors import DataError
from spft_jax.sql.json_files import read_json_list
from spft_jax.sql.schema import Schema, load_schemas, schema_for

log = logging.getLogger(__name__)

REQUIRED_FIELDS = ("db_id", "question")


@dataclasses.dataclass(frozen=True)
class Example:
    index: int  # position in the question file
    db_id: str
    question: str
    query: str
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # e.g. BIRD's evidence


def database_path(db_dir: str | pathlib.Path, db_id: str) -> pathlib.Path:
    return pathlib.Path(db_dir) / db_id / f"{db_id}.sqlite"


def load_questions(path: str | pathlib.Path, query_field: str = "query") -> list[Example]:
    """Reads a Spider-format question file, checking every entry has the required fields."""
    entries = read_json_list(path, "question file")
    examples = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise DataError(f"question file {path}: entry {index} is not an object")
        for name in (*REQUIRED_FIELDS, query_field):
            if not isinstance(entry.get(name), str):
                raise DataError(
                    f"question file {path}: entry {index} has no string field {name!r}"
                )
        extra = {
            k: v for k, v in entry.items() if k not in (*REQUIRED_FIELDS, query_field)
        }
        examples.append(
            Example(
                index=index,
                db_id=entry["db_id"],
                question=entry["question"],
                query=entry[query_field],
                extra=extra,
            )
        )
    return examples


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Questions with their schemas and databases; see the module docstring."""

    name: str
    examples: tuple[Example, ...]
    schemas: Mapping[str, Schema]
    db_dir: pathlib.Path
    missing_db_ids: frozenset[str]  # databases described in tables.json but absent on disk

    def db_path(self, db_id: str) -> pathlib.Path:
        return database_path(self.db_dir, db_id)

    def has_database(self, example: Example) -> bool:
        return example.db_id not in self.missing_db_ids

    @property
    def available(self) -> tuple[Example, ...]:
        """The examples whose database is present."""
        return tuple(e for e in self.examples if self.has_database(e))

    @property
    def missing(self) -> Counter:
        """Skipped questions per missing database."""
        return Counter(e.db_id for e in self.examples if not self.has_database(e))

    def summary(self) -> str:
        skipped = sum(self.missing.values())
        text = f"{self.name}: {len(self.examples)} questions"
        if skipped:
            detail = ", ".join(f"{db} ({n})" for db, n in sorted(self.missing.items()))
            text += f", {skipped} skipped because their database file is missing: {detail}"
        return text


def load_dataset(
    questions: str | pathlib.Path,
    tables: str | pathlib.Path,
    db_dir: str | pathlib.Path,
    query_field: str = "query",
    name: str | None = None,
) -> Dataset:
    """Loads a Spider-format split. Every db_id must be in tables.json (a typo in a question file
    is an error); a database file that is missing only makes its questions skipped."""
    examples = load_questions(questions, query_field=query_field)
    schemas = load_schemas(tables)
    db_dir = pathlib.Path(db_dir)
    if not db_dir.is_dir():
        raise DataError(f"database folder not found: {db_dir}")
    for example in examples:
        schema_for(schemas, example.db_id, source=str(tables))
    used = {e.db_id for e in examples}
    missing = frozenset(db for db in used if not database_path(db_dir, db).is_file())
    dataset = Dataset(
        name=name or pathlib.Path(questions).stem,
        examples=tuple(examples),
        schemas=schemas,
        db_dir=db_dir,
        missing_db_ids=missing,
    )
    if missing:
        log.warning("%s", dataset.summary())
    return dataset
