"""Model configuration: one dataclass for the Llama-style decoder families we support.

Llama, Mistral and Qwen2 differ only in configuration: Qwen2 adds biases to the q/k/v
projections, Mistral may limit attention to a sliding window, Llama 3 rescales its rotary
frequencies. `ModelConfig.from_hf_config` reads a Hugging Face `config.json`; `PRESETS` holds the
paper's models by name (shapes from their published config.json; when a checkpoint directory is
at hand its own config.json is the authority).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from collections.abc import Mapping
from typing import Any

from spft_jax.errors import ConfigError

ARCHITECTURES = ("llama", "mistral", "qwen2")
DTYPES = ("float32", "bfloat16", "float16")
REMAT_POLICIES = ("none", "full", "dots_saveable")
ROPE_SCALING_TYPES = ("linear", "llama3")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    architecture: str
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    rope_theta: float = 10_000.0
    rope_scaling: Mapping[str, Any] | None = None  # {"rope_type": "linear"|"llama3", ...}
    rms_norm_eps: float = 1e-6
    attention_bias: bool = False  # biases on q/k/v (Qwen2)
    sliding_window: int | None = None  # attend to the last `sliding_window` positions only
    tie_word_embeddings: bool = False
    max_position_embeddings: int = 4096
    bos_token_id: int | None = None
    eos_token_ids: tuple[int, ...] = ()
    dtype: str = "float32"  # compute dtype
    param_dtype: str = "float32"  # storage dtype of the parameters
    remat: str = "none"  # activation checkpointing per decoder layer

    def __post_init__(self):
        def need(condition: bool, field: str, message: str):
            if not condition:
                raise ConfigError(f"model config field {field!r}: {message}")

        need(self.architecture in ARCHITECTURES, "architecture",
             f"{self.architecture!r} is not one of {ARCHITECTURES}")
        for field in ("vocab_size", "hidden_size", "intermediate_size", "num_layers",
                      "num_heads", "num_kv_heads", "head_dim"):
            value = getattr(self, field)
            need(isinstance(value, int) and value > 0, field, f"must be a positive int, got {value!r}")
        need(self.num_heads % self.num_kv_heads == 0, "num_kv_heads",
             f"{self.num_kv_heads} does not divide num_heads={self.num_heads}")
        need(self.head_dim % 2 == 0, "head_dim", f"rotary embeddings need an even size, got {self.head_dim}")
        need(self.dtype in DTYPES, "dtype", f"{self.dtype!r} is not one of {DTYPES}")
        need(self.param_dtype in DTYPES, "param_dtype", f"{self.param_dtype!r} is not one of {DTYPES}")
        need(self.remat in REMAT_POLICIES, "remat", f"{self.remat!r} is not one of {REMAT_POLICIES}")
        need(self.sliding_window is None or self.sliding_window > 0, "sliding_window",
             f"must be positive or None, got {self.sliding_window!r}")
        if self.rope_scaling is not None:
            kind = self.rope_scaling.get("rope_type", self.rope_scaling.get("type"))
            need(kind in ROPE_SCALING_TYPES, "rope_scaling",
                 f"rope type {kind!r} is not supported (supported: {ROPE_SCALING_TYPES})")
            need("factor" in self.rope_scaling, "rope_scaling", "needs a 'factor'")

    def replace(self, **changes) -> "ModelConfig":
        return dataclasses.replace(self, **changes)

    @property
    def num_params(self) -> int:
        """Parameter count, embeddings included."""
        attention = self.hidden_size * self.head_dim * (2 * self.num_heads + 2 * self.num_kv_heads)
        if self.attention_bias:
            attention += self.head_dim * (self.num_heads + 2 * self.num_kv_heads)
        layer = attention + 3 * self.hidden_size * self.intermediate_size + 2 * self.hidden_size
        embeddings = self.vocab_size * self.hidden_size * (1 if self.tie_word_embeddings else 2)
        return self.num_layers * layer + embeddings + self.hidden_size

    @classmethod
    def from_hf_config(cls, hf: Mapping[str, Any], **overrides) -> "ModelConfig":
        """Builds a config from a Hugging Face config.json dictionary."""
        model_type = hf.get("model_type")
        if model_type not in ARCHITECTURES:
            raise ConfigError(
                f"config.json field 'model_type': {model_type!r} is not a supported architecture "
                f"(supported: {ARCHITECTURES})"
            )

        def get(name: str, default: Any = dataclasses.MISSING) -> Any:
            if name in hf and hf[name] is not None:
                return hf[name]
            if default is dataclasses.MISSING:
                raise ConfigError(f"config.json has no field {name!r}")
            return default

        heads = get("num_attention_heads")
        sliding = None
        if model_type == "mistral":
            sliding = hf.get("sliding_window")
        elif model_type == "qwen2" and hf.get("use_sliding_window"):
            if hf.get("max_window_layers", get("num_hidden_layers")) < get("num_hidden_layers"):
                raise ConfigError(
                    "config.json fields 'use_sliding_window'/'max_window_layers': sliding window "
                    "on only some layers is not supported"
                )
            sliding = hf.get("sliding_window")
        eos = hf.get("eos_token_id")
        eos_ids = tuple(eos) if isinstance(eos, list) else (() if eos is None else (eos,))
        values = dict(
            architecture=model_type,
            vocab_size=get("vocab_size"),
            hidden_size=get("hidden_size"),
            intermediate_size=get("intermediate_size"),
            num_layers=get("num_hidden_layers"),
            num_heads=heads,
            num_kv_heads=get("num_key_value_heads", heads),
            head_dim=get("head_dim", get("hidden_size") // heads),
            rope_theta=float(get("rope_theta", hf.get("rope_parameters", {}).get("rope_theta", 10_000.0))),
            rope_scaling=_rope_scaling(hf),
            rms_norm_eps=float(get("rms_norm_eps", 1e-6)),
            attention_bias=bool(get("attention_bias", model_type == "qwen2")),
            sliding_window=sliding,
            tie_word_embeddings=bool(get("tie_word_embeddings", False)),
            max_position_embeddings=get("max_position_embeddings", 4096),
            bos_token_id=hf.get("bos_token_id"),
            eos_token_ids=eos_ids,
        )
        values.update(overrides)
        return cls(**values)

    @classmethod
    def from_pretrained_dir(cls, path: str | pathlib.Path, **overrides) -> "ModelConfig":
        config_path = pathlib.Path(path) / "config.json"
        if not config_path.is_file():
            raise ConfigError(f"no config.json in {path}")
        try:
            hf = json.loads(config_path.read_text())
        except json.JSONDecodeError as e:
            raise ConfigError(f"{config_path} is not valid JSON: {e}") from e
        return cls.from_hf_config(hf, **overrides)

    def to_hf_config(self) -> dict[str, Any]:
        """The config.json that `transformers` needs to rebuild this model."""
        hf_class = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM",
                    "qwen2": "Qwen2ForCausalLM"}[self.architecture]
        config = {
            "architectures": [hf_class],
            "model_type": self.architecture,
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_layers,
            "num_attention_heads": self.num_heads,
            "num_key_value_heads": self.num_kv_heads,
            "head_dim": self.head_dim,
            "hidden_act": "silu",
            "rope_theta": self.rope_theta,
            "rms_norm_eps": self.rms_norm_eps,
            "tie_word_embeddings": self.tie_word_embeddings,
            "max_position_embeddings": self.max_position_embeddings,
            "torch_dtype": self.param_dtype,
        }
        if self.rope_scaling is not None:
            config["rope_scaling"] = dict(self.rope_scaling)
        if self.architecture == "llama":
            config["attention_bias"] = self.attention_bias
            config["mlp_bias"] = False
        if self.architecture == "mistral":
            config["sliding_window"] = self.sliding_window
        if self.architecture == "qwen2":
            config["use_sliding_window"] = self.sliding_window is not None
            config["sliding_window"] = self.sliding_window
            config["max_window_layers"] = self.num_layers
        if self.bos_token_id is not None:
            config["bos_token_id"] = self.bos_token_id
        if self.eos_token_ids:
            config["eos_token_id"] = (
                self.eos_token_ids[0] if len(self.eos_token_ids) == 1 else list(self.eos_token_ids)
            )
        return config


def _rope_scaling(hf: Mapping[str, Any]) -> dict[str, Any] | None:
    scaling = hf.get("rope_scaling")
    if scaling is None:
        # transformers 5 writes `rope_parameters` ({"rope_type": "default", "rope_theta": ...}).
        parameters = hf.get("rope_parameters") or {}
        if parameters.get("rope_type", "default") != "default":
            scaling = parameters
    if scaling is None or scaling.get("rope_type", scaling.get("type")) == "default":
        return None
    scaling = dict(scaling)
    scaling.setdefault("rope_type", scaling.get("type"))
    scaling.pop("rope_theta", None)
    return scaling


def _preset(architecture: str, **fields) -> ModelConfig:
    return ModelConfig(architecture=architecture, **fields)


# The paper's models and the embedded default. Token ids are left to the tokenizer.
PRESETS: dict[str, ModelConfig] = {
    "smollm2-135m-instruct": _preset(
        "llama", vocab_size=49152, hidden_size=576, intermediate_size=1536, num_layers=30,
        num_heads=9, num_kv_heads=3, head_dim=64, rope_theta=100_000.0, rms_norm_eps=1e-5,
        tie_word_embeddings=True, max_position_embeddings=8192,
    ),
    "qwen2.5-coder-0.5b-instruct": _preset(
        "qwen2", vocab_size=151936, hidden_size=896, intermediate_size=4864, num_layers=24,
        num_heads=14, num_kv_heads=2, head_dim=64, rope_theta=1_000_000.0, rms_norm_eps=1e-6,
        attention_bias=True, tie_word_embeddings=True, max_position_embeddings=32768,
    ),
    "qwen2.5-coder-1.5b-instruct": _preset(
        "qwen2", vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_layers=28,
        num_heads=12, num_kv_heads=2, head_dim=128, rope_theta=1_000_000.0, rms_norm_eps=1e-6,
        attention_bias=True, tie_word_embeddings=True, max_position_embeddings=32768,
    ),
    "qwen2.5-coder-7b-instruct": _preset(
        "qwen2", vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_layers=28,
        num_heads=28, num_kv_heads=4, head_dim=128, rope_theta=1_000_000.0, rms_norm_eps=1e-6,
        attention_bias=True, max_position_embeddings=32768,
    ),
    "qwen2.5-coder-14b-instruct": _preset(
        "qwen2", vocab_size=152064, hidden_size=5120, intermediate_size=13824, num_layers=48,
        num_heads=40, num_kv_heads=8, head_dim=128, rope_theta=1_000_000.0, rms_norm_eps=1e-6,
        attention_bias=True, max_position_embeddings=32768,
    ),
    "qwen2.5-coder-32b-instruct": _preset(
        "qwen2", vocab_size=152064, hidden_size=5120, intermediate_size=27648, num_layers=64,
        num_heads=40, num_kv_heads=8, head_dim=128, rope_theta=1_000_000.0, rms_norm_eps=1e-6,
        attention_bias=True, max_position_embeddings=32768,
    ),
    "llama-3-8b-instruct": _preset(
        "llama", vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_layers=32,
        num_heads=32, num_kv_heads=8, head_dim=128, rope_theta=500_000.0, rms_norm_eps=1e-5,
        max_position_embeddings=8192,
    ),
    "deepseek-coder-6.7b-instruct": _preset(
        "llama", vocab_size=32256, hidden_size=4096, intermediate_size=11008, num_layers=32,
        num_heads=32, num_kv_heads=32, head_dim=128, rope_theta=100_000.0, rms_norm_eps=1e-6,
        rope_scaling={"rope_type": "linear", "factor": 4.0}, max_position_embeddings=16384,
    ),
    "deepseek-coder-7b-instruct-v1.5": _preset(
        "llama", vocab_size=102400, hidden_size=4096, intermediate_size=11008, num_layers=30,
        num_heads=32, num_kv_heads=32, head_dim=128, rope_theta=10_000.0, rms_norm_eps=1e-6,
        max_position_embeddings=4096,
    ),
    "mistral-7b": _preset(
        "mistral", vocab_size=32000, hidden_size=4096, intermediate_size=14336, num_layers=32,
        num_heads=32, num_kv_heads=8, head_dim=128, rope_theta=10_000.0, rms_norm_eps=1e-5,
        sliding_window=4096, max_position_embeddings=32768,
    ),
}


def preset(name: str, **overrides) -> ModelConfig:
    """A named preset (see PRESETS), with fields overridden."""
    key = name.lower()
    if key not in PRESETS:
        raise ConfigError(f"unknown model preset {name!r}; known: {', '.join(sorted(PRESETS))}")
    return PRESETS[key].replace(**overrides)
