"""The first two stages: the base model's EX, and supervised fine-tuning on the seed data.

Both also hold what the later stages share: registering a trained model in the model base (its
validation EX decides its rank there) and scoring a model on the evaluation set.
"""

from __future__ import annotations

import logging

from flax import nnx

from spft_jax.pipeline.finetune import finetune, sft_examples
from spft_jax.pipeline.model_base import ModelEntry
from spft_jax.pipeline.scoring import score_model
from spft_jax.train.step import LossSpec

log = logging.getLogger(__name__)


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


def run_base_eval(context) -> dict:
    done = context.workdir.finished("base_eval")
    if done is not None:
        return done
    results = {"eval": evaluate_on_eval_set(context, "base", None)}
    context.workdir.mark_finished("base_eval", results)
    return results


def run_sft(context) -> dict:
    done = context.workdir.finished("sft")
    if done is not None:
        return done
    config, data = context.config, context.data
    entry = context.model_base.get("sft")
    if entry is None:
        examples = sft_examples(context.prompts, data.train, data.train.examples, data.evidence_field)
        result = finetune(context, "sft", None, examples, config.sft, LossSpec("sft"), config.seed)
        info = {"train": {"questions": len(examples), "hash": data.summary()["train"]["hash"],
                          "truncated": result.truncated},
                "steps": result.steps, "final_metrics": result.final_metrics,
                "config": config.sft.to_dict()}
        entry = register(context, "sft", "sft", result.trainable, info)
        trainable = result.trainable
    else:
        trainable = context.model_base.load("sft")
    results = {"validation_ex": entry.validation_ex,
               "eval": evaluate_on_eval_set(context, "sft", trainable)}
    context.workdir.mark_finished("sft", results)
    return results
