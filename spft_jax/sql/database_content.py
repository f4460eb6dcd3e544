"""What a target database really holds: the tables.json names its file has, and column values.

Template filling must never invent a name or a value. Names come from tables.json, but a few
Spider entries name a table or column that the .sqlite file lacks; binding a slot to such a name
would only produce a query that fails, so `DatabaseContent.schema` is the tables.json schema
minus what the file does not have. Values come from the file itself: the first distinct values
of a column in the database's scan order (deterministic for an unchanged file), read through the
sandbox's read-only connection (never a writable one).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import pathlib
from collections.abc import Iterable, Mapping

from spft_jax.sql.dataset import database_path
from spft_jax.sql.fk_graph import ForeignKeyGraph
from spft_jax.sql.identifiers import quote_identifier
from spft_jax.sql.sandbox import ConnectionCache, ExecutionLimits
from spft_jax.sql.schema import Schema, Table
from spft_jax.sql.schema_text import sample_values

log = logging.getLogger(__name__)

# Our own small reads; a short limit keeps one pathological column from stalling synthesis.
CONTENT_LIMITS = ExecutionLimits(timeout_s=5.0, max_rows=10_000)
# Longer text makes unreadable queries and questions; such values are not used as literals.
MAX_VALUE_CHARS = 100


@dataclasses.dataclass(frozen=True)
class TargetDatabase:
    """A database that templates are filled on: its schema and its .sqlite file."""

    schema: Schema
    path: pathlib.Path

    @property
    def db_id(self) -> str:
        return self.schema.db_id


def target_databases(
    schemas: Mapping[str, Schema], db_dir: str | pathlib.Path, db_ids: Iterable[str]
) -> tuple[list[TargetDatabase], list[str]]:
    """The databases among `db_ids` (in sorted order) whose file exists, and the ids whose file
    is missing, so the caller can say which it skipped."""
    present, missing = [], []
    for db_id in sorted(set(db_ids)):
        path = database_path(db_dir, db_id)
        if db_id in schemas and path.is_file():
            present.append(TargetDatabase(schemas[db_id], path))
        else:
            missing.append(db_id)
    return present, missing


def usable_literal(value) -> bool:
    """Whether a database value can be written back as an SQL literal that equals it."""
    if isinstance(value, str):
        # U+FFFD marks bytes that were not UTF-8 (the sandbox decodes with "replace"): the
        # literal would not equal what the file holds.
        return 0 < len(value) <= MAX_VALUE_CHARS and "\ufffd" not in value
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int)


class DatabaseContent:
    """The usable schema, its foreign-key graph and column values of one target database."""

    def __init__(
        self, database: TargetDatabase, connections: ConnectionCache, values_per_column: int = 200
    ):
        if values_per_column > connections.limits.max_rows:
            raise ValueError("values_per_column exceeds the connection's row cap")
        self.database = database
        self._connections = connections
        self._values_per_column = values_per_column
        self._values: dict[tuple[str, str], tuple] = {}

    @property
    def db_id(self) -> str:
        return self.database.db_id

    @functools.cached_property
    def schema(self) -> Schema:
        """The tables.json schema without the tables, columns and foreign keys the file lacks."""
        conn = self._connections.get(self.database.path)
        tables = []
        for table in self.database.schema.tables:
            result = conn.run(f"SELECT * FROM {quote_identifier(table.name)} LIMIT 0")
            if not result.ok:
                log.warning("%s: table %s unreadable (%s); not used for synthesis",
                            self.db_id, table.name, result.error)
                continue
            present = {name.lower() for name in result.columns}
            columns = tuple(c for c in table.columns if c.name.lower() in present)
            if len(columns) < len(table.columns):
                log.warning(
                    "%s: the file's %s has no %s; not used for synthesis", self.db_id, table.name,
                    ", ".join(c.name for c in table.columns if c not in columns),
                )
            if columns:
                tables.append(dataclasses.replace(table, columns=columns))
        have = {(t.name, c.name) for t in tables for c in t.columns}
        foreign_keys = tuple(
            fk for fk in self.database.schema.foreign_keys
            if (fk.table, fk.column) in have and (fk.ref_table, fk.ref_column) in have
        )
        return dataclasses.replace(
            self.database.schema, tables=tuple(tables), foreign_keys=foreign_keys
        )

    @functools.cached_property
    def graph(self) -> ForeignKeyGraph:
        return ForeignKeyGraph(self.schema)

    def values(self, table: Table, column_name: str) -> tuple:
        """Distinct non-null values of a column that can be written as literals."""
        key = (table.name, column_name)
        if key not in self._values:
            column = table.column(column_name)
            conn = self._connections.get(self.database.path)
            raw = sample_values(conn, table, column, self._values_per_column)
            self._values[key] = tuple(v for v in raw if usable_literal(v))
        return self._values[key]
