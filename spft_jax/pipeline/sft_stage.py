"""The first two stages: the base model's EX, and supervised fine-tuning on the seed data."""

from __future__ import annotations

from spft_jax.pipeline.finetune import finetune, sft_examples
from spft_jax.pipeline.results import BaseEvalResult, SftResult
from spft_jax.pipeline.scoring import evaluate_on_eval_set, register
from spft_jax.train.step import LossSpec


class BaseEvalStage:
    """EX of the base LLM on the evaluation set (the table's first row)."""

    name = "base_eval"

    def run(self, context) -> BaseEvalResult:
        return BaseEvalResult(eval=evaluate_on_eval_set(context, "base", None))


class SftStage:
    """The base LLM fine-tuned on the training questions; joins the model base as `sft`. A
    rerun after a kill resumes the training run from its checkpoint (runs/sft/), or, once the
    model is in the base, only scores it."""

    name = "sft"

    def run(self, context) -> SftResult:
        config, data = context.config, context.data
        entry = context.model_base.get("sft")
        if entry is None:
            examples = sft_examples(context.prompts, data.train, data.train.examples,
                                    data.evidence_field)
            result = finetune(context, "sft", None, examples, config.sft, LossSpec("sft"),
                              config.seed)
            info = {"train": {"questions": len(examples), "hash": data.summary()["train"]["hash"],
                              "truncated": result.truncated},
                    "steps": result.steps, "final_metrics": result.final_metrics,
                    "config": config.sft.to_dict()}
            entry = register(context, "sft", "sft", result.trainable, info)
            trainable = result.trainable
        else:
            trainable = context.model_base.load("sft")
        return SftResult(validation_ex=entry.validation_ex,
                         eval=evaluate_on_eval_set(context, "sft", trainable))
