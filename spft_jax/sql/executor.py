"""The SQL executor: sandboxed statements run in a pool of killable worker processes.

Worker processes rather than threads because (1) a statement that even SQLite's progress handler
cannot stop is ended by killing its worker, (2) a worker's SQLite heap limit and any crash stay
out of the trainer's process, and (3) converting rows to Python objects holds the GIL, so threads
would serialise on it. Workers are started with "spawn": forking a process that runs JAX (which
has threads) is unsafe.

`workers=0` runs everything in the calling process (same sandbox, no hard-kill backstop), which is
what tests and tiny jobs want.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import pathlib
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence

from spft_jax.errors import DatabaseNotFoundError
from spft_jax.sql.sandbox import (
    ConnectionCache,
    ErrorKind,
    ExecutionLimits,
    ExecutionResult,
)

# A worker is killed this long after its statement's own deadline has passed without an answer.
KILL_GRACE_S = 2.0

Job = tuple[str | pathlib.Path, str]  # (database file, SQL)
# Failures that say more about the machine's load at the time than about the statement: never
# cached, so a gold query that once timed out on a busy machine is tried again next time.
_TRANSIENT = frozenset({ErrorKind.TIMEOUT, ErrorKind.CRASHED})


def _worker_main(conn: multiprocessing.connection.Connection, limits: ExecutionLimits) -> None:
    """Worker loop: answer each (job id, db path, sql) with (job id, ExecutionResult), in order."""
    import sqlite3

    if limits.worker_heap_limit_bytes:
        # Process-wide; it bounds what one runaway statement can allocate in this worker only.
        probe = sqlite3.connect(":memory:")
        probe.execute(f"PRAGMA hard_heap_limit = {int(limits.worker_heap_limit_bytes)}")
        probe.close()
    connections = ConnectionCache(limits)
    conn.send(_READY)
    while True:
        try:
            message = conn.recv()
        except EOFError:
            break
        if message is None:
            break
        job_id, db_path, sql = message
        try:
            result = connections.get(db_path).run(sql)
        except DatabaseNotFoundError as e:  # deleted after execute_many checked it
            result = ExecutionResult.failure(ErrorKind.RUNTIME, str(e))
        conn.send((job_id, result))
    connections.close()


_READY = "ready"
# Jobs sent ahead to each worker so it never waits on the parent for its next statement.
_PREFETCH = 8
# How long a new worker may take to import and report ready before the pool gives up.
_START_TIMEOUT_S = 120.0


class WorkerStartError(RuntimeError):
    """A worker process died before it was ready; nothing would ever run."""


class _Worker:
    """One worker process and the jobs sent to it, answered in the order they were sent."""

    def __init__(self, context, limits: ExecutionLimits):
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, limits), daemon=True)
        self.process.start()
        child.close()
        self.outstanding: deque[int] = deque()  # job ids sent and not yet answered
        self.head_since = 0.0  # when the oldest outstanding job could have started

    def wait_ready(self) -> None:
        if not self.conn.poll(_START_TIMEOUT_S):
            self.stop(kill=True)
            raise WorkerStartError(f"SQL worker did not start within {_START_TIMEOUT_S:g} s")
        try:
            message = self.conn.recv()
        except (EOFError, OSError):
            message = None
        if message != _READY:
            self.process.join(timeout=5)
            raise WorkerStartError(
                f"SQL worker process exited while starting (exit code {self.process.exitcode}). "
                "Workers are started with 'spawn', which re-imports the main script: a script "
                "that creates an SqlExecutor must guard its top level with "
                "`if __name__ == '__main__':`."
            )

    def send(self, job_id: int, db_path: str, sql: str) -> None:
        if not self.outstanding:
            self.head_since = time.monotonic()
        self.conn.send((job_id, db_path, sql))
        self.outstanding.append(job_id)

    def stop(self, kill: bool) -> None:
        if kill:
            self.process.kill()
        else:
            try:
                self.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


class SqlExecutor:
    """Runs untrusted SQL against SQLite databases, sandboxed, optionally in parallel.

    Not thread-safe: use one executor per thread. Use as a context manager (or call `close`) so
    worker processes end with it.
    """

    def __init__(
        self,
        limits: ExecutionLimits | None = None,
        workers: int | None = None,
        cache_capacity: int = 100_000,
    ):
        self.limits = limits or ExecutionLimits()
        self.num_workers = (os.cpu_count() or 1) if workers is None else workers
        if self.num_workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        self._local = ConnectionCache(self.limits)
        self._workers: list[_Worker] = []
        self._context = multiprocessing.get_context("spawn")
        # Results of statements run with cache=True (gold queries), oldest evicted first.
        self._cache: OrderedDict[tuple[str, str], ExecutionResult] = OrderedDict()
        self._cache_capacity = cache_capacity

    def __enter__(self) -> "SqlExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for worker in self._workers:
            worker.stop(kill=bool(worker.outstanding))
        self._workers = []
        self._local.close()

    def execute(self, db_path: str | pathlib.Path, sql: str, cache: bool = False) -> ExecutionResult:
        """Runs one statement; see `execute_many`."""
        return self.execute_many([(db_path, sql)], cache=cache)[0]

    def execute_many(
        self,
        jobs: Sequence[Job],
        cache: bool = False,
        on_result: Callable[[int, ExecutionResult], None] | None = None,
    ) -> list[ExecutionResult]:
        """Runs each (db_path, sql) job and returns the results in job order.

        A missing database file raises DatabaseNotFoundError before anything runs. With
        cache=True, results are remembered by (database, SQL) and reused: use it for gold
        queries, which are executed again and again, never for sampled SQL. `on_result(i, r)` is
        called as results arrive (for progress bars).
        """
        keys = [(os.path.abspath(db), sql) for db, sql in jobs]
        for db in sorted({db for db, _ in keys}):
            if not pathlib.Path(db).is_file():
                raise DatabaseNotFoundError(f"database file not found: {db}")
        results: list[ExecutionResult | None] = [None] * len(keys)
        todo = []
        for i, key in enumerate(keys):
            if cache and key in self._cache:
                self._cache.move_to_end(key)
                results[i] = self._cache[key]
                if on_result:
                    on_result(i, results[i])
            else:
                todo.append(i)

        def done(i: int, result: ExecutionResult) -> None:
            results[i] = result
            if cache and result.error_kind not in _TRANSIENT:
                self._remember(keys[i], result)
            if on_result:
                on_result(i, result)

        if self.num_workers == 0:
            for i in todo:
                done(i, self._local.get(keys[i][0]).run(keys[i][1]))
        else:
            self._run_pooled([(i, keys[i]) for i in todo], done)
        return results  # type: ignore[return-value]

    def _remember(self, key: tuple[str, str], result: ExecutionResult) -> None:
        self._cache[key] = result
        if len(self._cache) > self._cache_capacity:
            self._cache.popitem(last=False)

    def _start_workers(self) -> None:
        new = [_Worker(self._context, self.limits) for _ in range(self.num_workers - len(self._workers))]
        self._workers.extend(new)
        for worker in new:  # started together, waited for together: spawn takes ~0.3 s each
            worker.wait_ready()

    def _replace(self, worker: _Worker) -> None:
        worker.stop(kill=True)
        fresh = _Worker(self._context, self.limits)
        self._workers[self._workers.index(worker)] = fresh
        fresh.wait_ready()

    def _run_pooled(
        self,
        jobs: list[tuple[int, tuple[str, str]]],
        done: Callable[[int, ExecutionResult], None],
    ) -> None:
        self._start_workers()
        pending = deque(jobs)
        key_of = dict(jobs)
        grace = self.limits.timeout_s + KILL_GRACE_S
        while pending or any(w.outstanding for w in self._workers):
            for index in range(len(self._workers)):
                worker = self._workers[index]
                while pending and len(worker.outstanding) < _PREFETCH:
                    job_id, (db_path, sql) = pending[0]
                    try:
                        worker.send(job_id, db_path, sql)
                    except (BrokenPipeError, ConnectionResetError):
                        # The worker died between jobs; if it was running one, that one failed.
                        if worker.outstanding:
                            self._fail_head(
                                worker, pending, key_of, done, ErrorKind.CRASHED,
                                f"worker process died (exit code {worker.process.exitcode})",
                            )
                        else:
                            self._replace(worker)
                        break
                    pending.popleft()
            busy = [w for w in self._workers if w.outstanding]
            if not busy:
                continue  # a dead worker was just replaced; hand it the pending jobs
            wait_s = max(0.0, min(w.head_since for w in busy) + grace - time.monotonic())
            ready = multiprocessing.connection.wait([w.conn for w in busy], timeout=wait_s)
            for worker in busy:
                head = worker.outstanding[0]
                if worker.conn in ready:
                    try:
                        job_id, result = worker.conn.recv()
                    except (EOFError, OSError):
                        # The worker died mid-statement (a crash inside SQLite, or killed by the
                        # OS for memory): that statement failed, the rest are run again.
                        self._fail_head(
                            worker, pending, key_of, done, ErrorKind.CRASHED,
                            f"worker process died (exit code {worker.process.exitcode})",
                        )
                        continue
                    assert job_id == head, "worker answered out of order"
                    worker.outstanding.popleft()
                    worker.head_since = time.monotonic()
                    done(job_id, result)
                elif time.monotonic() >= worker.head_since + grace:
                    # Even the progress handler did not stop it: kill the worker.
                    self._fail_head(
                        worker, pending, key_of, done, ErrorKind.TIMEOUT,
                        f"worker killed {KILL_GRACE_S:g} s after the {self.limits.timeout_s:g} s "
                        f"limit: {key_of[head][1][:80]!r}",
                    )

    def _fail_head(
        self,
        worker: _Worker,
        pending: deque,
        key_of: dict[int, tuple[str, str]],
        done: Callable[[int, ExecutionResult], None],
        kind: ErrorKind,
        message: str,
    ) -> None:
        """Ends a worker whose oldest job failed it; its other jobs go back to the queue."""
        head, *rest = worker.outstanding
        elapsed = time.monotonic() - worker.head_since
        for job_id in reversed(rest):
            pending.appendleft((job_id, key_of[job_id]))
        self._replace(worker)
        done(head, ExecutionResult.failure(kind, message, elapsed))
