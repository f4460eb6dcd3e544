"""Execution accuracy of a prediction file on a Spider-format benchmark.

    python -m spft_jax.evaluate --gold QUESTIONS.json --pred PRED.sql \\
        --tables tables.json --db-dir DIR [--out report.json]

PRED.sql holds one SQL per line, aligned with the questions (an empty line is an empty
prediction). Without --gold/--tables/--db-dir the embedded demo benchmark's dev split is used.
Prints EX by hardness, the outcome taxonomy and the skipped questions; --out writes the same as
JSON, with one entry per question. Exit status 2 on bad input, with a one-line message.
"""

from __future__ import annotations

import argparse
import json
import logging
import pathlib
import sys

from tqdm import tqdm

from spft_jax.cli import run_command
from spft_jax.sql.dataset import load_dataset
from spft_jax.sql.evaluation import evaluate_predictions, read_predictions
from spft_jax.sql.executor import SqlExecutor
from spft_jax.sql.sandbox import ExecutionLimits


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m spft_jax.evaluate",
        description="Execution accuracy (EX) of predicted SQL on a Spider-format benchmark.",
    )
    parser.add_argument("--pred", required=True, help="predictions, one SQL per line")
    parser.add_argument("--gold", help="question file (JSON list with db_id, question, query)")
    parser.add_argument("--tables", help="tables.json describing the databases")
    parser.add_argument("--db-dir", help="folder holding <db_id>/<db_id>.sqlite")
    parser.add_argument("--query-field", default="query", help="gold SQL field (BIRD: SQL)")
    parser.add_argument("--out", help="write the report as JSON here")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per statement")
    parser.add_argument(
        "--workers", type=int, default=None, help="executor processes (default: CPU count)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    given = [name for name in ("gold", "tables", "db_dir") if getattr(args, name)]
    if given and len(given) != 3:
        parser.error("--gold, --tables and --db-dir go together (or none, for the demo)")
    if args.timeout <= 0:
        parser.error(f"--timeout must be positive, got {args.timeout}")
    return args


def run(args: argparse.Namespace) -> None:
    if args.gold:
        dataset = load_dataset(args.gold, args.tables, args.db_dir, query_field=args.query_field)
    else:
        from spft_jax.demo import demo_paths

        paths = demo_paths()
        dataset = load_dataset(paths.dev, paths.tables, paths.db_dir, name="demo dev")
    predictions = read_predictions(args.pred, dataset)
    limits = ExecutionLimits(timeout_s=args.timeout)
    statements = 2 * len(dataset.available)
    with SqlExecutor(limits, workers=args.workers) as executor, tqdm(
        total=statements, desc="executing", unit="stmt", disable=args.quiet, file=sys.stderr
    ) as bar:
        report = evaluate_predictions(dataset, predictions, executor, on_result=bar.update)
    print(report.format_table())
    if args.out:
        out = pathlib.Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
        print(f"\nreport written to {out}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_command(lambda: run(args), logging.INFO)


if __name__ == "__main__":
    sys.exit(main())
