"""Scoring models by execution accuracy, and what every stage shares to do it.

    score_model            EX of a model on a dataset: greedy, and by self-consistency
    evaluate_on_eval_set   score_model on the evaluation set, reports in eval/<name>[_sc].json
    validation_ex          EX on the held-out validation set (ranks the model base)
    register               a trained model scored on the validation set and added to the base
"""

from __future__ import annotations

import logging

from flax import nnx

from spft_jax.pipeline.model_base import ModelEntry
from spft_jax.pipeline.workdir import write_json, write_text_atomic
from spft_jax.sql.dataset import Dataset
from spft_jax.sql.evaluation import evaluate_predictions, predictions_text, report_summary
from spft_jax.sql.voting import majority_vote

log = logging.getLogger(__name__)


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
    result = {"greedy": report_summary(report), "self_consistency": None}
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
        result["self_consistency"] = report_summary(voted_report) | {"samples": self_consistency}
        if name is not None:
            write_text_atomic(context.workdir.eval_path(f"{name}_sc", ".sql"), predictions_text(voted))
            write_json(context.workdir.eval_path(f"{name}_sc"), voted_report.to_dict())
    return result


def validation_ex(context, trainable: nnx.State | None) -> float:
    score = score_model(context, trainable, context.data.validation)
    return score["greedy"]["execution_accuracy"] or 0.0


def register(context, name: str, kind: str, trainable: nnx.State, info: dict) -> ModelEntry:
    """Scores `trainable` on the validation set and adds it to the model base."""
    ex = validation_ex(context, trainable)
    entry = context.model_base.add(name, kind, trainable, ex, info)
    log.info("model base: %s joined with validation EX %.3f", name, ex)
    return entry


def evaluate_on_eval_set(context, name: str, trainable: nnx.State | None) -> dict:
    """EX on the evaluation set; reports in eval/<name>.json (+ _sc with self-consistency)."""
    result = score_model(context, trainable, context.data.eval, name=name,
                         self_consistency=context.config.eval.self_consistency,
                         seed=context.config.seed)
    log.info("%s: EX %s on %s", name, _percent(result["greedy"]["execution_accuracy"]),
             context.data.eval.name)
    return result


def _percent(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"
