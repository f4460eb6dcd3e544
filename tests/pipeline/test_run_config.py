"""The typed config: what configs/*.py resolve to, one definition per field, and the errors a
mistyped or misspelt field gives (one line naming the field's path)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest
from ml_collections import ConfigDict

from spft_jax.config_schema import build
from spft_jax.data.prompts import PromptConfig
from spft_jax.data.source import DataSourceConfig
from spft_jax.errors import ConfigError
from spft_jax.pipeline.defaults import base_config
from spft_jax.pipeline.run_config import RunConfig, SourceSection, TrainingSection
from spft_jax.train.batches import BatchConfig
from spft_jax.train.optimizer import OptimizerConfig
from spft_jax.train.trainer import TrainerConfig
from tests.conftest import REPO_ROOT
from tests.pipeline.test_validate import CONFIGS, load_config


def plain(config) -> dict:
    """JSON view (tuples and lists alike), as config.json stores it."""
    return json.loads(json.dumps(config.to_dict() if hasattr(config, "to_dict") else config))


@pytest.mark.parametrize("name", sorted(p.stem for p in CONFIGS.glob("*.py")))
def test_every_config_file_resolves_to_the_typed_config_field_for_field(name):
    config = load_config(name)
    typed = RunConfig.from_configdict(config)
    assert plain(typed) == plain(config)


def test_base_config_is_the_typed_defaults():
    assert plain(base_config()) == plain(RunConfig())
    assert isinstance(base_config(), ConfigDict)


def _keys(node, prefix=""):
    """Every leaf path of a nested dict."""
    for key, value in node.items():
        if isinstance(value, dict) and key != "overrides":
            yield from _keys(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def _fields(cls, prefix=""):
    """Every leaf path of a section dataclass."""
    for spec in dataclasses.fields(cls):
        kind = cls.__annotations__.get(spec.name)
        value = getattr(cls(), spec.name)
        if dataclasses.is_dataclass(value):
            yield from _fields(type(value), f"{prefix}{spec.name}.")
        else:
            yield f"{prefix}{spec.name}"
        del kind


def test_every_config_field_is_one_dataclass_field():
    """The ConfigDict has no field the dataclasses do not declare, and the other way round:
    base_config() is generated from them, not written beside them."""
    assert sorted(_keys(base_config().to_dict())) == sorted(_fields(RunConfig))


# Fields a training section shares with the lower layers' configs: (their class, their name).
MIRRORED = {"batch_size": (BatchConfig, "batch_size"), "micro_batches": (BatchConfig, "micro_batches"),
            "max_length": (BatchConfig, "max_length"), "bucket_multiple": (BatchConfig, "bucket_multiple"),
            "share_prefix": (BatchConfig, "share_prefix"), "group_size": (BatchConfig, "group_size"),
            "optimizer": (OptimizerConfig, "name"), "learning_rate": (OptimizerConfig, "learning_rate"),
            "schedule": (OptimizerConfig, "schedule"),
            "end_learning_rate_ratio": (OptimizerConfig, "end_learning_rate_ratio"),
            "weight_decay": (OptimizerConfig, "weight_decay"),
            "clip_grad_norm": (OptimizerConfig, "clip_grad_norm"),
            "epochs": (TrainerConfig, "epochs"), "checkpoint_every": (TrainerConfig, "checkpoint_every"),
            "keep_checkpoints": (TrainerConfig, "keep_checkpoints")}


@pytest.mark.parametrize("name", sorted(MIRRORED))
def test_a_training_field_has_the_lower_layers_default(name):
    cls, theirs = MIRRORED[name]
    assert getattr(TrainingSection(), name) == getattr(cls, theirs) == cls.__dataclass_fields__[theirs].default


def test_the_sections_hand_out_the_lower_layers_configs():
    section = TrainingSection(batch_size=3, learning_rate=2e-3, warmup_ratio=0.5, max_steps=0,
                              clip_grad_norm=0.0, checkpoint_every=7)
    batches = section.batch_config(pad_id=5, group_multiple=2)
    assert (batches.batch_size, batches.pad_id, batches.group_multiple) == (3, 5, 2)
    optimizer = section.optimizer_config(total_steps=10)
    assert (optimizer.learning_rate, optimizer.warmup_steps, optimizer.clip_grad_norm) == (2e-3, 5, None)
    trainer = section.trainer_config(seed=4, progress=False)
    assert (trainer.max_steps, trainer.checkpoint_every, trainer.seed) == (None, 7, 4)


def test_the_prompt_and_data_source_sections_are_the_lower_layers_own():
    assert isinstance(RunConfig().prompt, PromptConfig)
    assert SourceSection().dataset == DataSourceConfig.__dataclass_fields__["dataset"].default
    assert SourceSection(manual_dir="").source_config().manual_dir is None


def test_a_misspelt_field_names_its_path_and_the_closest_name():
    values = base_config().to_dict()
    values["sft"]["learnin_rate"] = values["sft"].pop("learning_rate")
    with pytest.raises(ConfigError) as caught:
        RunConfig.from_configdict(values)
    assert str(caught.value) == "config.sft.learnin_rate: unknown field (did you mean 'learning_rate'?)"


def test_a_missing_field_is_an_error_not_a_silent_default():
    values = base_config().to_dict()
    del values["selfplay"]["train"]["epochs"]
    with pytest.raises(ConfigError, match=r"^config.selfplay.train.epochs: missing"):
        RunConfig.from_configdict(values)
    # A section built from a partial mapping (a test, a library user) takes the defaults.
    assert build(TrainingSection, {"epochs": 3}).learning_rate == TrainingSection().learning_rate


def test_a_wrong_type_is_reported_with_the_fields_rule():
    values = base_config().to_dict()
    values["stage1"]["sql2text"]["batch_size"] = 2.5
    with pytest.raises(ConfigError) as caught:
        RunConfig.from_configdict(values)
    assert str(caught.value) == "config.stage1.sql2text.batch_size: must be a positive integer, got 2.5"


def _main(tmp_path, *overrides):
    workdir = tmp_path / "run"
    process = subprocess.run(
        [sys.executable, "-m", "spft_jax.main", f"--config={REPO_ROOT / 'configs' / 'tiny.py'}",
         f"--workdir={workdir}", "--noprogress", *overrides],
        cwd=REPO_ROOT, env=dict(os.environ, JAX_PLATFORMS="cpu"), capture_output=True, text=True,
        timeout=300)
    return process, workdir


@pytest.mark.parametrize("override, line", [
    ("--config.sft.learnin_rate=0.1",
     "error: --config.sft.learnin_rate: unknown field 'learnin_rate' (did you mean 'learning_rate'?)"),
    ("--config.grpo.group_size=1",
     "error: config.grpo.group_size: must be an integer >= 2, got 1"),
    # Past validation, with the lock held: the data does not allow it, and still nothing is left.
    ("--config.data.validation_examples=100000",
     "error: config.data.validation_examples: 100000 is not fewer than the 326 usable training "
     "questions"),
])
def test_the_command_line_says_one_clean_line_and_writes_nothing(tmp_path, override, line):
    process, workdir = _main(tmp_path, override)
    assert process.returncode == 2, process.stderr
    lines = process.stderr.strip().splitlines()
    assert lines[-1] == line and [x for x in lines if x.startswith("error")] == [line], lines
    assert not workdir.exists()
