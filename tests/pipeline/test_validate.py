"""Config validation: the defaults and every config in configs/ pass; each single-field mistake is
a ConfigError whose message starts with that field's `config.<path>`."""

import importlib.util

import pytest

from spft_jax.errors import ConfigError
from spft_jax.pipeline.defaults import base_config
from spft_jax.pipeline.run_config import MODES
from spft_jax.pipeline.validate import OUTPUT_MODES, check_mode, check_output, validate
from tests.conftest import REPO_ROOT, SPIDER_DIR

CONFIGS = REPO_ROOT / "configs"
# Configs whose dataset lives outside the package: (name, a folder that stands in for manual_dir).
EXTERNAL_DATA = {"spider": SPIDER_DIR, "bird": None}


def load_config(name: str):
    path = CONFIGS / f"{name}.py"
    if not path.is_file():
        pytest.skip(f"{path} does not exist")
    spec = importlib.util.spec_from_file_location(f"configs_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config()


@pytest.fixture
def config(packaged_smollm2):
    return base_config()


def test_the_defaults_pass(config):
    validate(config)
    validate(config, num_devices=1)
    validate(config, num_devices=8)


@pytest.mark.parametrize("name", sorted({p.stem for p in CONFIGS.glob("*.py")} | set(EXTERNAL_DATA)))
def test_every_config_in_configs_passes(name, packaged_smollm2, tmp_path):
    config = load_config(name)
    if name in EXTERNAL_DATA:
        folder = EXTERNAL_DATA[name]
        config.data.source.manual_dir = str(folder if folder is not None and folder.is_dir() else tmp_path)
    validate(config)
    validate(config, num_devices=1)


@pytest.mark.parametrize("name", sorted(EXTERNAL_DATA))
def test_configs_of_external_datasets_ask_for_their_folder(name, packaged_smollm2):
    config = load_config(name)
    config.data.source.manual_dir = ""  # as shipped: set on the command line
    with pytest.raises(ConfigError, match=f"^config.data.source.manual_dir: the {name} dataset needs"):
        validate(config)


def _remove(config, field: str):
    """Deletes a field; returns (its section, its name)."""
    *parents, last = field.split(".")
    node = config
    for part in parents:
        node = node[part]
    del node[last]
    return node, last


def _set(config, field: str, value) -> None:
    """Sets a field whatever its current type (ConfigDict refuses a change of type)."""
    node, last = _remove(config, field)
    node[last] = value


def _error(config, **kwargs) -> str:
    with pytest.raises(ConfigError) as caught:
        validate(config, **kwargs)
    return str(caught.value)


BREAKAGES = [  # (field changed, its new value, the field the message must start with, text in it)
    ("name", 3, "name", "string"),
    ("seed", -1, "seed", ">= 0"),
    ("stages", ("sft", "base_eval"), "stages", "order"),
    ("stages", ("sft", "sft"), "stages", "each once"),
    ("stages", ("base_eval", "finetune"), "stages", "sequence of"),
    ("stages", "sft", "stages", "sequence of"),
    ("stages", ("base_eval", "selfplay"), "stages", "selfplay needs a model base"),
    ("data.source.dataset", "spyder", "data.source", "'dataset'"),
    ("data.source.format", "csv", "data.source", "'format'"),
    ("data.source.format", "tfds", "data.source", "'data_dir'"),
    ("data.source.data_dir", "/no/such/folder", "data.source.data_dir", "folder not found"),
    ("data.source.manual_dir", "/no/such/folder", "data.source.manual_dir", "folder not found"),
    ("data.train_split", "dev", "data.train_split", "one of"),
    ("data.validation_examples", -1, "data.validation_examples", ">= 0"),
    ("prompt.schema_style", "yaml", "prompt", "'schema_style'"),
    ("prompt.values_per_column", -2, "prompt", "'values_per_column'"),
    ("prompt.value_matching.enabled", "yes", "prompt.value_matching.enabled", "true or false"),
    ("prompt.value_matching.top_k", 0, "prompt.value_matching.top_k", "positive"),
    ("prompt.value_matching.max_values_per_column", 1.5, "prompt.value_matching.max_values_per_column",
     "positive"),
    ("prompt.value_matching.cache_dir", 3, "prompt.value_matching.cache_dir", "string"),
    ("prompt.schema_filter.enabled", 1, "prompt.schema_filter.enabled", "true or false"),
    ("prompt.schema_filter.max_tables", 0, "prompt.schema_filter.max_tables", "positive"),
    ("prompt.schema_filter.max_columns", -1, "prompt.schema_filter.max_columns", "positive"),
    ("model.name", "", "model.name", "must name a model"),
    ("model.name", "no-such-model", "model.name", "not a checkpoint directory"),
    ("model.dtype", "float8", "model.dtype", "one of"),
    ("model.remat", "some", "model.remat", "one of"),
    ("model.random_init", "yes", "model.random_init", "true or false"),
    ("lora.rank", -1, "lora.rank", ">= 0"),
    ("lora.alpha", 0.0, "lora.alpha", "positive"),
    ("lora.targets", ("q_proj", "qkv_proj"), "lora.targets", "subset"),
    ("lora.targets", (), "lora.targets", "non-empty"),
    ("mesh.fsdp", 0, "mesh.fsdp", "-1 or positive"),
    ("distributed.process_id", -2, "distributed.process_id", "-1 or >= 0"),
    ("distributed.cpu_collectives", "nccl", "distributed.cpu_collectives", "one of"),
    ("execution.timeout_s", 0.0, "execution.timeout_s", "positive"),
    ("execution.timeout_s", -1.0, "execution.timeout_s", "positive"),
    ("execution.max_rows", 0, "execution.max_rows", "positive"),
    ("execution.workers", -1, "execution.workers", ">= 0"),
    ("sampling.max_new_tokens", 0, "sampling.max_new_tokens", "positive"),
    ("sft.learning_rate", -1e-4, "sft.learning_rate", "positive"),
    ("sft.optimizer", "sgd", "sft.optimizer", "one of"),
    ("sft.schedule", "step", "sft.schedule", "one of"),
    ("sft.warmup_ratio", 1.5, "sft.warmup_ratio", "[0, 1]"),
    ("sft.batch_size", 0, "sft.batch_size", "positive"),
    ("sft.max_length", 1, "sft.max_length", ">= 2"),
    ("sft.epochs", 1.5, "sft.epochs", ">= 0"),
    ("sft.clip_grad_norm", -1.0, "sft.clip_grad_norm", ">= 0"),
    ("eval.self_consistency", -1, "eval.self_consistency", ">= 0"),
    ("eval.temperature", 0.0, "eval.temperature", "positive"),
    ("eval.top_p", 1.5, "eval.top_p", "(0, 1]"),
    ("eval.top_p", 0.0, "eval.top_p", "(0, 1]"),
    ("stage1.queries_per_round", 0, "stage1.queries_per_round", "positive"),
    ("stage1.init_from", "scratch", "stage1.init_from", "one of"),
    ("stage1.require_rows", 1, "stage1.require_rows", "true or false"),
    ("stage1.train.optimizer", "sgd", "stage1.train.optimizer", "one of"),
    ("stage1.sql2text.learning_rate", 0.0, "stage1.sql2text.learning_rate", "positive"),
    ("selfplay.loss", "ipo", "selfplay.loss", "one of"),
    ("selfplay.lam", 0.0, "selfplay.lam", "positive"),
    ("selfplay.samples_per_question", 0, "selfplay.samples_per_question", "positive"),
    ("selfplay.top_p", 1.01, "selfplay.top_p", "(0, 1]"),
    ("selfplay.train.optimizer", "adam", "selfplay.train.optimizer", "one of"),
    ("grpo.group_size", 1, "grpo.group_size", ">= 2"),
    ("grpo.beta", -0.1, "grpo.beta", ">= 0"),
    ("grpo.clip_eps", 1.0, "grpo.clip_eps", "(0, 1)"),
    ("grpo.normalization", "token", "grpo.normalization", "one of"),
    ("grpo.execution_reward", 2.0, "grpo.execution_reward", "[0, 1]"),
    ("grpo.train.learning_rate", 0.0, "grpo.train.learning_rate", "positive"),
    ("stages", ("base_eval", "grpo"), "stages", "grpo needs a model base"),
]


@pytest.mark.parametrize("field, value, named, text", BREAKAGES)
def test_a_broken_field_is_named(config, field, value, named, text):
    _set(config, field, value)
    message = _error(config)
    assert message.startswith(f"config.{named}:"), message
    assert text in message, message


def test_a_missing_field_is_named(config):
    _remove(config, "eval.top_p")
    assert _error(config).startswith("config.eval.top_p: missing")
    _remove(config, "sampling")
    assert _error(config).startswith("config.sampling.max_new_tokens: missing")


def test_a_dataset_outside_the_package_needs_its_folder(config, tmp_path):
    config.data.source.dataset = "spider"
    assert _error(config).startswith("config.data.source.manual_dir: the spider dataset needs")
    config.data.source.manual_dir = str(tmp_path)
    validate(config)
    config.data.source.manual_dir = str(tmp_path / "gone")
    assert _error(config).startswith("config.data.source.manual_dir: folder not found")


def test_a_cloud_data_dir_is_not_looked_for(config):
    config.data.source.format = "tfds"
    config.data.source.data_dir = "gs://bucket/tfds"
    validate(config)


def test_epochs_and_max_steps_both_zero(config):
    config.selfplay.train.epochs = 0
    assert _error(config).startswith("config.selfplay.train: epochs and max_steps are both 0")
    config.selfplay.train.max_steps = 5
    validate(config)


def test_model_overrides(config):
    config.model.overrides = {"num_layers": 2}
    assert _error(config).startswith("config.model.overrides: architecture changes need "
                                     "model.random_init=true")
    config.model.random_init = True
    validate(config)
    config.model.overrides = {"num_layers": 2, "num_layer": 1, "width": 3}
    message = _error(config)
    assert message.startswith("config.model.overrides: unknown") and "['num_layer', 'width']" in message


def test_lora_targets_are_not_checked_without_lora(config):
    config.lora.rank = 0
    config.lora.targets = ("qkv_proj",)
    validate(config)


def test_the_mesh_must_fit_the_devices(config):
    config.mesh.data = 2
    validate(config)  # without a device count, only the sizes are checked
    validate(config, num_devices=2)
    message = _error(config, num_devices=3)
    assert message.startswith("config.mesh:") and "needs 2 devices" in message and "3" in message
    config.mesh.data, config.mesh.fsdp = -1, 2
    validate(config, num_devices=4)
    assert _error(config, num_devices=3).startswith("config.mesh:")
    config.mesh.tensor = -1
    assert "at most one axis" in _error(config, num_devices=4)


def test_the_first_broken_field_is_reported(config):
    config.sft.learning_rate = -1.0
    config.selfplay.loss = "ipo"
    assert _error(config).startswith("config.sft.learning_rate:")


@pytest.mark.parametrize("mode", MODES)
def test_check_mode_accepts_the_modes(mode):
    assert check_mode(mode) == mode


@pytest.mark.parametrize("mode", ["train", "", "Pipeline"])
def test_check_mode_names_the_flag(mode):
    with pytest.raises(ConfigError, match="^--mode: "):
        check_mode(mode)


def test_the_demo_and_tiny_configs_exist():
    # The parametrised test skips a missing config; the demo and tiny ones must always exist.
    assert {"demo", "tiny"} <= {p.stem for p in CONFIGS.glob("*.py")}


@pytest.mark.parametrize("mode", sorted(OUTPUT_MODES))
def test_modes_that_write_or_read_a_path_need_output(mode):
    with pytest.raises(ConfigError, match=f"--output: needed for --mode={mode}"):
        check_output(mode, None)
    check_output(mode, "/tmp/somewhere")
    check_output("evaluate", None)


def test_grpo_starts_from_a_member_the_stages_build(config):
    config.stages = ("sft", "stage1", "grpo")
    validate(config)  # "best"
    config.grpo.init_from = "stage1_round_1"
    validate(config)
    config.grpo.init_from = "selfplay_iter_1"  # self-play is not among the stages
    message = _error(config)
    assert message.startswith("config.grpo.init_from: 'selfplay_iter_1' is not a model-base "
                              "member these stages build (best, sft, stage1_round_1)"), message


@pytest.mark.parametrize("field, value", [("batch_size", 4), ("epochs", 3), ("max_steps", 7),
                                          ("group_size", 2)])
def test_grpo_rejects_the_training_fields_it_does_not_read(config, field, value):
    _set(config, f"grpo.train.{field}", value)
    message = _error(config)
    assert message.startswith(f"config.grpo.train.{field}: GRPO does not read it"), message


def test_grpo_groups_split_into_whole_shares(config):
    config.grpo.questions_per_step, config.grpo.updates_per_rollout = 6, 4
    assert _error(config).startswith("config.grpo.questions_per_step: 6 groups do not split")
