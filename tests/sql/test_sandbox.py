"""Model-generated SQL is hostile: it must never change a database or touch the filesystem, and
runaway queries must stop at their limits with the right error kind."""

import hashlib
import time

import pytest

from spft_jax.errors import DatabaseNotFoundError
from spft_jax.sql.executor import SqlExecutor
from spft_jax.sql.sandbox import ErrorKind, ExecutionLimits, SandboxConnection, classify_error
from tests.sql.tiny_benchmark import make_shop_database

TIMEOUT_S = 1.0
# How long past its limit a statement may run before it has stopped: SQLite checks the deadline
# every few thousand VM instructions, plus the time to unwind, plus time spent descheduled (the
# suite's two test workers share two cores with the JAX processes they start).
SLACK_S = 1.0
LIMITS = ExecutionLimits(timeout_s=TIMEOUT_S, max_rows=1000)

HOSTILE = [
    ("DROP TABLE customer", ErrorKind.DENIED),
    ("DELETE FROM customer", ErrorKind.DENIED),
    ("UPDATE customer SET name = 'x'", ErrorKind.DENIED),
    ("INSERT INTO customer VALUES (9, 'Eve', 'Rome')", ErrorKind.DENIED),
    ("REPLACE INTO customer VALUES (1, 'Eve', 'Rome')", ErrorKind.DENIED),
    ("CREATE TABLE evil (a)", ErrorKind.DENIED),
    ("CREATE TEMP TABLE evil AS SELECT 1", ErrorKind.DENIED),
    ("ALTER TABLE customer ADD COLUMN evil TEXT", ErrorKind.DENIED),
    ("/* looks harmless */ DELETE FROM purchase", ErrorKind.DENIED),
    ("WITH x AS (SELECT 1) DELETE FROM customer", ErrorKind.DENIED),
    ("WITH x AS (SELECT 1) INSERT INTO numbers SELECT * FROM x", ErrorKind.DENIED),
    ("WITH x AS (SELECT 1) UPDATE customer SET city = 'x'", ErrorKind.DENIED),
    ("ATTACH DATABASE '{dir}/attached.db' AS other", ErrorKind.DENIED),
    ("VACUUM INTO '{dir}/copy.db'", ErrorKind.DENIED),
    ("VACUUM", ErrorKind.DENIED),
    ("PRAGMA journal_mode = WAL", ErrorKind.DENIED),
    ("PRAGMA user_version = 7", ErrorKind.DENIED),
    ("SELECT * FROM pragma_table_info('customer')", ErrorKind.DENIED),
    ("SELECT load_extension('{dir}/evil.so')", ErrorKind.DENIED),
    ("SELECT * FROM customer; DROP TABLE customer", ErrorKind.DENIED),
    ("SELECT 1; SELECT 2", ErrorKind.DENIED),
    ("BEGIN; DELETE FROM customer; COMMIT", ErrorKind.DENIED),
    # Runaway work: stopped by the clock or the row cap.
    (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
        ErrorKind.TIMEOUT,
    ),
    ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c",
     ErrorKind.TOO_MANY_ROWS),
    ("SELECT count(*) FROM numbers a, numbers b, numbers c", ErrorKind.TIMEOUT),
    ("SELECT * FROM numbers a, numbers b", ErrorKind.TOO_MANY_ROWS),
    # Memory bombs: a single value may not grow past the length limit.
    ("SELECT zeroblob(2000000000)", ErrorKind.RUNTIME),
]


@pytest.fixture
def shop(tmp_path):
    return make_shop_database(tmp_path / "db" / "shop.sqlite")


def snapshot(db_path):
    folder = db_path.parent
    return hashlib.sha256(db_path.read_bytes()).hexdigest(), sorted(p.name for p in folder.iterdir())


def check_hostile(results, shop):
    for (sql, expected), result in zip(HOSTILE, results):
        assert result.error_kind == expected, (sql, result)
        if expected == ErrorKind.TIMEOUT:
            assert result.elapsed_s < TIMEOUT_S + SLACK_S, (sql, result.elapsed_s)


def test_hostile_statements_in_process(shop):
    before = snapshot(shop)
    conn = SandboxConnection(shop, LIMITS)
    results = [conn.run(sql.format(dir=shop.parent)) for sql, _ in HOSTILE]
    conn.close()
    check_hostile(results, shop)
    assert snapshot(shop) == before, "the database file or its folder changed"


def test_hostile_statements_through_worker_pool(shop):
    before = snapshot(shop)
    with SqlExecutor(LIMITS, workers=2) as executor:
        start = time.monotonic()
        results = executor.execute_many([(shop, sql.format(dir=shop.parent)) for sql, _ in HOSTILE])
        wall = time.monotonic() - start
    check_hostile(results, shop)
    assert snapshot(shop) == before, "the database file or its folder changed"
    # Two slow statements on two workers run side by side, not one after the other.
    # (One after the other they would take 2 * TIMEOUT_S for the slow pair alone.)
    assert wall < 2 * TIMEOUT_S + SLACK_S


def test_reads_still_work_after_hostile_statements(shop):
    conn = SandboxConnection(shop, LIMITS)
    for sql, _ in HOSTILE[:5]:
        conn.run(sql)
    result = conn.run("SELECT name FROM customer ORDER BY customer_id")
    assert result.ok and result.rows == (("Ada",), ("Bo",), ("Cy",))
    assert result.columns == ("name",)


@pytest.mark.parametrize(
    "sql, kind",
    [
        ("", ErrorKind.EMPTY),
        ("  ;  ", ErrorKind.EMPTY),
        ("-- nothing here\n", ErrorKind.EMPTY),
        ("SELECT FROM customer", ErrorKind.SYNTAX),
        ("SELECT name FROM customer WHERE", ErrorKind.SYNTAX),
        ("SELECT 'unterminated FROM customer", ErrorKind.SYNTAX),
        ("Find all customers", ErrorKind.SYNTAX),  # prose is malformed SQL, not an attack
        ("SELECT nope FROM customer", ErrorKind.SCHEMA),
        ("SELECT * FROM nowhere", ErrorKind.SCHEMA),
        ("SELECT customer_id FROM customer JOIN purchase", ErrorKind.SCHEMA),  # ambiguous
        ("SELECT no_such_function(1)", ErrorKind.SCHEMA),
        ("SELECT abs(-9223372036854775807 - 1)", ErrorKind.RUNTIME),  # integer overflow
        ("SELECT sum(name) FROM customer GROUP BY count(*)", ErrorKind.RUNTIME),
    ],
)
def test_error_kinds(shop, sql, kind):
    result = SandboxConnection(shop, LIMITS).run(sql)
    assert result.error_kind == kind, result
    assert not result.ok and result.rows == () and result.error


def test_queries_that_start_with_with_or_values_run(shop):
    conn = SandboxConnection(shop, LIMITS)
    assert conn.run("WITH t AS (SELECT 2 AS x) SELECT x FROM t").rows == ((2,),)
    assert conn.run("VALUES (1, 'a')").rows == ((1, "a"),)
    assert conn.run("  -- a comment first\n select count(*) from purchase;").rows == ((3,),)


def test_row_cap_is_exact(shop):
    limits = ExecutionLimits(timeout_s=5, max_rows=2000)
    conn = SandboxConnection(shop, limits)
    assert len(conn.run("SELECT n FROM numbers").rows) == 2000  # exactly at the cap is fine
    assert conn.run("SELECT n FROM numbers UNION ALL SELECT 1").error_kind == ErrorKind.TOO_MANY_ROWS


def test_missing_database_is_a_clear_error(tmp_path):
    with pytest.raises(DatabaseNotFoundError, match="nothing.sqlite"):
        SandboxConnection(tmp_path / "nothing.sqlite", LIMITS)
    assert not (tmp_path / "nothing.sqlite").exists(), "opening must not create the file"


def test_classify_error_messages():
    assert classify_error('near "FROM": syntax error') == ErrorKind.SYNTAX
    assert classify_error("no such column: x") == ErrorKind.SCHEMA
    assert classify_error("attempt to write a readonly database") == ErrorKind.DENIED
    assert classify_error("not authorized") == ErrorKind.DENIED
    assert classify_error("division by zero") == ErrorKind.RUNTIME
