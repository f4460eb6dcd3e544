"""Running one untrusted SQL statement against a SQLite database, safely, in this process.

Model-generated SQL is hostile input. Defence in depth, each layer sufficient on its own for the
common attacks:
1. a lexical gate: the statement must start with SELECT, WITH or VALUES;
2. the connection is read-only (`mode=ro` URI, `PRAGMA query_only`), so the file cannot change;
3. an authorizer allows only reading (no writes, no PRAGMA, no ATTACH, no dangerous functions);
4. `SQLITE_LIMIT_ATTACHED = 0`, so nothing (ATTACH, VACUUM INTO) can open a second file;
5. a progress handler interrupts the statement at its deadline, and a cap bounds fetched rows;
6. `SQLITE_LIMIT_LENGTH` bounds any single string or blob a query can build.
The process-level backstop (a worker killed when even the progress handler cannot stop it) is in
`executor.py`.
"""

from __future__ import annotations

import dataclasses
import enum
import pathlib
import re
import sqlite3
import time
from collections import OrderedDict

from spft_jax.errors import DatabaseNotFoundError


class ErrorKind(str, enum.Enum):
    EMPTY = "empty"  # nothing to run (an empty prediction)
    SYNTAX = "syntax"  # the statement does not parse
    SCHEMA = "schema"  # parses, but names an unknown table, column or function
    RUNTIME = "runtime"  # any other error raised by SQLite
    TIMEOUT = "timeout"  # stopped at the wall-clock limit
    TOO_MANY_ROWS = "too_many_rows"  # more rows than the fetch cap
    DENIED = "denied"  # not a read-only single query: refused before or while running
    CRASHED = "crashed"  # the worker process running it died (executor pool only)


@dataclasses.dataclass(frozen=True)
class ExecutionLimits:
    timeout_s: float = 10.0  # wall-clock limit per statement, execution and fetch together
    max_rows: int = 100_000  # more rows than this is an error, not a truncated result
    max_value_bytes: int = 10_000_000  # longest string/blob a query may build
    # SQLite heap limit for a worker process (bytes, 0 = none). Process-wide, so it is applied
    # only inside executor worker processes, never in the caller's process.
    worker_heap_limit_bytes: int = 2_000_000_000

    def __post_init__(self):
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {self.timeout_s}")
        if self.max_rows < 0:
            raise ValueError(f"max_rows must be >= 0, got {self.max_rows}")


@dataclasses.dataclass(frozen=True)
class ExecutionResult:
    rows: tuple[tuple, ...]
    columns: tuple[str, ...]
    elapsed_s: float
    error_kind: ErrorKind | None = None
    error: str = ""  # SQLite's message (or ours), empty when the statement succeeded

    @property
    def ok(self) -> bool:
        return self.error_kind is None

    @classmethod
    def failure(cls, kind: ErrorKind, message: str, elapsed_s: float = 0.0) -> "ExecutionResult":
        return cls(rows=(), columns=(), elapsed_s=elapsed_s, error_kind=kind, error=message)


# Leading whitespace and comments, then the first keyword.
_LEADING_TRIVIA = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?(?:\*/|$))*", re.DOTALL)
_FIRST_WORD = re.compile(r"[A-Za-z]+")
_QUERY_KEYWORDS = frozenset({"SELECT", "WITH", "VALUES"})
# Every other statement SQLite accepts: refused as DENIED (the others are plain syntax errors).
_OTHER_STATEMENT_KEYWORDS = frozenset(
    "ALTER ANALYZE ATTACH BEGIN COMMIT CREATE DELETE DETACH DROP END EXPLAIN INSERT PRAGMA "
    "REINDEX RELEASE REPLACE ROLLBACK SAVEPOINT UPDATE UPSERT VACUUM".split()
)

_ALLOWED_ACTIONS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE})
# Functions that reach outside the database or take raw pointers. Most are absent from Python's
# build, which is exactly why they are listed: a different SQLite build must not open them up.
_DENIED_FUNCTIONS = frozenset(
    {"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit", "sqlite_offset"}
)


def _authorize(action: int, arg1, arg2, db_name, trigger) -> int:
    if action in _ALLOWED_ACTIONS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() not in _DENIED_FUNCTIONS:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def _gate(sql: str) -> ExecutionResult | None:
    """Refuses what is not a single read-only query before SQLite sees it."""
    body = sql[_LEADING_TRIVIA.match(sql).end() :]
    if not body.strip(" \t\r\n;"):
        return ExecutionResult.failure(ErrorKind.EMPTY, "empty statement")
    word = _FIRST_WORD.match(body)
    first = word.group(0).upper() if word else ""
    if first in _QUERY_KEYWORDS:
        return None
    if first in _OTHER_STATEMENT_KEYWORDS:
        return ExecutionResult.failure(
            ErrorKind.DENIED, f"only SELECT/WITH/VALUES queries may run, got {first}"
        )
    # Not a statement SQLite knows at all: a malformed query, reported as such (never run).
    return ExecutionResult.failure(
        ErrorKind.SYNTAX, f"not an SQL query: starts with {body[:20]!r}"
    )


_DENIED_MESSAGES = (
    "not authorized",
    "prohibited",
    "readonly database",
    "one statement at a time",
    "too many attached databases",
)
_SYNTAX_MESSAGES = ("syntax error", "incomplete input", "unrecognized token")
_SCHEMA_MESSAGES = ("no such table", "no such column", "ambiguous column", "no such function")


def classify_error(message: str) -> ErrorKind:
    """Maps an SQLite error message to an ErrorKind (TIMEOUT is decided by the caller)."""
    lowered = message.lower()
    for kind, needles in (
        (ErrorKind.DENIED, _DENIED_MESSAGES),
        (ErrorKind.SYNTAX, _SYNTAX_MESSAGES),
        (ErrorKind.SCHEMA, _SCHEMA_MESSAGES),
    ):
        if any(needle in lowered for needle in needles):
            return kind
    return ErrorKind.RUNTIME


def _decode_text(raw: bytes) -> str:
    # Some benchmark databases hold text that is not valid UTF-8; replacing the bad bytes keeps
    # gold queries on them answerable instead of failing with a decode error.
    return raw.decode("utf-8", errors="replace")


class _Deadline:
    """Progress-handler target: tells SQLite to interrupt once the deadline has passed."""

    def __init__(self):
        self.at = float("inf")
        self.fired = False

    def __call__(self) -> int:
        if time.monotonic() > self.at:
            self.fired = True
            return 1
        return 0


# SQLite calls the progress handler every this many virtual-machine instructions: frequent
# enough to stop within milliseconds of the deadline, rare enough to cost nothing measurable.
_PROGRESS_EVERY = 10_000


class SandboxConnection:
    """A read-only connection to one database with the sandbox's authorizer and limits."""

    def __init__(self, db_path: str | pathlib.Path, limits: ExecutionLimits):
        path = pathlib.Path(db_path)
        if not path.is_file():
            raise DatabaseNotFoundError(f"database file not found: {path}")
        self.limits = limits
        self._conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro",
            uri=True,
            isolation_level=None,  # no implicit BEGIN: we only ever read
            check_same_thread=False,
        )
        self._conn.text_factory = _decode_text
        self._conn.execute("PRAGMA query_only = 1")
        self._conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        self._conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limits.max_value_bytes)
        self._conn.set_authorizer(_authorize)
        self._deadline = _Deadline()
        self._conn.set_progress_handler(self._deadline, _PROGRESS_EVERY)

    def close(self) -> None:
        self._conn.close()

    def run(self, sql: str) -> ExecutionResult:
        """Runs one untrusted statement and returns its rows or a classified error."""
        refused = _gate(sql)
        if refused is not None:
            return refused
        limits, deadline = self.limits, self._deadline
        start = time.monotonic()
        deadline.at = start + limits.timeout_s
        deadline.fired = False
        cursor = self._conn.cursor()
        try:
            cursor.execute(sql)
            rows = cursor.fetchmany(limits.max_rows + 1)
            columns = tuple(d[0] for d in cursor.description or ())
        except (sqlite3.Error, OverflowError, MemoryError) as e:
            elapsed = time.monotonic() - start
            if deadline.fired:
                return ExecutionResult.failure(
                    ErrorKind.TIMEOUT, f"stopped after {limits.timeout_s:g} s", elapsed
                )
            message = str(e) or type(e).__name__
            return ExecutionResult.failure(classify_error(message), message, elapsed)
        finally:
            deadline.at = float("inf")
            cursor.close()
        elapsed = time.monotonic() - start
        if len(rows) > limits.max_rows:
            return ExecutionResult.failure(
                ErrorKind.TOO_MANY_ROWS, f"more than {limits.max_rows} rows", elapsed
            )
        return ExecutionResult(rows=tuple(rows), columns=columns, elapsed_s=elapsed)


class ConnectionCache:
    """Keeps the most recently used sandboxed connections open (opening one costs ~100 us)."""

    def __init__(self, limits: ExecutionLimits, capacity: int = 32):
        self.limits = limits
        self.capacity = capacity
        self._open: OrderedDict[str, SandboxConnection] = OrderedDict()

    def get(self, db_path: str | pathlib.Path) -> SandboxConnection:
        key = str(db_path)
        if key in self._open:
            self._open.move_to_end(key)
            return self._open[key]
        conn = SandboxConnection(db_path, self.limits)
        self._open[key] = conn
        if len(self._open) > self.capacity:
            _, oldest = self._open.popitem(last=False)
            oldest.close()
        return conn

    def close(self) -> None:
        for conn in self._open.values():
            conn.close()
        self._open.clear()
