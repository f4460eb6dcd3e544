"""Checks a pipeline config before any heavy work, with errors that name the field.

Everything that can be checked without loading weights or data is checked here: types and
ranges, names (losses, optimizers, dtypes, stages), the data source and its folder, the model
spec, and that the mesh fits the devices. `validate` raises `ConfigError("config.<field>: ...")`;
the command line turns that into one line and exit status 2.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Callable, Mapping
from typing import Any

from ml_collections import ConfigDict

from spft_jax.data.prompts import PromptConfig
from spft_jax.data.source import DataSourceConfig
from spft_jax.errors import ConfigError
from spft_jax.models.config import DTYPES, REMAT_POLICIES, ModelConfig
from spft_jax.pipeline.defaults import LORA_TARGETS, STAGES
from spft_jax.train.losses import PAIRWISE_LOSSES
from spft_jax.train.optimizer import OPTIMIZERS, SCHEDULES

SCHEDULED_MODES = ("pipeline", "sft", "stage1", "selfplay", "evaluate", "predict", "export",
                   "check_export")


class _Checker:
    def __init__(self, config: ConfigDict):
        self.config = config

    def value(self, field: str) -> Any:
        node: Any = self.config
        for part in field.split("."):
            if not isinstance(node, (ConfigDict, Mapping)) or part not in node:
                raise ConfigError(f"config.{field}: missing (start from spft_jax.pipeline.defaults)")
            node = node[part]
        return node

    def need(self, field: str, ok: Callable[[Any], bool], what: str) -> Any:
        value = self.value(field)
        try:
            good = ok(value)
        except (TypeError, ValueError):
            good = False
        if not good:
            raise ConfigError(f"config.{field}: {what}, got {value!r}")
        return value

    def positive_int(self, field: str) -> int:
        return self.need(field, lambda v: _is_int(v) and v > 0, "must be a positive integer")

    def non_negative_int(self, field: str) -> int:
        return self.need(field, lambda v: _is_int(v) and v >= 0, "must be an integer >= 0")

    def positive_number(self, field: str) -> float:
        return self.need(field, lambda v: _is_number(v) and v > 0, "must be a positive number")

    def non_negative_number(self, field: str) -> float:
        return self.need(field, lambda v: _is_number(v) and v >= 0, "must be a number >= 0")

    def one_of(self, field: str, choices) -> Any:
        return self.need(field, lambda v: v in choices, f"must be one of {tuple(choices)}")

    def boolean(self, field: str) -> bool:
        return self.need(field, lambda v: isinstance(v, bool), "must be true or false")

    def text(self, field: str) -> str:
        return self.need(field, lambda v: isinstance(v, str), "must be a string")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _wrap(field: str, build: Callable[[], Any]) -> Any:
    """Runs a constructor that validates itself, naming `field` in its error."""
    try:
        return build()
    except ConfigError as e:
        raise ConfigError(f"config.{field}: {e}") from None
    except (TypeError, ValueError) as e:
        raise ConfigError(f"config.{field}: {e}") from None


def check_training_section(check: _Checker, field: str) -> None:
    for name in ("batch_size", "micro_batches", "bucket_multiple", "keep_checkpoints",
                 "group_size"):
        check.positive_int(f"{field}.{name}")
    check.boolean(f"{field}.share_prefix")
    check.need(f"{field}.max_length", lambda v: _is_int(v) and v >= 2, "must be an integer >= 2")
    for name in ("epochs", "max_steps", "checkpoint_every"):
        check.non_negative_int(f"{field}.{name}")
    if check.value(f"{field}.epochs") == 0 and check.value(f"{field}.max_steps") == 0:
        raise ConfigError(f"config.{field}: epochs and max_steps are both 0: nothing would train")
    check.one_of(f"{field}.optimizer", OPTIMIZERS)
    check.one_of(f"{field}.schedule", SCHEDULES)
    check.positive_number(f"{field}.learning_rate")
    check.need(f"{field}.warmup_ratio", lambda v: _is_number(v) and 0 <= v <= 1, "must be in [0, 1]")
    check.need(f"{field}.end_learning_rate_ratio", lambda v: _is_number(v) and 0 <= v <= 1,
               "must be in [0, 1]")
    check.non_negative_number(f"{field}.weight_decay")
    check.non_negative_number(f"{field}.clip_grad_norm")


def _check_data(check: _Checker) -> None:
    source = _wrap("data.source", lambda: DataSourceConfig.from_mapping(check.value("data.source").to_dict()))
    for field, path in (("manual_dir", source.manual_dir), ("data_dir", source.data_dir)):
        if path and not str(path).startswith("gs://") and not pathlib.Path(path).expanduser().is_dir():
            raise ConfigError(f"config.data.source.{field}: folder not found: {path}")
    if source.dataset != "demo" and not source.manual_dir:
        raise ConfigError(f"config.data.source.manual_dir: the {source.dataset} dataset needs its "
                          "folder (tables file and databases)")
    for field in ("train_split", "eval_split"):
        check.one_of(f"data.{field}", ("train", "validation"))
    for field in ("validation_examples", "max_train_examples", "max_eval_examples"):
        check.non_negative_int(f"data.{field}")


def _check_model(check: _Checker) -> None:
    name = check.need("model.name", lambda v: isinstance(v, str) and v, "must name a model")
    check.one_of("model.dtype", DTYPES)
    check.one_of("model.param_dtype", DTYPES)
    check.one_of("model.remat", REMAT_POLICIES)
    random_init = check.boolean("model.random_init")
    overrides = check.value("model.overrides")
    fields = {f.name for f in dataclasses.fields(ModelConfig)}
    unknown = sorted(set(overrides.keys()) - fields)
    if unknown:
        raise ConfigError(f"config.model.overrides: unknown model config field(s) {unknown}")
    if overrides and not random_init:
        raise ConfigError("config.model.overrides: architecture changes need model.random_init=true "
                          "(real weights have the checkpoint's shapes)")
    from spft_jax.models.loading import resolve_model_path  # cheap: no weights are read

    _wrap("model.name", lambda: resolve_model_path(name))
    rank = check.non_negative_int("lora.rank")
    if rank:
        check.positive_number("lora.alpha")
        check.need("lora.targets", lambda v: len(v) > 0 and set(v) <= set(LORA_TARGETS),
                   f"must be a non-empty subset of {LORA_TARGETS}")


def _check_prompt(check: _Checker) -> None:
    check.boolean("prompt.value_matching.enabled")
    check.positive_int("prompt.value_matching.top_k")
    check.positive_int("prompt.value_matching.max_values_per_column")
    check.text("prompt.value_matching.cache_dir")
    check.boolean("prompt.schema_filter.enabled")
    check.positive_int("prompt.schema_filter.max_tables")
    check.positive_int("prompt.schema_filter.max_columns")
    _wrap("prompt", lambda: PromptConfig(**check.value("prompt").to_dict()))


def _check_stages(check: _Checker) -> None:
    stages = check.need("stages", lambda v: isinstance(v, (tuple, list)) and set(v) <= set(STAGES),
                        f"must be a sequence of {STAGES}")
    order = [STAGES.index(s) for s in stages]
    if order != sorted(set(order)):
        raise ConfigError(f"config.stages: stages run in the order {STAGES}, each once; got {tuple(stages)}")
    if "selfplay" in stages and "stage1" not in stages and "sft" not in stages:
        raise ConfigError("config.stages: selfplay needs a model base, built by sft and/or stage1")


def validate(config: ConfigDict, num_devices: int | None = None) -> None:
    """Raises ConfigError naming the first bad field. With `num_devices`, the mesh must fit."""
    check = _Checker(config)
    check.text("name")
    check.non_negative_int("seed")
    _check_stages(check)
    _check_data(check)
    _check_prompt(check)
    _check_model(check)
    for axis in ("data", "fsdp", "tensor"):
        check.need(f"mesh.{axis}", lambda v: _is_int(v) and (v == -1 or v > 0), "must be -1 or positive")
    if num_devices is not None:
        from spft_jax.parallel.mesh import resolve_mesh_shape

        sizes = tuple(check.value(f"mesh.{a}") for a in ("data", "fsdp", "tensor"))
        _wrap("mesh", lambda: resolve_mesh_shape(sizes, num_devices))
    check.boolean("distributed.enabled")
    check.text("distributed.coordinator_address")
    check.non_negative_int("distributed.num_processes")
    check.need("distributed.process_id", lambda v: _is_int(v) and v >= -1, "must be -1 or >= 0")
    check.one_of("distributed.cpu_collectives", ("gloo", "mpi"))
    check.non_negative_int("execution.workers")
    check.positive_number("execution.timeout_s")
    check.positive_int("execution.max_rows")
    for field in ("max_new_tokens", "max_batch_rows", "prefill_tokens"):
        check.positive_int(f"sampling.{field}")
    check.one_of("sampling.cache_dtype", ("", "float32", "bfloat16", "float16"))
    check.boolean("sampling.share_prefix")
    check.boolean("sampling.refill")
    check_training_section(check, "sft")
    check.non_negative_int("eval.self_consistency")
    check.positive_number("eval.temperature")
    check.need("eval.top_p", lambda v: _is_number(v) and 0 < v <= 1, "must be in (0, 1]")
    check.non_negative_int("stage1.rounds")
    check.positive_int("stage1.queries_per_round")
    check.boolean("stage1.require_rows")
    check.positive_number("stage1.failed_template_weight")
    check.positive_int("stage1.max_attempts_per_query")
    check.one_of("stage1.init_from", ("base", "previous"))
    check.positive_int("stage1.question_max_new_tokens")
    check_training_section(check, "stage1.train")
    check_training_section(check, "stage1.sql2text")
    check.one_of("selfplay.loss", PAIRWISE_LOSSES)
    check.positive_number("selfplay.lam")
    check.non_negative_int("selfplay.iterations")
    check.non_negative_int("selfplay.patience")
    check.positive_int("selfplay.samples_per_question")
    check.positive_number("selfplay.temperature")
    check.need("selfplay.top_p", lambda v: _is_number(v) and 0 < v <= 1, "must be in (0, 1]")
    check.non_negative_int("selfplay.max_questions")
    check_training_section(check, "selfplay.train")


def check_mode(mode: str) -> str:
    if mode not in SCHEDULED_MODES:
        raise ConfigError(f"--mode: {mode!r} is not one of {SCHEDULED_MODES}")
    return mode


OUTPUT_MODES = {"predict": "the prediction file", "export": "the folder to write",
                "check_export": "the exported folder"}


def check_output(mode: str, output: str | None) -> None:
    """--output is needed by the modes that write or read a path; said before anything loads."""
    if mode in OUTPUT_MODES and not output:
        raise ConfigError(f"--output: needed for --mode={mode} ({OUTPUT_MODES[mode]})")
