"""The presets `configs/*.py` start from.

    base_config()         every field at its default (spft_jax/pipeline/run_config.py declares
                          each field once, with its default and what it means)
    apply_paper_scale(c)  the settings configs/spider.py and configs/bird.py share

Any field can be overridden on the command line (`--config.selfplay.loss=spin`). The config is
locked, so a misspelt field is an error rather than a silently ignored setting, and every value
is checked before any heavy work starts (run_config.RunConfig.from_configdict, validate.py).
"""

from __future__ import annotations

from ml_collections import ConfigDict

from spft_jax.pipeline.run_config import TrainingSection, base_config

__all__ = ["apply_paper_scale", "base_config", "training_section"]


def training_section(**changes) -> ConfigDict:
    """One fine-tuning section at its defaults (with `changes`), as a ConfigDict."""
    section = ConfigDict(TrainingSection().to_dict())
    section.update(changes)
    return section


def apply_paper_scale(config: ConfigDict) -> ConfigDict:
    """The settings configs/spider.py and configs/bird.py share: the paper's where it states them
    (LoRA fine-tuning, about 3,000 synthesized pairs per round, five stage-1 rounds in its cost
    study, the error-driven loss) and SPIN's where SPFT-SQL builds on it (RMSProp, lam = 0.1, 10%
    warmup, 2 epochs per self-play iteration, batch 64). Learning rates, LoRA rank and SFT epochs
    are not given in the paper: the values here are common choices for LoRA on 1.5B-7B models."""
    config.model.dtype = "bfloat16"
    config.model.param_dtype = "float32"  # fp32 master weights, bf16 compute
    config.model.remat = "dots_saveable"
    config.lora.rank = 32
    config.lora.alpha = 64.0
    config.sampling.max_new_tokens = 256
    config.sampling.max_batch_rows = 256
    config.execution.workers = 8
    for section in (config.sft, config.stage1.train, config.stage1.sql2text, config.selfplay.train):
        section.batch_size = 64
        section.max_length = 2048
        section.bucket_multiple = 128
        section.checkpoint_every = 200
    config.sft.epochs = 2
    config.sft.learning_rate = 2e-4
    config.stage1.rounds = 5
    config.stage1.queries_per_round = 3000
    config.stage1.train.epochs = 2
    config.stage1.train.learning_rate = 2e-4
    config.stage1.sql2text.epochs = 2
    config.stage1.sql2text.learning_rate = 2e-4
    config.selfplay.loss = "error_driven"
    config.selfplay.lam = 0.1
    config.selfplay.iterations = 3
    config.selfplay.samples_per_question = 1
    config.selfplay.temperature = 0.8
    config.selfplay.train.optimizer = "rmsprop"
    config.selfplay.train.learning_rate = 5e-6  # SPIN: 5e-7 for full fine-tuning; LoRA takes more
    config.selfplay.train.warmup_ratio = 0.1
    config.selfplay.train.epochs = 2
    return config
