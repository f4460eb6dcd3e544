"""Stage 1 synthesis on Spider train: templates from the gold SQL, filled on the train databases.

    python benchmarks/synthesis_report.py [--spider-dir ../shared/data/spider] [--count 2000]

Seeds: every gold query of train_spider + train_others. Target databases: the train databases
whose file is present. Both contenders draw the same databases and templates from the same seed
and keep `--count` queries that run without error and return at least one row:
- `fk_graph` (ours): key links bound to declared foreign keys, unlinked tables bound close in
  the foreign-key graph and joined along shortest foreign-key paths;
- `uniform` (the named alternative): uniform random binding of tables and columns of the slot
  types, join keys on random same-typed columns, no foreign-key graph.
Reports the template extraction (distinct templates, failures by reason), per contender the
attempts, the executable and non-empty rates of the executed candidates (before the non-empty
filter), kept queries and queries per second, the discard reasons, and the Spider hardness mix
of the seeds beside that of the kept queries. A second run per contender without the non-empty
filter splits the non-empty rate into candidates with and without a JOIN (the candidates are the
same: what is drawn never depends on execution results). An untimed warm-up run first reads
the database files once, so that the timings do not depend on which contender runs first.
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
from operator import attrgetter as by

from spft_jax.sql.database_content import target_databases
from spft_jax.sql.dataset import load_questions
from spft_jax.sql.executor import SqlExecutor
from spft_jax.sql.hardness import HARDNESS_LEVELS, UnparseableSqlError, sql_hardness
from spft_jax.sql.sandbox import ExecutionLimits
from spft_jax.sql.schema import load_schemas
from spft_jax.synthesis.synthesize import SynthesisStats, synthesize
from spft_jax.synthesis.templates import build_templates

REPO = pathlib.Path(__file__).resolve().parents[1]
CONTENDERS = {"fk_graph": "fk_graph (ours)", "uniform": "uniform binding (naive)"}


def percent_mix(counts: Counter) -> str:
    total = sum(counts[level] for level in HARDNESS_LEVELS) or 1
    return " / ".join(f"{100 * counts[level] / total:.1f}" for level in HARDNESS_LEVELS)


def kept_per_attempt(stats: SynthesisStats) -> float:
    return stats.kept / max(stats.attempts, 1)


def join_split(queries) -> dict[str, tuple[int, int]]:
    """(non-empty, executable) among the candidates with and without a JOIN."""
    split = {"with a JOIN": [0, 0], "without a JOIN": [0, 0]}
    for query in queries:
        counts = split["with a JOIN" if " JOIN " in query.sql else "without a JOIN"]
        counts[0] += query.rows > 0
        counts[1] += 1
    return {k: (v[0], v[1]) for k, v in split.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spider-dir", default=str(REPO.parent / "shared" / "data" / "spider"))
    parser.add_argument("--count", type=int, default=2000, help="queries to keep per contender")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=0, help="executor workers (0: in-process)")
    parser.add_argument("--timeout", type=float, default=2.0, help="per-statement limit, seconds")
    parser.add_argument("--out", help="also write the results as JSON here")
    args = parser.parse_args()
    spider = pathlib.Path(args.spider_dir)
    seeds = load_questions(spider / "train_spider.reconstructed.json") + load_questions(
        spider / "train_others.reconstructed.json"
    )
    schemas = load_schemas(spider / "tables.json")
    start = time.perf_counter()
    bank = build_templates(seeds, schemas)
    extract_s = time.perf_counter() - start
    databases, missing = target_databases(schemas, spider / "database", {s.db_id for s in seeds})

    templated = sorted(i for indices in bank.seed_indices.values() for i in indices)
    seed_hardness: Counter = Counter()
    for i in templated:
        try:
            seed_hardness[sql_hardness(seeds[i].query)] += 1
        except UnparseableSqlError:
            seed_hardness["unparseable"] += 1

    results, unfiltered = {}, {}
    with SqlExecutor(ExecutionLimits(timeout_s=args.timeout), workers=args.workers) as executor:
        # Untimed warm-up: start the workers and bring the database files into the OS cache, so
        # that the contender running first is not the one that pays for cold reads.
        synthesize(bank, databases, args.count // 4, executor, random.Random(args.seed + 1))
        for binder in CONTENDERS:
            results[binder] = synthesize(
                bank, databases, args.count, executor, random.Random(args.seed), binder=binder
            )
            unfiltered[binder] = synthesize(
                bank, databases, args.count, executor, random.Random(args.seed), binder=binder,
                require_rows=False,
            )

    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}"
    )
    print(f"# Stage 1 synthesis on Spider train ({len(databases)} databases)\n")
    print(f"machine: {machine}; date: {time.strftime('%Y-%m-%d')}")
    print(
        f"seed {args.seed}, {args.count} kept per contender, executor: "
        f"{args.workers or 'in-process, no'} workers, {args.timeout:g} s limit"
    )
    print(f"databases without a file (skipped): {', '.join(missing) or 'none'}\n")

    print("| templates | |\n|---|---:|")
    print(f"| seed queries | {len(seeds)} |")
    print(f"| templated | {len(templated)} ({100 * len(templated) / len(seeds):.1f}%) |")
    print(f"| distinct templates | {len(bank.templates)} |")
    for reason, n in bank.failure_counts().most_common():
        print(f"| failed: {reason} | {n} |")
    print(f"| extraction speed | {len(seeds) / extract_s:,.0f} seeds/s |\n")

    ours, naive = (results[b].stats for b in CONTENDERS)
    rows = [  # (name, cell text, value compared as ours / naive)
        ("fill attempts", lambda s: f"{s.attempts}", None),
        ("filled candidates", lambda s: f"{s.candidates}", None),
        ("executed (distinct)", lambda s: f"{s.executed}", None),
        ("executable rate", lambda s: f"{100 * s.executable_rate:.1f}%", by("executable_rate")),
        ("non-empty rate", lambda s: f"{100 * s.nonempty_rate:.1f}%", by("nonempty_rate")),
        ("kept", lambda s: f"{s.kept}", None),
        ("kept per attempt", lambda s: f"{kept_per_attempt(s):.3f}", kept_per_attempt),
        ("queries/s (kept)", lambda s: f"{s.queries_per_second:,.0f}", by("queries_per_second")),
    ]
    print(f"| synthesis | {' | '.join(CONTENDERS.values())} | ours / naive |")
    print("|---|---:|---:|---:|")
    for name, show, value in rows:
        ratio = f"{value(ours) / max(value(naive), 1e-9):.2f}x" if value else ""
        print(f"| {name} | {show(ours)} | {show(naive)} | {ratio} |")
    for reason in sorted(set(ours.discarded) | set(naive.discarded)):
        counts = [results[b].stats.discarded.get(reason, 0) for b in CONTENDERS]
        print(f"| discarded: {reason} | {counts[0]} | {counts[1]} | |")
    splits = {b: join_split(unfiltered[b].queries) for b in CONTENDERS}
    for part in ("with a JOIN", "without a JOIN"):
        cells, rates = [], []
        for binder in CONTENDERS:
            nonempty, executable = splits[binder][part]
            rates.append(nonempty / max(executable, 1))
            cells.append(f"{100 * rates[-1]:.1f}% of {executable}")
        ratio = rates[0] / max(rates[1], 1e-9)
        print(f"| non-empty, candidates {part} | {cells[0]} | {cells[1]} | {ratio:.2f}x |")
    used = [
        f"{len({q.template_id for q in results[b].queries})} / "
        f"{len({q.db_id for q in results[b].queries})}"
        for b in CONTENDERS
    ]
    print(f"| templates / databases used | {used[0]} | {used[1]} | |\n")

    print(f"| hardness mix (% {' / '.join(HARDNESS_LEVELS)}) | |\n|---|---|")
    print(f"| seed queries (templated) | {percent_mix(seed_hardness)} |")
    for binder, label in CONTENDERS.items():
        print(f"| synthesized, {label} | {percent_mix(Counter(results[binder].stats.hardness))} |")

    print("\nexamples (fk_graph):")
    for query in results["fk_graph"].queries[:6]:
        print(f"  [{query.db_id}, {query.hardness}] {query.sql}")
    if args.out:
        pathlib.Path(args.out).write_text(
            json.dumps(
                {
                    "machine": machine,
                    "seeds": len(seeds),
                    "templates": len(bank.templates),
                    "failures": bank.failure_counts(),
                    "seed_hardness": seed_hardness,
                    "stats": {b: results[b].stats.to_dict() for b in CONTENDERS},
                    "join_split": splits,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    sys.exit(main())
