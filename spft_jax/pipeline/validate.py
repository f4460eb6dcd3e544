"""The checks of a pipeline config that involve more than one field, or the machine.

Every single field is checked where the typed config is built (run_config.RunConfig.
from_configdict: types, ranges, names). What is left is checked here, before any heavy work:
the stage order, folders that must exist, the model spec against its overrides, LoRA targets
when LoRA is on, a run length, and that the mesh fits the devices. Errors are
`ConfigError("config.<field>: ...")`; the command line turns them into one line and exit
status 2.
"""

from __future__ import annotations

import dataclasses
import pathlib

from ml_collections import ConfigDict

from spft_jax.errors import ConfigError
from spft_jax.models.config import ModelConfig
from spft_jax.pipeline.run_config import LORA_TARGETS, MODES, STAGES, GrpoSection, RunConfig

def _check_stages(config: RunConfig) -> None:
    order = [STAGES.index(s) for s in config.stages]
    if order != sorted(set(order)):
        raise ConfigError(f"config.stages: stages run in the order {STAGES}, each once; got "
                          f"{tuple(config.stages)}")
    for stage in ("selfplay", "grpo"):
        if stage in config.stages and "stage1" not in config.stages and "sft" not in config.stages:
            raise ConfigError(f"config.stages: {stage} needs a model base, built by sft and/or stage1")


def members_the_stages_build(config: RunConfig) -> list[str]:
    """The model-base members a run of `config.stages` adds, in order (GRPO's excluded)."""
    names = ["sft"] if "sft" in config.stages else []
    if "stage1" in config.stages:
        names += [f"stage1_round_{k}" for k in range(1, config.stage1.rounds + 1)]
    if "selfplay" in config.stages:
        names += [f"selfplay_iter_{t}" for t in range(1, config.selfplay.iterations + 1)]
    return names


# Fields of grpo.train that GRPO does not read: its rollout fixes each update's batch
# (questions_per_step x group_size samples) and grpo.steps its length.
GRPO_UNREAD_TRAIN_FIELDS = ("batch_size", "epochs", "max_steps", "group_size")


def _check_grpo(config: RunConfig) -> None:
    grpo = config.grpo
    unread = GrpoSection().train
    for name in GRPO_UNREAD_TRAIN_FIELDS:
        if getattr(grpo.train, name) != getattr(unread, name):
            raise ConfigError(f"config.grpo.train.{name}: GRPO does not read it (each step trains "
                              "on grpo.questions_per_step x grpo.group_size samples, for "
                              "grpo.steps steps); leave it at its default")
    shares = grpo.updates_per_rollout * grpo.train.micro_batches
    if grpo.questions_per_step % shares:
        raise ConfigError(f"config.grpo.questions_per_step: {grpo.questions_per_step} groups do not "
                          f"split into updates_per_rollout x train.micro_batches = {shares} "
                          "equal shares of whole groups")
    if "grpo" in config.stages and grpo.init_from != "best":
        members = members_the_stages_build(config)
        if grpo.init_from not in members:
            raise ConfigError(f"config.grpo.init_from: {grpo.init_from!r} is not a model-base "
                              f"member these stages build ({', '.join(['best', *members])})")


def _check_data(config: RunConfig) -> None:
    source = config.data.source
    for field in ("manual_dir", "data_dir"):
        path = getattr(source, field)
        if path and not str(path).startswith("gs://") and not pathlib.Path(path).expanduser().is_dir():
            raise ConfigError(f"config.data.source.{field}: folder not found: {path}")
    if source.dataset != "demo" and not source.manual_dir:
        raise ConfigError(f"config.data.source.manual_dir: the {source.dataset} dataset needs its "
                          "folder (tables file and databases)")


def _check_model(config: RunConfig) -> None:
    model = config.model
    fields = {f.name for f in dataclasses.fields(ModelConfig)}
    unknown = sorted(set(model.overrides) - fields)
    if unknown:
        raise ConfigError(f"config.model.overrides: unknown model config field(s) {unknown}")
    if model.overrides and not model.random_init:
        raise ConfigError("config.model.overrides: architecture changes need model.random_init=true "
                          "(real weights have the checkpoint's shapes)")
    from spft_jax.models.loading import resolve_model_path  # cheap: no weights are read

    try:
        resolve_model_path(model.name)
    except ConfigError as e:
        raise ConfigError(f"config.model.name: {e}") from None
    if config.lora.rank and not (config.lora.targets and set(config.lora.targets) <= set(LORA_TARGETS)):
        raise ConfigError(f"config.lora.targets: must be a non-empty subset of {LORA_TARGETS}, got "
                          f"{config.lora.targets!r}")


def _check_run_lengths(config: RunConfig) -> None:
    for path, section in config.training_sections().items():
        if section.epochs == 0 and section.max_steps == 0:
            raise ConfigError(f"config.{path}: epochs and max_steps are both 0: nothing would train")


def validate(config: ConfigDict | RunConfig, num_devices: int | None = None) -> RunConfig:
    """The typed config, or a ConfigError naming the first bad field. With `num_devices`, the
    mesh must fit them too."""
    typed = config if isinstance(config, RunConfig) else RunConfig.from_configdict(config)
    _check_stages(typed)
    _check_data(typed)
    _check_model(typed)
    _check_run_lengths(typed)
    _check_grpo(typed)
    if num_devices is not None:
        from spft_jax.parallel.mesh import resolve_mesh_shape

        try:
            resolve_mesh_shape(typed.mesh.sizes(), num_devices)
        except (ConfigError, ValueError) as e:
            raise ConfigError(f"config.mesh: {e}") from None
    return typed


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ConfigError(f"--mode: {mode!r} is not one of {MODES}")
    return mode


OUTPUT_MODES = {"predict": "the prediction file", "export": "the folder to write",
                "check_export": "the exported folder"}


def check_output(mode: str, output: str | None) -> None:
    """--output is needed by the modes that write or read a path; said before anything loads."""
    if mode in OUTPUT_MODES and not output:
        raise ConfigError(f"--output: needed for --mode={mode} ({OUTPUT_MODES[mode]})")
