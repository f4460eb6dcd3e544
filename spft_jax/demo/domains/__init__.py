"""One module per demo database.

Every module defines the same names, which `spft_jax.demo.build` reads:

- `DB_ID`: the database id (also the module name).
- `SEED`: the seed of the `random.Random` handed to `rows`; fixed so every build is identical.
- `SCHEMA`: CREATE TABLE statements, referenced tables before the tables that reference them.
- `NATURAL_NAMES`: natural-language names where deriving them from the identifier
  ("home_branch_id" -> "home branch id") would read badly; keys are "table" or "table.column".
- `TIME_COLUMNS`, `BOOLEAN_COLUMNS`: "table.column" names stored as TEXT dates / INTEGER 0-1,
  which tables.json reports with Spider's coarse types "time" and "boolean".
- `rows(rng)`: {table: [row tuples in column order]}.
- `QUESTIONS`: [(question, gold SQL)], the SQL in SQLite dialect and Spider's style.
"""

from __future__ import annotations

import importlib
import types


def load_domain(db_id: str) -> types.ModuleType:
    """The domain module of `db_id` (e.g. "public_library")."""
    return importlib.import_module(f"{__name__}.{db_id}")
