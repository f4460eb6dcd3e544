"""The pooled executor: results in job order, gold caching, and a pool that survives workers
that hang or die."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from spft_jax.errors import DatabaseNotFoundError
from spft_jax.sql.executor import KILL_GRACE_S, SqlExecutor
from spft_jax.sql.sandbox import ErrorKind, ExecutionLimits
from tests.sql.tiny_benchmark import make_shop_database

SLOW = "SELECT count(*) FROM numbers a, numbers b, numbers c"


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    return make_shop_database(tmp_path_factory.mktemp("db") / "shop.sqlite")


def test_pool_returns_results_in_job_order_and_matches_in_process(shop):
    jobs = [(shop, f"SELECT {i}, count(*) FROM numbers WHERE n < {i}") for i in range(200)]
    jobs.insert(50, (shop, "SELECT nope FROM customer"))
    with SqlExecutor(workers=2) as pooled, SqlExecutor(workers=0) as local:
        from_pool = pooled.execute_many(jobs)
        in_process = local.execute_many(jobs)
    assert [r.rows for r in from_pool] == [r.rows for r in in_process]
    assert [r.error_kind for r in from_pool] == [r.error_kind for r in in_process]
    assert from_pool[0].rows == ((0, 0),) and from_pool[51].rows == ((50, 50),)
    assert from_pool[50].error_kind == ErrorKind.SCHEMA


def test_on_result_sees_every_job_once(shop):
    seen = []
    with SqlExecutor(workers=2) as executor:
        executor.execute_many([(shop, f"SELECT {i}") for i in range(30)], on_result=lambda i, r: seen.append(i))
    assert sorted(seen) == list(range(30))


def test_cached_results_are_reused_only_when_asked(shop):
    with SqlExecutor(workers=0) as executor:
        first = executor.execute(shop, "SELECT name FROM customer", cache=True)
        again = executor.execute(shop, "SELECT name FROM customer", cache=True)
        uncached = executor.execute(shop, "SELECT name FROM customer")
    assert again is first
    assert uncached is not first and uncached.rows == first.rows


def test_timeouts_are_not_cached(shop):
    with SqlExecutor(ExecutionLimits(timeout_s=0.2), workers=0) as executor:
        first = executor.execute(shop, SLOW, cache=True)
        again = executor.execute(shop, SLOW, cache=True)
    assert first.error_kind == again.error_kind == ErrorKind.TIMEOUT
    assert again is not first


def test_cache_is_bounded(shop):
    with SqlExecutor(workers=0, cache_capacity=2) as executor:
        a = executor.execute(shop, "SELECT 1", cache=True)
        executor.execute(shop, "SELECT 2", cache=True)
        executor.execute(shop, "SELECT 3", cache=True)
        assert executor.execute(shop, "SELECT 1", cache=True) is not a  # evicted, run again


def test_missing_database_fails_before_anything_runs(shop, tmp_path):
    with SqlExecutor(workers=0) as executor:
        with pytest.raises(DatabaseNotFoundError, match="absent.sqlite"):
            executor.execute_many([(shop, "SELECT 1"), (tmp_path / "absent.sqlite", "SELECT 1")])


def test_hung_worker_is_killed_and_the_pool_carries_on(shop):
    limits = ExecutionLimits(timeout_s=0.5)
    with SqlExecutor(limits, workers=1) as executor:
        assert executor.execute(shop, "SELECT 1").rows == ((1,),)
        # A stopped process cannot answer, exactly like a statement the progress handler cannot
        # interrupt: only the parent's deadline can end it.
        os.kill(executor._workers[0].process.pid, signal.SIGSTOP)
        start = time.monotonic()
        hung, after = executor.execute_many([(shop, "SELECT 2"), (shop, "SELECT 3")])
        elapsed = time.monotonic() - start
    assert hung.error_kind == ErrorKind.TIMEOUT and "killed" in hung.error
    assert after.rows == ((3,),), "the job queued behind the hung one runs on a fresh worker"
    assert limits.timeout_s + KILL_GRACE_S <= elapsed < limits.timeout_s + KILL_GRACE_S + 5


def test_worker_dying_mid_statement_fails_only_that_statement(shop):
    limits = ExecutionLimits(timeout_s=20)
    with SqlExecutor(limits, workers=1) as executor:
        executor.execute(shop, "SELECT 1")
        pid = executor._workers[0].process.pid
        threading.Timer(0.5, os.kill, (pid, signal.SIGKILL)).start()
        died, after = executor.execute_many([(shop, SLOW), (shop, "SELECT 4")])
    assert died.error_kind == ErrorKind.CRASHED and "died" in died.error
    assert after.rows == ((4,),)


def test_worker_killed_while_idle_is_replaced_transparently(shop):
    with SqlExecutor(workers=1) as executor:
        executor.execute(shop, "SELECT 1")
        process = executor._workers[0].process
        os.kill(process.pid, signal.SIGKILL)
        process.join()
        assert executor.execute(shop, "SELECT 5").rows == ((5,),)


def test_script_without_main_guard_gets_a_clear_error(tmp_path, shop):
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from spft_jax.sql.executor import SqlExecutor\n"
        f"SqlExecutor(workers=1).execute({str(shop)!r}, 'SELECT 1')\n"
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "if __name__ == '__main__'" in result.stderr
