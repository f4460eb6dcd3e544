"""Database values that a question mentions, for the prompt (CodeS's "matched values").

A model that sees `singer.Country -- values matching the question: 'United States'` writes
WHERE Country = 'United States' instead of inventing 'USA'. Per database:

1. Values: every distinct text value of every column (at most `max_values_per_column` per column,
   in the database's scan order, at most MAX_VALUE_CHARS characters, with two letters in a row:
   numbers and dates are left to the model), read through the sandbox's read-only connection.
   This is the only part that touches the database; it is cached as JSON (`load_column_values`).
2. Coarse: BM25 over value terms (words and character trigrams) with the question as the query
   picks COARSE_CANDIDATES values; trigrams keep a value with a typo or without its spaces close.
3. Fine: a candidate is kept when the question mentions it within a few edits (`text_match`),
   then each column shows its best `top_k` (fewest edits per character, then longer values).

A value is looked up only in the index of the question's own database, so a value of another
database is never suggested. Everything is deterministic: the same question gives the same
matches, from a fresh index or a cached one.

The cache file, `<cache_dir>/<db_id>-<hash of the database path>.json`, is keyed by the database
file's resolved path, size and modification time, the columns of its schema and the index
settings; a file with another key is rebuilt, and so is one that cannot be read (with a warning
naming it). It is written to a temporary name and renamed, so a reader (another process of a
multi-host run builds the same file) never sees half of one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import pathlib
import uuid
from collections.abc import Sequence

from spft_jax.data.bm25 import BM25
from spft_jax.data.text_match import (QuestionText, compact_form, is_text_value, mention_distance,
                                      normalize_words, trigrams)
from spft_jax.sql.database_content import MAX_VALUE_CHARS
from spft_jax.sql.identifiers import quote_identifier
from spft_jax.sql.sandbox import ExecutionLimits, SandboxConnection
from spft_jax.sql.schema import Schema

log = logging.getLogger(__name__)

INDEX_FORMAT = 1  # bump when what the cache holds, or how it is read, changes
# BM25's shortlist per question: cheap to check finely, and far more than a question mentions.
COARSE_CANDIDATES = 200
READ_TIMEOUT_S = 30.0  # per column; a scan of 10^4 distinct values takes milliseconds

ColumnValues = list[tuple[str, str, list[str]]]  # (table, column, values) in schema order


@dataclasses.dataclass(frozen=True)
class ValueMatch:
    """The values of one column that the question mentions, best first."""

    table: str
    column: str
    values: tuple[str, ...]

    def prompt_line(self) -> str:
        shown = ", ".join("'" + v.replace("'", "''") + "'" for v in self.values)
        return (f"{quote_identifier(self.table)}.{quote_identifier(self.column)} "
                f"-- values matching the question: {shown}")


# -- reading the database ----------------------------------------------------------------------

def read_column_values(schema: Schema, db_path: str | pathlib.Path,
                       max_values_per_column: int) -> ColumnValues:
    """Distinct text values per column, read-only; a column the file lacks is skipped (logged)."""
    limits = ExecutionLimits(timeout_s=READ_TIMEOUT_S, max_rows=max_values_per_column)
    conn = SandboxConnection(db_path, limits)
    columns: ColumnValues = []
    try:
        for table in schema.tables:
            for column in table.columns:
                name = quote_identifier(column.name)
                # GLOB: two ASCII letters in a row somewhere (what `is_text_value` asks, after
                # accent folding), so a column of number-like strings does not use up the limit.
                result = conn.run(
                    f"SELECT DISTINCT {name} FROM {quote_identifier(table.name)} "
                    f"WHERE typeof({name}) = 'text' AND length({name}) <= {MAX_VALUE_CHARS} "
                    f"AND {name} GLOB '*[A-Za-z][A-Za-z]*' LIMIT {int(max_values_per_column)}")
                if not result.ok:
                    log.warning("%s: no values indexed for %s.%s: %s", schema.db_id, table.name,
                                column.name, result.error)
                    continue
                columns.append((table.name, column.name, [row[0] for row in result.rows]))
    finally:
        conn.close()
    return columns


# -- the cache ---------------------------------------------------------------------------------

def cache_key(schema: Schema, db_path: pathlib.Path, max_values_per_column: int) -> dict:
    stat = db_path.stat()
    names = json.dumps([[t.name, [c.name for c in t.columns]] for t in schema.tables])
    return {"format": INDEX_FORMAT, "database": str(db_path.resolve()), "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "columns_sha256": hashlib.sha256(names.encode("utf-8")).hexdigest(),
            "max_values_per_column": max_values_per_column, "max_value_chars": MAX_VALUE_CHARS}


def cache_path(cache_dir: str | pathlib.Path, db_id: str, db_path: pathlib.Path) -> pathlib.Path:
    # The path's hash in the name: one db_id in two dataset folders is two databases.
    digest = hashlib.sha256(str(db_path.resolve()).encode("utf-8")).hexdigest()[:12]
    return pathlib.Path(cache_dir) / f"{db_id}-{digest}.json"


def _parse_cached(data) -> ColumnValues:
    """The columns of a cache file's JSON, or ValueError when it is not what we write."""
    if not isinstance(data, dict) or not isinstance(data.get("key"), dict):
        raise ValueError("no key")
    columns = data.get("columns")
    if not isinstance(columns, list):
        raise ValueError("no column list")
    parsed: ColumnValues = []
    for entry in columns:
        if (not isinstance(entry, list) or len(entry) != 3 or not isinstance(entry[0], str)
                or not isinstance(entry[1], str) or not isinstance(entry[2], list)
                or not all(isinstance(v, str) for v in entry[2])):
            raise ValueError(f"malformed column entry {str(entry)[:80]!r}")
        parsed.append((entry[0], entry[1], list(entry[2])))
    return parsed


def _write_atomic(path: pathlib.Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A name of its own per writer (hosts of a multi-host run may share the folder).
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def load_column_values(schema: Schema, db_path: str | pathlib.Path, max_values_per_column: int,
                       cache_dir: str | pathlib.Path | None) -> ColumnValues:
    """The database's column values: from the cache when its key matches, else read (and
    cached when `cache_dir` is set)."""
    db_path = pathlib.Path(db_path)
    if cache_dir is None:
        return read_column_values(schema, db_path, max_values_per_column)
    path = cache_path(cache_dir, schema.db_id, db_path)
    key = cache_key(schema, db_path, max_values_per_column)
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            cached = _parse_cached(data)
        except (OSError, UnicodeDecodeError, ValueError) as e:  # JSONDecodeError is a ValueError
            log.warning("value index cache %s is corrupt (%s): rebuilding it", path, e)
        else:
            if data["key"] == key:
                return cached
            log.info("value index cache %s was built for another database file or settings: "
                     "rebuilding it", path)
    columns = read_column_values(schema, db_path, max_values_per_column)
    record = {"key": key, "db_id": schema.db_id, "columns": [list(c) for c in columns]}
    _write_atomic(path, json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
    return columns


# -- the index ---------------------------------------------------------------------------------

def value_terms(words: Sequence[str]) -> list[str]:
    """BM25 terms of a value or a question: its words and the trigrams of its compact form."""
    return [f"w:{w}" for w in words] + [f"g:{g}" for g in trigrams("".join(words))]


class ValueIndex:
    """The text values of one database, searchable by the questions that mention them."""

    def __init__(self, db_id: str, columns: ColumnValues):
        self.db_id = db_id
        self.columns = [(table, column) for table, column, _ in columns]
        holders: dict[str, list[int]] = {}  # value -> the columns holding it, in schema order
        for number, (_, _, values) in enumerate(columns):
            for value in values:
                if is_text_value(value) and "\n" not in value and "\r" not in value:
                    holders.setdefault(value, []).append(number)
        self.values = list(holders)
        self._holders = [tuple(holders[v]) for v in self.values]
        self._compact = [compact_form(v) for v in self.values]
        self._bm25 = BM25([value_terms(normalize_words(v)) for v in self.values])

    def __len__(self) -> int:
        return len(self.values)

    def match(self, text: str, top_k: int) -> list[ValueMatch]:
        """Per column (in schema order) its best `top_k` values mentioned in `text`."""
        question = QuestionText.of(text)
        query = value_terms(normalize_words(text))
        found: dict[int, list[tuple[float, int, int]]] = {}
        for number in self._bm25.top(query, COARSE_CANDIDATES):
            compact = self._compact[number]
            distance = mention_distance(compact, question)
            if distance is None:
                continue
            rank = (distance / len(compact), -len(compact), number)
            for column in self._holders[number]:
                found.setdefault(column, []).append(rank)
        return [ValueMatch(*self.columns[column],
                           tuple(self.values[n] for *_, n in sorted(found[column])[:top_k]))
                for column in sorted(found)]


def build_value_index(schema: Schema, db_path: str | pathlib.Path | None,
                      max_values_per_column: int,
                      cache_dir: str | pathlib.Path | None = None) -> ValueIndex:
    """The index of one database (empty when its file is missing: nothing to match)."""
    if db_path is None or not pathlib.Path(db_path).is_file():
        return ValueIndex(schema.db_id, [])
    return ValueIndex(schema.db_id, load_column_values(schema, db_path, max_values_per_column,
                                                       cache_dir))
