"""Database schemas in Spider's `tables.json` format.

A `Schema` is the typed view of one `tables.json` entry: tables, columns (original and natural-
language names, Spider's coarse types), primary keys and foreign keys. Loading validates the
entry, so index errors in a hand-edited file surface as a message naming the database and field
instead of an IndexError deep inside prompt building or SQL synthesis.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Mapping
from typing import Any

from spft_jax.errors import DataError, UnknownDatabaseError
from spft_jax.sql.json_files import read_json_list

# Spider's coarse column types; anything else in a tables.json is reported as malformed.
COLUMN_TYPES = ("text", "number", "time", "boolean", "others")


@dataclasses.dataclass(frozen=True)
class Column:
    index: int  # position in the entry's column list (0 is Spider's "*", never a Column)
    table: str  # original name of the owning table
    name: str  # original name, as in the database
    nl_name: str  # natural-language name, e.g. "singer id"
    type: str  # one of COLUMN_TYPES
    is_primary_key: bool


@dataclasses.dataclass(frozen=True)
class ForeignKey:
    table: str
    column: str
    ref_table: str
    ref_column: str


@dataclasses.dataclass(frozen=True)
class Table:
    name: str
    nl_name: str
    columns: tuple[Column, ...]

    @property
    def primary_key(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.is_primary_key)

    def column(self, name: str) -> Column:
        """The column called `name` (case-insensitive, as SQLite resolves names)."""
        for column in self.columns:
            if column.name.lower() == name.lower():
                return column
        raise KeyError(f"table {self.name!r} has no column {name!r}")


@dataclasses.dataclass(frozen=True)
class Schema:
    db_id: str
    tables: tuple[Table, ...]
    foreign_keys: tuple[ForeignKey, ...]

    def table(self, name: str) -> Table:
        """The table called `name` (case-insensitive, as SQLite resolves names)."""
        for table in self.tables:
            if table.name.lower() == name.lower():
                return table
        raise KeyError(f"database {self.db_id!r} has no table {name!r}")

    @property
    def columns(self) -> tuple[Column, ...]:
        return tuple(c for t in self.tables for c in t.columns)

    def foreign_keys_of(self, table: str) -> tuple[ForeignKey, ...]:
        return tuple(fk for fk in self.foreign_keys if fk.table.lower() == table.lower())

    @classmethod
    def from_spider_entry(cls, entry: Mapping[str, Any]) -> "Schema":
        """Builds a Schema from one tables.json entry, validating every index it holds."""
        db_id = entry.get("db_id", "<no db_id>")

        def field(name: str) -> Any:
            if name not in entry:
                raise DataError(f"tables.json entry {db_id!r} has no field {name!r}")
            return entry[name]

        table_names = list(field("table_names_original"))
        table_nl_names = list(field("table_names"))
        columns_original = list(field("column_names_original"))
        columns_nl = list(field("column_names"))
        column_types = list(field("column_types"))
        if len(table_nl_names) != len(table_names):
            raise DataError(
                f"tables.json entry {db_id!r}: table_names has {len(table_nl_names)} entries, "
                f"table_names_original has {len(table_names)}"
            )
        if not (len(columns_original) == len(columns_nl) == len(column_types)):
            raise DataError(
                f"tables.json entry {db_id!r}: column_names_original, column_names and "
                f"column_types differ in length ({len(columns_original)}, {len(columns_nl)}, "
                f"{len(column_types)})"
            )

        def column_ref(value: Any, what: str) -> int:
            if not isinstance(value, int) or not 1 <= value < len(columns_original):
                raise DataError(
                    f"tables.json entry {db_id!r}: {what} refers to column index {value!r}, "
                    f"valid indices are 1..{len(columns_original) - 1}"
                )
            return value

        primary = set()
        for key in field("primary_keys"):
            # Newer Spider releases write a composite key as a list of column indices.
            for index in key if isinstance(key, list) else [key]:
                primary.add(column_ref(index, "primary_keys"))

        per_table: list[list[Column]] = [[] for _ in table_names]
        for index, ((table_index, name), (_, nl_name), col_type) in enumerate(
            zip(columns_original, columns_nl, column_types)
        ):
            if index == 0:
                continue  # Spider's [-1, "*"] placeholder
            if not isinstance(table_index, int) or not 0 <= table_index < len(table_names):
                raise DataError(
                    f"tables.json entry {db_id!r}: column {name!r} (index {index}) belongs to "
                    f"table index {table_index!r}, but there are {len(table_names)} tables"
                )
            if col_type not in COLUMN_TYPES:
                raise DataError(
                    f"tables.json entry {db_id!r}: column {name!r} has type {col_type!r}, "
                    f"expected one of {COLUMN_TYPES}"
                )
            per_table[table_index].append(
                Column(
                    index=index,
                    table=table_names[table_index],
                    name=name,
                    nl_name=nl_name,
                    type=col_type,
                    is_primary_key=index in primary,
                )
            )
        tables = tuple(
            Table(name=name, nl_name=nl_name, columns=tuple(columns))
            for name, nl_name, columns in zip(table_names, table_nl_names, per_table)
        )
        by_index = {c.index: c for t in tables for c in t.columns}
        foreign_keys = []
        for pair in field("foreign_keys"):
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise DataError(f"tables.json entry {db_id!r}: malformed foreign key {pair!r}")
            source = by_index[column_ref(pair[0], "foreign_keys")]
            target = by_index[column_ref(pair[1], "foreign_keys")]
            foreign_keys.append(ForeignKey(source.table, source.name, target.table, target.name))
        return cls(db_id=db_id, tables=tables, foreign_keys=tuple(foreign_keys))


def load_schemas(tables_path: str | pathlib.Path) -> dict[str, Schema]:
    """Reads a Spider-format tables.json into {db_id: Schema}."""
    entries = read_json_list(tables_path, "tables file")
    if not all(isinstance(e, dict) for e in entries):
        raise DataError(f"tables file {tables_path} must hold a JSON list of objects")
    schemas: dict[str, Schema] = {}
    for entry in entries:
        if "db_id" not in entry:
            raise DataError(f"tables file {tables_path} has an entry without db_id")
        schemas[entry["db_id"]] = Schema.from_spider_entry(entry)
    return schemas


def schema_for(schemas: Mapping[str, Schema], db_id: str, source: str = "tables.json") -> Schema:
    """Looks up a db_id, with an error that says where it was expected."""
    try:
        return schemas[db_id]
    except KeyError:
        raise UnknownDatabaseError(f"db_id {db_id!r} is not described in {source}") from None

