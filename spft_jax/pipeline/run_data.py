"""The pipeline's three sets of questions, from the config's data source.

- train: the seed data (SFT, stage-1 seed and SQL-to-Text pairs, self-play questions);
- validation: held out of the training split, scores every model of the model base (the paper
  picks main and opponent by validation EX; it must never be the evaluation set);
- eval: the evaluation split (Spider dev), scored after every stage, never trained on.
Questions whose database file is missing cannot be executed, so they are left out of train and
validation (and counted); the evaluation set keeps them so its report says how many it skipped.
Subsets are seeded random samples, re-indexed 0..n-1 (prediction files align by position); the
original position stays in `extra["source_index"]`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import random


from spft_jax.data.source import load_examples
from spft_jax.errors import DataError
from spft_jax.pipeline.run_config import RunConfig
from spft_jax.sql.dataset import Dataset, Example

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class PipelineData:
    train: Dataset
    validation: Dataset
    eval: Dataset
    evidence_field: str | None  # BIRD's hint field, passed into prompts
    dropped_missing_database: int  # training questions left out for want of their database

    def summary(self) -> dict:
        return {name: {"name": d.name, "questions": len(d.examples), "hash": dataset_hash(d)}
                for name, d in (("train", self.train), ("validation", self.validation),
                                ("eval", self.eval))} | {
            "dropped_missing_database": self.dropped_missing_database}


def subset(dataset: Dataset, examples: list[Example], name: str) -> Dataset:
    """`examples` as a dataset of their own, re-indexed from 0."""
    reindexed = tuple(
        dataclasses.replace(e, index=i, extra={**e.extra, "source_index": e.extra.get("source_index", e.index)})
        for i, e in enumerate(examples))
    used = {e.db_id for e in reindexed}
    return dataclasses.replace(dataset, name=name, examples=reindexed,
                               missing_db_ids=dataset.missing_db_ids & used)


def dataset_hash(dataset: Dataset) -> str:
    """A short hash of the questions and SQL, to tell data sets apart in metadata."""
    digest = hashlib.sha256()
    for e in dataset.examples:
        digest.update(json.dumps([e.db_id, e.question, e.query]).encode())
    return digest.hexdigest()[:16]


def _sample(examples: list[Example], count: int, seed: int) -> tuple[list[Example], list[Example]]:
    """(a seeded sample of `count` examples in file order, the rest in file order)."""
    if count >= len(examples):
        return list(examples), []
    chosen = set(random.Random(seed).sample(range(len(examples)), count))
    return ([e for i, e in enumerate(examples) if i in chosen],
            [e for i, e in enumerate(examples) if i not in chosen])


def load_pipeline_data(config: RunConfig) -> PipelineData:
    source = config.data.source.source_config()
    from spft_jax.data.catalog import get_spec

    evidence_field = get_spec(source.dataset).evidence_field
    whole_train = load_examples(source, config.data.train_split, 0, 1)
    usable = list(whole_train.available)
    dropped = len(whole_train.examples) - len(usable)
    if dropped:
        log.warning("%d training questions have no database file and are left out", dropped)
    held = config.data.validation_examples
    if held >= len(usable):
        raise DataError(f"config.data.validation_examples: {held} is not fewer than the "
                        f"{len(usable)} usable training questions")
    validation, rest = _sample(usable, held, config.seed)
    if config.data.max_train_examples:
        rest, _ = _sample(rest, config.data.max_train_examples, config.seed + 1)
    if not rest:
        raise DataError("no training questions left after holding out the validation set")
    whole_eval = load_examples(source, config.data.eval_split, 0, 1)
    evaluation = list(whole_eval.examples)
    if config.data.max_eval_examples:
        evaluation, _ = _sample(evaluation, config.data.max_eval_examples, config.seed + 2)
    base = source.dataset
    # Spider calls its validation split "dev"; "validation" here means the held-out questions.
    label = {"validation": "dev"}
    train_name = f"{base}/{label.get(config.data.train_split, config.data.train_split)}"
    return PipelineData(
        train=subset(whole_train, rest, train_name),
        validation=subset(whole_train, validation, f"{train_name} (held out)"),
        eval=subset(whole_eval, evaluation,
                    f"{base}/{label.get(config.data.eval_split, config.data.eval_split)}"),
        evidence_field=evidence_field,
        dropped_missing_database=dropped,
    )
