"""The pipeline's configuration, typed: one frozen dataclass per section, built once per run.

`configs/*.py` start from `base_config()` (the ConfigDict these dataclasses describe) and change
what their experiment needs; the command line can override any field
(`--config.selfplay.loss=spin`). `RunConfig.from_configdict` turns the result into the typed
config the stages read, and every single-field rule (types, ranges, names) is checked there, with
an error naming the field's path. What involves several fields or the machine (the stage order,
folders that must exist, the mesh against the devices) is checked in `validate.py`.

Each field is declared once, here, with its default and what it means. Where a lower layer owns a
setting (the batcher's `BatchConfig`, the optimizer's `OptimizerConfig`, the trainer's
`TrainerConfig`, the prompt's `PromptConfig`, the data source's `DataSourceConfig`), the field's
default is read from that dataclass rather than written again, so the two cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import math

from ml_collections import ConfigDict

from spft_jax.config_schema import (NON_NEGATIVE, NON_NEGATIVE_INT, OPEN_UNIT_INTERVAL,
                                    POSITIVE, POSITIVE_INT, UNIT_INTERVAL, Section, build,
                                    default_of, field, one_of, sequence_of)
from spft_jax.data.prompts import PromptConfig
from spft_jax.data.source import DataSourceConfig
from spft_jax.models.config import DTYPES, REMAT_POLICIES
from spft_jax.train.batches import BatchConfig
from spft_jax.train import objectives
from spft_jax.train.grpo import NORMALIZATIONS
from spft_jax.train.optimizer import OPTIMIZERS, SCHEDULES, OptimizerConfig
from spft_jax.train.trainer import TrainerConfig

# Every stage, in the order --mode=pipeline runs the configured ones; the paper's four by default,
# GRPO (the RL baseline) when a config lists it.
STAGES = ("base_eval", "sft", "stage1", "selfplay", "grpo")
DEFAULT_STAGES = ("base_eval", "sft", "stage1", "selfplay")
# Modes of `python -m spft_jax.main` (see pipeline/runner.py): the pipeline, each stage alone,
# and the modes that use a finished model.
MODES = ("pipeline", "sft", "stage1", "selfplay", "grpo", "evaluate", "predict", "export",
         "check_export")
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
CACHE_DTYPES = ("", "float32", "bfloat16", "float16")
# Looked up when checked, so an objective registered after this import is accepted too.
PAIRWISE_OBJECTIVE = (lambda v: v in objectives.pairwise_names(),
                      f"must be one of the pairwise objectives {objectives.pairwise_names()}")


# -- the sections --------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class SourceSection(Section):
    """Where the questions come from (spft_jax.data.source): dataset one of spider, spider_syn,
    spider_realistic, spider_dk, bird, demo; format "raw" (question files in manual_dir) or
    "tfds" (a data_dir written by python -m spft_jax.data.prepare). "" means unset."""
    dataset: str = field(default_of(DataSourceConfig, "dataset"))
    format: str = field(default_of(DataSourceConfig, "format"))
    manual_dir: str = field("")
    data_dir: str = field("")

    def __post_init__(self):
        self.source_config()  # the data source's own checks (a known dataset, a format)

    def source_config(self) -> DataSourceConfig:
        return DataSourceConfig.from_mapping(self.to_dict())


@dataclasses.dataclass(frozen=True)
class DataSection(Section):
    source: SourceSection = field(factory=SourceSection)
    train_split: str = field("train", one_of(("train", "validation")))  # seed data and questions
    eval_split: str = field("validation", one_of(("train", "validation")))  # never trained on
    validation_examples: int = field(32, NON_NEGATIVE_INT)  # held out of train: ranks the base
    max_train_examples: int = field(0, NON_NEGATIVE_INT)  # the first N training examples (0: all)
    max_eval_examples: int = field(0, NON_NEGATIVE_INT)  # the first N evaluation questions (0: all)


@dataclasses.dataclass(frozen=True)
class ModelSection(Section):
    name: str = field("smollm2-135m-instruct", (bool, "must name a model"))  # HF dir, .gguf, preset
    dtype: str = field("float32", one_of(DTYPES))  # compute dtype ("bfloat16" on accelerators)
    param_dtype: str = field("float32", one_of(DTYPES))  # storage dtype of the (master) weights
    remat: str = field("none", one_of(REMAT_POLICIES))  # activation checkpointing
    random_init: bool = field(False)  # random weights of the model's architecture (tests)
    # Architecture fields changed before a random init, e.g. {"num_layers": 2} (tests).
    overrides: dict = field(factory=dict)


@dataclasses.dataclass(frozen=True)
class LoraSection(Section):
    rank: int = field(8, NON_NEGATIVE_INT)  # adapter rank; 0 trains every weight
    alpha: float = field(16.0, POSITIVE)  # adapter scale is alpha / rank
    targets: tuple[str, ...] = field(LORA_TARGETS)  # adapted projections


MESH_SIZE = (lambda v: v == -1 or v > 0, "must be -1 or positive")


@dataclasses.dataclass(frozen=True)
class MeshSection(Section):
    """Device mesh axis sizes; one of them may be -1 (the rest of the devices)."""
    data: int = field(-1, MESH_SIZE)
    fsdp: int = field(1, MESH_SIZE)
    tensor: int = field(1, MESH_SIZE)

    def sizes(self) -> tuple[int, int, int]:
        return self.data, self.fsdp, self.tensor


@dataclasses.dataclass(frozen=True)
class DistributedSection(Section):
    enabled: bool = field(False)  # call jax.distributed.initialize (multi-host)
    coordinator_address: str = field("")  # "host:port" of process 0 ("": auto-detect)
    num_processes: int = field(0, NON_NEGATIVE_INT)  # 0: auto-detect
    process_id: int = field(-1, (lambda v: v >= -1, "must be -1 or >= 0"))  # -1: auto-detect
    cpu_collectives: str = field("gloo", one_of(("gloo", "mpi")))  # CPU devices' collectives


@dataclasses.dataclass(frozen=True)
class ExecutionSection(Section):
    workers: int = field(0, NON_NEGATIVE_INT)  # SQL worker processes (0: in-process, sandboxed)
    timeout_s: float = field(5.0, POSITIVE)  # per statement
    max_rows: int = field(100_000, POSITIVE_INT)  # rows fetched before "too many rows"


@dataclasses.dataclass(frozen=True)
class SamplingSection(Section):
    max_new_tokens: int = field(128, POSITIVE_INT)  # tokens per generated SQL
    max_batch_rows: int = field(64, POSITIVE_INT)  # rows (prompts x samples) decoded together
    prefill_tokens: int = field(8192, POSITIVE_INT)  # prompt tokens per prefill call
    # KV cache dtype ("": the model's compute dtype; "bfloat16" halves it).
    cache_dtype: str = field("", one_of(CACHE_DTYPES))
    share_prefix: bool = field(True)  # prefill a database's common prompt prefix once
    refill: bool = field(True)  # a finished row takes the next queued prompt (False: batches)


@dataclasses.dataclass(frozen=True)
class TrainingSection(Section):
    """One fine-tuning run's settings (SFT, each stage-1 round, SQL-to-Text, each self-play
    iteration have a section each, so they can differ). It hands out the batcher's, the
    optimizer's and the trainer's configs."""
    batch_size: int = field(default_of(BatchConfig, "batch_size"), POSITIVE_INT)  # per micro-batch
    micro_batches: int = field(default_of(BatchConfig, "micro_batches"), POSITIVE_INT)
    # Longest padded sequence; longer prompts are cut from the left.
    max_length: int = field(default_of(BatchConfig, "max_length"), (lambda v: v >= 2, "must be >= 2"))
    # Padded lengths are multiples of this (few shapes, few compiles).
    bucket_multiple: int = field(default_of(BatchConfig, "bucket_multiple"), POSITIVE_INT)
    epochs: int = field(default_of(TrainerConfig, "epochs"), NON_NEGATIVE_INT)
    max_steps: int = field(0, NON_NEGATIVE_INT)  # when > 0, the run's length in optimizer steps
    optimizer: str = field(default_of(OptimizerConfig, "name"), one_of(OPTIMIZERS))  # or rmsprop
    learning_rate: float = field(default_of(OptimizerConfig, "learning_rate"), POSITIVE)  # peak
    schedule: str = field(default_of(OptimizerConfig, "schedule"), one_of(SCHEDULES))  # after warmup
    warmup_ratio: float = field(0.1, UNIT_INTERVAL)  # share of the steps warming up from 0
    end_learning_rate_ratio: float = field(default_of(OptimizerConfig, "end_learning_rate_ratio"),
                                           UNIT_INTERVAL)  # final rate / peak rate
    weight_decay: float = field(default_of(OptimizerConfig, "weight_decay"), NON_NEGATIVE)
    # Global-norm clipping (0: none).
    clip_grad_norm: float = field(default_of(OptimizerConfig, "clip_grad_norm"), NON_NEGATIVE)
    # Orbax checkpoint every N steps (and at the end); 0: none.
    checkpoint_every: int = field(default_of(TrainerConfig, "checkpoint_every"), NON_NEGATIVE_INT)
    keep_checkpoints: int = field(default_of(TrainerConfig, "keep_checkpoints"), POSITIVE_INT)
    # Each database's shared prompt prefix (its schema) computed once per micro-batch, its
    # questions as continuations after it: the same loss and gradients (true), or one padded
    # sequence per example (false); the same batches either way. Off by default for now: the
    # shared layout's shapes vary from step to step, so it compiles far more often than the
    # padded one (see BENCHMARKS.md).
    share_prefix: bool = field(default_of(BatchConfig, "share_prefix"))
    # Examples of one database kept together in the training order.
    group_size: int = field(default_of(BatchConfig, "group_size"), POSITIVE_INT)

    def batch_config(self, pad_id: int, batch_size: int | None = None,
                     group_multiple: int = 1) -> BatchConfig:
        return BatchConfig(batch_size=batch_size or self.batch_size,
                           micro_batches=self.micro_batches, max_length=self.max_length,
                           bucket_multiple=self.bucket_multiple, pad_id=pad_id,
                           share_prefix=self.share_prefix, group_size=self.group_size,
                           group_multiple=group_multiple)

    def optimizer_config(self, total_steps: int) -> OptimizerConfig:
        return OptimizerConfig(
            name=self.optimizer, learning_rate=self.learning_rate, schedule=self.schedule,
            warmup_steps=int(math.floor(self.warmup_ratio * total_steps)), total_steps=total_steps,
            end_learning_rate_ratio=self.end_learning_rate_ratio, weight_decay=self.weight_decay,
            clip_grad_norm=self.clip_grad_norm or None)

    def trainer_config(self, seed: int, progress: bool) -> TrainerConfig:
        return TrainerConfig(epochs=self.epochs, max_steps=self.max_steps or None,
                             checkpoint_every=self.checkpoint_every,
                             keep_checkpoints=self.keep_checkpoints, seed=seed,
                             progress_bar=progress)


@dataclasses.dataclass(frozen=True)
class EvalSection(Section):
    self_consistency: int = field(0, NON_NEGATIVE_INT)  # majority vote over N samples (0: greedy)
    temperature: float = field(0.7, POSITIVE)  # sampling temperature of those samples
    top_p: float = field(0.95, OPEN_UNIT_INTERVAL)


@dataclasses.dataclass(frozen=True)
class Stage1Section(Section):
    rounds: int = field(1, NON_NEGATIVE_INT)  # verification-based rounds (the paper's study: 5)
    queries_per_round: int = field(3000, POSITIVE_INT)  # synthesized SQL per round
    require_rows: bool = field(True)  # keep only synthesized SQL that returns rows
    failed_template_weight: float = field(2.0, POSITIVE)  # weight of last round's failed templates
    max_attempts_per_query: int = field(20, POSITIVE_INT)  # fill attempts per kept query
    init_from: str = field("base", one_of(("base", "previous")))  # each round's starting model
    question_max_new_tokens: int = field(48, POSITIVE_INT)  # tokens per generated question
    train: TrainingSection = field(factory=TrainingSection)  # Text-to-SQL: seed + verified
    sql2text: TrainingSection = field(factory=TrainingSection)  # the SQL-to-Text model


@dataclasses.dataclass(frozen=True)
class SelfplaySection(Section):
    # The pairwise objective (spft_jax/train/objectives.py): "error_driven" (SPFT-SQL), "spin",
    # "exspin" (pairs with a correct opponent dropped), "error_driven_positive" (a correct
    # opponent answer is a second positive), "dpo".
    loss: str = field("error_driven", PAIRWISE_OBJECTIVE)
    lam: float = field(0.1, POSITIVE)  # beta of the pairwise losses
    iterations: int = field(2, NON_NEGATIVE_INT)  # main-vs-opponent iterations
    patience: int = field(1, NON_NEGATIVE_INT)  # stop after N iterations without a better EX
    samples_per_question: int = field(1, POSITIVE_INT)  # opponent samples per training question
    temperature: float = field(0.8, POSITIVE)  # opponent sampling
    top_p: float = field(0.95, OPEN_UNIT_INTERVAL)
    max_questions: int = field(0, NON_NEGATIVE_INT)  # the first N training questions (0: all)
    # SPIN's optimizer and a LoRA-sized learning rate, two epochs per iteration.
    train: TrainingSection = field(factory=lambda: TrainingSection(
        optimizer="rmsprop", learning_rate=5e-6, epochs=2))


@dataclasses.dataclass(frozen=True)
class GrpoSection(Section):
    """GRPO with an execution reward (pipeline/grpo.py, train/grpo.py). Each step samples
    `group_size` SQL for each of `questions_per_step` training questions from the current
    policy, rewards them by execution, and updates on them `updates_per_rollout` times (each a
    share of the groups). From `train` GRPO uses the optimizer, schedule, clipping, lengths,
    micro_batches, share_prefix and checkpoint fields; the rollout fixes the batch, so
    batch_size, epochs, max_steps and group_size are not read (validate.py rejects a value set
    there)."""
    init_from: str = field("best", (bool, "must name a model-base member or 'best'"))
    steps: int = field(20, POSITIVE_INT)  # rollout + update rounds
    questions_per_step: int = field(8, POSITIVE_INT)  # groups per rollout
    group_size: int = field(8, (lambda v: v >= 2, "must be an integer >= 2"))  # G samples/question
    temperature: float = field(1.0, POSITIVE)  # rollout sampling
    top_p: float = field(1.0, OPEN_UNIT_INTERVAL)
    max_new_tokens: int = field(0, NON_NEGATIVE_INT)  # per completion (0: sampling.max_new_tokens)
    clip_eps: float = field(0.2, (lambda v: 0 < v < 1, "must be in (0, 1)"))  # PPO's clip range
    beta: float = field(0.0, NON_NEGATIVE)  # KL penalty to the starting model (k3); 0: none
    # "sequence": token terms averaged per completion, then over completions (GRPO);
    # "constant": summed over the batch and divided by completions x max_new_tokens (Dr.GRPO).
    normalization: str = field("sequence", one_of(NORMALIZATIONS))
    scale_rewards: bool = field(True)  # divide advantages by the group's std (False: Dr.GRPO)
    # Reward of SQL that executes but returns a different result (correct SQL gets 1, SQL that
    # fails 0).
    execution_reward: float = field(0.0, UNIT_INTERVAL)
    updates_per_rollout: int = field(1, POSITIVE_INT)  # optimizer steps per rollout (1: on-policy)
    max_questions: int = field(0, NON_NEGATIVE_INT)  # the first N training questions (0: all)
    train: TrainingSection = field(factory=lambda: TrainingSection(
        learning_rate=2e-5, schedule="constant", warmup_ratio=0.0, checkpoint_every=5,
        share_prefix=True))


@dataclasses.dataclass(frozen=True)
class RunConfig(Section):
    name: str = field("experiment")  # the run's name in reports
    seed: int = field(0, NON_NEGATIVE_INT)  # data order, sampling, synthesis (each derives its own)
    stages: tuple[str, ...] = field(DEFAULT_STAGES, sequence_of(STAGES))
    data: DataSection = field(factory=DataSection)
    prompt: PromptConfig = field(factory=PromptConfig)
    model: ModelSection = field(factory=ModelSection)
    lora: LoraSection = field(factory=LoraSection)
    mesh: MeshSection = field(factory=MeshSection)
    distributed: DistributedSection = field(factory=DistributedSection)
    execution: ExecutionSection = field(factory=ExecutionSection)
    sampling: SamplingSection = field(factory=SamplingSection)
    sft: TrainingSection = field(factory=TrainingSection)  # supervised fine-tuning on the seed
    eval: EvalSection = field(factory=EvalSection)
    stage1: Stage1Section = field(factory=Stage1Section)
    selfplay: SelfplaySection = field(factory=SelfplaySection)
    grpo: GrpoSection = field(factory=GrpoSection)

    @classmethod
    def from_configdict(cls, config: ConfigDict) -> "RunConfig":
        """The typed config, every single field checked (ConfigError naming its path)."""
        return build(cls, config, complete=True)

    def training_sections(self) -> dict[str, TrainingSection]:
        """Every fine-tuning section by its path."""
        return {"sft": self.sft, "stage1.train": self.stage1.train,
                "stage1.sql2text": self.stage1.sql2text, "selfplay.train": self.selfplay.train}


def base_config() -> ConfigDict:
    """The defaults above as the ConfigDict `configs/*.py` start from."""
    return ConfigDict(RunConfig().to_dict())
