"""Scoring models by execution accuracy: greedy, and by self-consistency.

Self-consistency samples N SQL per question and keeps the one whose execution result most of the
samples share (failed samples do not vote; a tie goes to the earliest sample; when every sample
fails, the first is kept so the report shows its error).
"""

from __future__ import annotations

import collections
from collections.abc import Sequence

from flax import nnx

from spft_jax.pipeline.workdir import write_json, write_text_atomic
from spft_jax.sql.dataset import Dataset
from spft_jax.sql.evaluation import EvaluationReport, evaluate_predictions, predictions_text
from spft_jax.sql.executor import SqlExecutor


def result_key(rows: Sequence[tuple]) -> tuple:
    """What two results share when they are the same multiset of rows."""
    return tuple(sorted((repr(row) for row in rows)))


def majority_vote(executor: SqlExecutor, dataset: Dataset, samples: Sequence[Sequence[str]]) -> list[str]:
    """One SQL per question from its samples, by the most common execution result."""
    jobs = [(dataset.db_path(e.db_id), sql) for e, options in zip(dataset.examples, samples)
            if dataset.has_database(e) for sql in options]
    results = iter(executor.execute_many(jobs))
    chosen = []
    for example, options in zip(dataset.examples, samples):
        if not dataset.has_database(example):
            chosen.append(options[0])
            continue
        outcomes = [next(results) for _ in options]
        votes = collections.Counter(result_key(r.rows) for r in outcomes if r.ok)
        if not votes:
            chosen.append(options[0])
            continue
        best = max(votes.values())
        chosen.append(next(sql for sql, r in zip(options, outcomes)
                           if r.ok and votes[result_key(r.rows)] == best))
    return chosen


def summary(report: EvaluationReport) -> dict:
    """The headline numbers of a report: EX overall and by hardness, counts, skipped."""
    full = report.to_dict(per_question=False)
    return {"execution_accuracy": full["execution_accuracy"],
            "by_hardness": {level: row["execution_accuracy"] for level, row in full["by_hardness"].items()},
            "evaluated": full["evaluated"], "questions": full["questions"],
            "skipped_missing_database": full["skipped"]["missing_database"]["count"],
            "skipped_gold_failed": full["skipped"]["gold_failed"]["count"]}


def score_model(context, trainable: nnx.State | None, dataset: Dataset, name: str | None = None,
                self_consistency: int = 0, seed: int = 0) -> dict:
    """EX of a model on `dataset` (greedy, and by majority vote when self_consistency > 1).

    With `name`, the reports and Spider-format prediction files go to eval/<name>[_sc].{json,sql}.
    Returns {"greedy": summary, "self_consistency": summary or None}.
    """
    generator = context.generator
    label = name or dataset.name
    greedy = [s[0] for s in generator.text_to_sql(
        trainable, dataset, dataset.examples, generator.sql_params(),
        context.data.evidence_field, description=f"{label}: greedy SQL")]
    report = evaluate_predictions(dataset, greedy, context.executor)
    result = {"greedy": summary(report), "self_consistency": None}
    if name is not None:
        write_text_atomic(context.workdir.eval_path(name, ".sql"), predictions_text(greedy))
        write_json(context.workdir.eval_path(name), report.to_dict())
    if self_consistency > 1:
        params = generator.sql_params(n=self_consistency, temperature=context.config.eval.temperature,
                                      top_p=context.config.eval.top_p, seed=seed)
        samples = generator.text_to_sql(trainable, dataset, dataset.examples, params,
                                        context.data.evidence_field,
                                        description=f"{label}: {self_consistency} samples")
        voted = majority_vote(context.executor, dataset, samples)
        voted_report = evaluate_predictions(dataset, voted, context.executor)
        result["self_consistency"] = summary(voted_report) | {"samples": self_consistency}
        if name is not None:
            write_text_atomic(context.workdir.eval_path(f"{name}_sc", ".sql"), predictions_text(voted))
            write_json(context.workdir.eval_path(f"{name}_sc"), voted_report.to_dict())
    return result
