"""The schema as the model sees it: CREATE TABLE statements with keys and sample values.

Deterministic by construction: tables and columns in tables.json order, sample values in the
database's own scan order (`SELECT DISTINCT ... LIMIT k` over an unchanged file returns the same
values every time), so a prompt, and therefore a tokenised example, never changes between runs.

    CREATE TABLE concert (
      concert_id number, -- e.g. 1, 2, 3
      theme text, -- e.g. 'Free choice', 'Party All Night'
      stadium_id text, -- e.g. '1', '2', '10'
      PRIMARY KEY (concert_id),
      FOREIGN KEY (stadium_id) REFERENCES stadium (stadium_id)
    );

`style="compact"` writes one line per table instead, for small models and short contexts (about
40% of the tokens; sample values, when asked for, in brackets):

    concert(concert_id number primary key, theme text, stadium_id text references stadium.stadium_id)
"""

from __future__ import annotations

import logging
import pathlib

from spft_jax.sql.identifiers import quote_identifier
from spft_jax.sql.sandbox import ExecutionLimits, SandboxConnection
from spft_jax.sql.schema import Column, Schema, Table

log = logging.getLogger(__name__)

# Sample reads are our own small queries; a short limit keeps a pathological database from
# stalling prompt building.
_SAMPLE_LIMITS = ExecutionLimits(timeout_s=5.0, max_rows=1000)


def format_value(value, max_chars: int = 40) -> str:
    """A sample value as an SQL literal, long text cut to `max_chars` characters."""
    if isinstance(value, str):
        text = value if len(value) <= max_chars else value[:max_chars] + "..."
        return "'" + text.replace("'", "''") + "'"
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return repr(value)


def sample_values(
    conn: SandboxConnection, table: Table, column: Column, count: int
) -> list:
    """Up to `count` distinct non-null values of a column, in the database's scan order."""
    sql = (
        f"SELECT DISTINCT {quote_identifier(column.name)} FROM {quote_identifier(table.name)} "
        f"WHERE {quote_identifier(column.name)} IS NOT NULL LIMIT {int(count)}"
    )
    result = conn.run(sql)
    if not result.ok:
        # Spider's tables.json has a few names that differ from the database file; the prompt
        # still describes the column, just without examples.
        log.warning("no sample values for %s.%s: %s", table.name, column.name, result.error)
        return []
    return [row[0] for row in result.rows]


SCHEMA_STYLES = ("create_table", "compact")


def schema_prompt(
    schema: Schema,
    db_path: str | pathlib.Path | None = None,
    values_per_column: int = 3,
    max_value_chars: int = 40,
    style: str = "create_table",
) -> str:
    """Serialises `schema` as CREATE TABLE statements (or one line per table with
    `style="compact"`); with `db_path` and `values_per_column > 0`, each column carries sample
    values."""
    if style not in SCHEMA_STYLES:
        raise ValueError(f"schema style {style!r} is not one of {SCHEMA_STYLES}")
    conn = None
    if db_path is not None and values_per_column > 0:
        conn = SandboxConnection(db_path, _SAMPLE_LIMITS)
    try:
        if style == "compact":
            return "\n".join(_compact_table(schema, table, conn, values_per_column, max_value_chars)
                             for table in schema.tables)
        return "\n\n".join(
            _create_table(schema, table, conn, values_per_column, max_value_chars)
            for table in schema.tables
        )
    finally:
        if conn is not None:
            conn.close()


def _create_table(
    schema: Schema,
    table: Table,
    conn: SandboxConnection | None,
    values_per_column: int,
    max_value_chars: int,
) -> str:
    entries: list[tuple[str, str]] = []  # (definition, comment)
    for column in table.columns:
        comment = ""
        if conn is not None:
            values = sample_values(conn, table, column, values_per_column)
            if values:
                comment = "e.g. " + ", ".join(format_value(v, max_value_chars) for v in values)
        entries.append((f"{quote_identifier(column.name)} {column.type}", comment))
    if table.primary_key:
        keys = ", ".join(quote_identifier(c) for c in table.primary_key)
        entries.append((f"PRIMARY KEY ({keys})", ""))
    for fk in schema.foreign_keys_of(table.name):
        entries.append(
            (
                f"FOREIGN KEY ({quote_identifier(fk.column)}) REFERENCES "
                f"{quote_identifier(fk.ref_table)} ({quote_identifier(fk.ref_column)})",
                "",
            )
        )
    lines = []
    for i, (definition, comment) in enumerate(entries):
        separator = "," if i < len(entries) - 1 else ""
        lines.append(f"  {definition}{separator}" + (f" -- {comment}" if comment else ""))
    return f"CREATE TABLE {quote_identifier(table.name)} (\n" + "\n".join(lines) + "\n);"


def _compact_table(
    schema: Schema,
    table: Table,
    conn: SandboxConnection | None,
    values_per_column: int,
    max_value_chars: int,
) -> str:
    references = {fk.column.lower(): fk for fk in schema.foreign_keys_of(table.name)}
    parts = []
    for column in table.columns:
        part = f"{quote_identifier(column.name)} {column.type}"
        if column.is_primary_key:
            part += " primary key"
        fk = references.get(column.name.lower())
        if fk is not None:
            part += f" references {quote_identifier(fk.ref_table)}.{quote_identifier(fk.ref_column)}"
        if conn is not None:
            values = sample_values(conn, table, column, values_per_column)
            if values:
                part += " [" + ", ".join(format_value(v, max_value_chars) for v in values) + "]"
        parts.append(part)
    return f"{quote_identifier(table.name)}(" + ", ".join(parts) + ")"
