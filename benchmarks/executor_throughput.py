"""Executor throughput on Spider dev: our sandboxed executor vs a plain sequential sqlite3 loop.

    python benchmarks/executor_throughput.py [--spider-dir ../shared/data/spider] [--repeats 3]

Two workloads over the dev questions whose database is present:
- gold: every gold query;
- predictions: what a model's output looks like to the executor, built deterministically from
  the gold queries: 60% the question's own gold SQL, 25% the gold SQL of another question on the
  same database (runs, wrong answer), 15% a gold query cut short (mostly syntax errors).
Contenders, all running exactly the same statements and fetching every row:
- `sqlite3, connect per query`: the plain loop Spider's evaluation script uses (the baseline);
- `sqlite3, cached connections`: the same loop with one connection per database;
- `SqlExecutor, in-process`: our sandbox (gate, authorizer, deadline, row cap), no workers;
- `SqlExecutor, N workers`: our sandbox in the killable worker pool (worker start-up excluded,
  reported separately).
Reports queries/s (best of --repeats) and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import random
import sqlite3
import sys
import time
from collections import Counter

from spft_jax.sql.dataset import load_dataset
from spft_jax.sql.executor import SqlExecutor

REPO = pathlib.Path(__file__).resolve().parents[1]


def prediction_workload(examples, seed: int = 0) -> tuple[list[str], dict[str, int]]:
    rng = random.Random(seed)
    by_db: dict[str, list[str]] = {}
    for e in examples:
        by_db.setdefault(e.db_id, []).append(e.query)
    predictions, mix = [], {"own gold": 0, "other question's gold": 0, "cut short": 0}
    for e in examples:
        draw = rng.random()
        if draw < 0.60:
            predictions.append(e.query)
            mix["own gold"] += 1
        elif draw < 0.85:
            predictions.append(rng.choice(by_db[e.db_id]))
            mix["other question's gold"] += 1
        else:
            words = e.query.split()
            predictions.append(" ".join(words[: rng.randint(1, max(1, len(words) - 1))]))
            mix["cut short"] += 1
    return predictions, mix


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def sqlite_connect_per_query(jobs) -> None:
    for path, sql in jobs:
        conn = sqlite3.connect(path)
        conn.text_factory = _decode
        try:
            conn.execute(sql).fetchall()
        except sqlite3.Error:
            pass
        conn.close()


def sqlite_cached_connections(jobs) -> None:
    connections = {}
    for path, sql in jobs:
        conn = connections.get(path)
        if conn is None:
            conn = connections[path] = sqlite3.connect(path)
            conn.text_factory = _decode
        try:
            conn.execute(sql).fetchall()
        except sqlite3.Error:
            pass
    for conn in connections.values():
        conn.close()


def best_time(run, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spider-dir", default=str(REPO.parent / "shared" / "data" / "spider"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--out", help="also write the results as JSON here")
    args = parser.parse_args()
    spider = pathlib.Path(args.spider_dir)
    dev = load_dataset(spider / "dev.json", spider / "tables.json", spider / "database")
    examples = dev.available
    predictions, mix = prediction_workload(examples)
    workloads = {
        "gold": [(str(dev.db_path(e.db_id)), e.query) for e in examples],
        "predictions": [(str(dev.db_path(e.db_id)), p) for e, p in zip(examples, predictions)],
    }
    in_process = SqlExecutor(workers=0)
    pooled = SqlExecutor(workers=args.workers)
    start = time.perf_counter()
    pooled.execute_many(workloads["gold"][:1])  # start the workers outside the timings
    startup_s = time.perf_counter() - start

    contenders = {
        "sqlite3, connect per query (baseline)": sqlite_connect_per_query,
        "sqlite3, cached connections": sqlite_cached_connections,
        "SqlExecutor, in-process": in_process.execute_many,
        f"SqlExecutor, {args.workers} workers": pooled.execute_many,
    }
    results = {}
    for workload, jobs in workloads.items():
        for name, run in contenders.items():
            seconds = best_time(lambda: run(jobs), args.repeats)
            results.setdefault(workload, {})[name] = len(jobs) / seconds
    outcomes = Counter(
        r.error_kind.value if r.error_kind else "ok"
        for r in in_process.execute_many(workloads["predictions"])
    )
    in_process.close()
    pooled.close()

    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    print(f"# Executor throughput on Spider dev ({len(examples)} questions)\n")
    print(f"machine: {machine}; date: {time.strftime('%Y-%m-%d')}")
    print(f"prediction mix: {mix}")
    print(f"prediction outcomes in our executor: {dict(outcomes)}")
    print(f"worker start-up: {startup_s:.2f} s (not in the timings)\n")
    print("| workload | contender | queries/s | vs baseline |")
    print("|---|---|---:|---:|")
    for workload, row in results.items():
        baseline = row["sqlite3, connect per query (baseline)"]
        for name, qps in row.items():
            print(f"| {workload} | {name} | {qps:,.0f} | {qps / baseline:.2f}x |")
    if args.out:
        pathlib.Path(args.out).write_text(
            json.dumps(
                {"machine": machine, "mix": mix, "outcomes": outcomes, "startup_s": startup_s,
                 "qps": results},
                indent=2,
            )
        )


if __name__ == "__main__":
    sys.exit(main())
