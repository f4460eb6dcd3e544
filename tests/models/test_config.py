"""ModelConfig: reading Hugging Face config.json, presets, and errors that name the field."""

import json

import pytest

from spft_jax.errors import ConfigError
from spft_jax.models.config import PRESETS, ModelConfig, preset

QWEN2_HF = {
    "model_type": "qwen2", "vocab_size": 151936, "hidden_size": 896, "intermediate_size": 4864,
    "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2,
    "rope_theta": 1000000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": True,
    "max_position_embeddings": 32768, "use_sliding_window": False, "sliding_window": 32768,
    "max_window_layers": 21, "bos_token_id": 151643, "eos_token_id": 151645,
}


def test_qwen2_config_json():
    config = ModelConfig.from_hf_config(QWEN2_HF)
    assert config == PRESETS["qwen2.5-coder-0.5b-instruct"].replace(
        bos_token_id=151643, eos_token_ids=(151645,)
    )
    assert config.attention_bias and config.sliding_window is None and config.head_dim == 64


def test_llama3_rope_scaling_and_mistral_window():
    llama = ModelConfig.from_hf_config({
        "model_type": "llama", "vocab_size": 128256, "hidden_size": 4096,
        "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
        "num_key_value_heads": 8, "rope_theta": 500000.0, "rms_norm_eps": 1e-5,
        "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                         "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
        "eos_token_id": [128001, 128009],
    })
    assert llama.rope_scaling["rope_type"] == "llama3" and llama.eos_token_ids == (128001, 128009)
    assert not llama.attention_bias
    mistral = ModelConfig.from_hf_config({
        "model_type": "mistral", "vocab_size": 32000, "hidden_size": 4096,
        "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
        "num_key_value_heads": 8, "sliding_window": 4096,
    })
    assert mistral == PRESETS["mistral-7b"].replace(rms_norm_eps=1e-6, max_position_embeddings=4096)


def test_hf_round_trip():
    for name, config in PRESETS.items():
        assert ModelConfig.from_hf_config(config.to_hf_config()) == config, name


def test_preset_parameter_counts_match_the_published_sizes():
    billions = {name: round(c.num_params / 1e9, 2) for name, c in PRESETS.items()}
    assert billions["qwen2.5-coder-1.5b-instruct"] == 1.54
    assert billions["qwen2.5-coder-7b-instruct"] == 7.62
    assert billions["llama-3-8b-instruct"] == 8.03
    assert billions["mistral-7b"] == 7.24
    assert round(PRESETS["smollm2-135m-instruct"].num_params / 1e6) == 135


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"model_type": "gpt2"}, "'model_type': 'gpt2' is not a supported architecture"),
        ({"vocab_size": None}, "no field 'vocab_size'"),
        ({"num_key_value_heads": 3}, "'num_kv_heads': 3 does not divide num_heads=14"),
        ({"rope_scaling": {"rope_type": "yarn", "factor": 4.0}}, "rope type 'yarn' is not supported"),
        ({"use_sliding_window": True}, "sliding window on only some layers"),
    ],
)
def test_bad_config_json_names_the_field(changes, message):
    with pytest.raises(ConfigError, match=message):
        ModelConfig.from_hf_config({**QWEN2_HF, **changes})


def test_bad_fields_and_presets():
    with pytest.raises(ConfigError, match="'dtype': 'float64'"):
        PRESETS["mistral-7b"].replace(dtype="float64")
    with pytest.raises(ConfigError, match="'remat'"):
        PRESETS["mistral-7b"].replace(remat="sometimes")
    with pytest.raises(ConfigError, match="unknown model preset 'gpt-5'"):
        preset("gpt-5")
    assert preset("Mistral-7B", dtype="bfloat16").dtype == "bfloat16"


def test_config_dir(tmp_path):
    with pytest.raises(ConfigError, match="no config.json"):
        ModelConfig.from_pretrained_dir(tmp_path)
    (tmp_path / "config.json").write_text("{oops")
    with pytest.raises(ConfigError, match="not valid JSON"):
        ModelConfig.from_pretrained_dir(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(QWEN2_HF))
    assert ModelConfig.from_pretrained_dir(tmp_path).num_layers == 24
