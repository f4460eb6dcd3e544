"""One fine-tuning run of the pipeline: examples + a config section in, a trainable state out.

Each run has its own folder `runs/<name>/` (Orbax checkpoints, metrics.jsonl, TensorBoard), so a
run killed halfway resumes from its last checkpoint when the pipeline is rerun, and ends with the
parameters an uninterrupted run would have (see spft_jax.train.trainer).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

from flax import nnx

from spft_jax.errors import DataError
from spft_jax.parallel.rules import data_parallel_size
from spft_jax.pipeline.run_config import TrainingSection
from spft_jax.train.batches import BatchConfig, Batcher, PairExample, SftExample
from spft_jax.train.step import LossSpec
from spft_jax.train.trainer import Trainer

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class FinetuneResult:
    trainable: nnx.State
    steps: int
    examples: int
    final_metrics: dict[str, float]
    truncated: int  # examples whose prompt was cut to fit max_length


def batch_config(section: TrainingSection, pad_id: int, examples: int, mesh=None) -> BatchConfig:
    """The section's batch settings; a set smaller than one batch trains in one smaller batch
    (stage 1 may verify only a handful of pairs) rather than failing. On a mesh, the shared
    layout's prefix groups are padded to a multiple of the data-parallel shards."""
    batch_size = section.batch_size
    if examples < batch_size * section.micro_batches:
        batch_size = max(1, examples // section.micro_batches)
        log.warning("only %d examples: batch size %d instead of %d", examples, batch_size,
                    section.batch_size)
    return section.batch_config(pad_id, batch_size=batch_size,
                                group_multiple=data_parallel_size(mesh))


def finetune(context, run: str, init: nnx.State | None,
             examples: Sequence[SftExample] | Sequence[PairExample], section: TrainingSection,
             loss: LossSpec, seed: int) -> FinetuneResult:
    """Trains the model `init` (None: the base model) on `examples` in runs/<run>/."""
    if not examples:
        raise DataError(f"run {run!r}: no training examples")
    factory = context.factory
    batches = batch_config(section, factory.tokenizer.pad_id, len(examples), factory.mesh)
    batcher = Batcher(examples, batches, seed=seed)
    steps = section.max_steps or section.epochs * batcher.batches_per_epoch
    trainer_config = section.trainer_config(seed, context.progress)
    log.info("run %s: %d examples, %d steps of %d x %d", run, len(examples), steps,
             batches.batch_size, batches.micro_batches)
    trainer = Trainer(factory.model(init), batcher, loss, section.optimizer_config(steps),
                      trainer_config, workdir=context.workdir.run_dir(run), mesh=factory.mesh,
                      lora=factory.lora)
    result = trainer.run()
    return FinetuneResult(result.trainable, result.step, len(examples), result.metrics,
                          batcher.truncated)


def sft_examples(prompts, dataset, examples, evidence_field=None) -> list[SftExample]:
    """Text-to-SQL SFT examples (prompt ids, gold SQL ids + end of turn)."""
    from spft_jax.data.prompts import example_evidence

    return [SftExample(prompts.text_to_sql(dataset, e.db_id, e.question,
                                           example_evidence(e, evidence_field)),
                       prompts.completion(e.query), e.db_id) for e in examples]
