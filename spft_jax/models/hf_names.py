"""Names and layouts of the decoder's tensors in Hugging Face checkpoints and in GGUF files.

Our parameters live at NNX state paths that mirror the Hugging Face module names
(`("layers", 3, "self_attn", "q_proj", "kernel")` <-> `model.layers.3.self_attn.q_proj.weight`).
The one layout difference: a Hugging Face `nn.Linear` stores its weight [out, in], our kernels
are [in, out], so every projection weight is transposed on the way in and out. Embeddings, norm
weights and biases keep their layout.

`hf_tensor_specs(config)` lists every tensor a checkpoint for `config` must hold, with its
Hugging Face shape, so a loader can say exactly which tensor is missing, unexpected or misshapen.
`hf_name_for_gguf(name)` translates llama.cpp tensor names to Hugging Face ones.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from spft_jax.models.config import ModelConfig

ParamPath = tuple[str | int, ...]


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """One checkpoint tensor: its Hugging Face name and shape, and where it lives in our model."""

    hf_name: str
    path: ParamPath  # NNX state path of the parameter
    hf_shape: tuple[int, ...]  # shape in the checkpoint ([out, in] for projection weights)
    transpose: bool  # True for projection weights: checkpoint [out, in] <-> kernel [in, out]

    @property
    def param_shape(self) -> tuple[int, ...]:
        return tuple(reversed(self.hf_shape)) if self.transpose else self.hf_shape

    def to_param(self, array: np.ndarray) -> np.ndarray:
        """Checkpoint layout -> parameter layout (a view where possible)."""
        return array.T if self.transpose else array

    def to_hf(self, array: np.ndarray) -> np.ndarray:
        """Parameter layout -> checkpoint layout (a view where possible)."""
        return array.T if self.transpose else array


def hf_tensor_specs(config: ModelConfig) -> dict[str, TensorSpec]:
    """Every tensor of a Hugging Face checkpoint for `config`, keyed by Hugging Face name, in the
    order the model declares them."""
    h, kv, d = config.num_heads, config.num_kv_heads, config.head_dim
    hidden, mlp = config.hidden_size, config.intermediate_size
    specs: list[TensorSpec] = [
        TensorSpec("model.embed_tokens.weight", ("embed_tokens",), (config.vocab_size, hidden), False),
    ]
    projections = {
        # name: (module, [out, in], has bias)
        "q_proj": ("self_attn", (h * d, hidden), config.attention_bias),
        "k_proj": ("self_attn", (kv * d, hidden), config.attention_bias),
        "v_proj": ("self_attn", (kv * d, hidden), config.attention_bias),
        "o_proj": ("self_attn", (hidden, h * d), False),
        "gate_proj": ("mlp", (mlp, hidden), False),
        "up_proj": ("mlp", (mlp, hidden), False),
        "down_proj": ("mlp", (hidden, mlp), False),
    }
    for i in range(config.num_layers):
        prefix = f"model.layers.{i}"
        for norm in ("input_layernorm", "post_attention_layernorm"):
            specs.append(TensorSpec(f"{prefix}.{norm}.weight", ("layers", i, norm, "weight"),
                                    (hidden,), False))
        for name, (module, shape, bias) in projections.items():
            base = f"{prefix}.{module}.{name}"
            specs.append(TensorSpec(f"{base}.weight", ("layers", i, module, name, "kernel"), shape, True))
            if bias:
                specs.append(TensorSpec(f"{base}.bias", ("layers", i, module, name, "bias"),
                                        (shape[0],), False))
    specs.append(TensorSpec("model.norm.weight", ("norm", "weight"), (hidden,), False))
    if not config.tie_word_embeddings:
        specs.append(TensorSpec("lm_head.weight", ("lm_head", "kernel"), (config.vocab_size, hidden), True))
    return {spec.hf_name: spec for spec in specs}


def is_ignorable_hf_tensor(name: str, config: ModelConfig) -> bool:
    """Tensors some checkpoints carry that hold nothing we load: rotary tables (recomputed from
    the config) and, for tied embeddings, a copy of the embedding saved as `lm_head.weight`
    (transformers ignores it in that case too)."""
    if name.endswith(".rotary_emb.inv_freq"):
        return True
    return config.tie_word_embeddings and name == "lm_head.weight"


# llama.cpp tensor names (per layer after `blk.N.`) -> Hugging Face names (after `model.layers.N.`).
_GGUF_LAYER_NAMES = {
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
_GGUF_GLOBAL_NAMES = {
    "token_embd": "model.embed_tokens",
    "output_norm": "model.norm",
    "output": "lm_head",
}
_GGUF_LAYER_PATTERN = re.compile(r"blk\.(\d+)\.([a-z_]+)\.(weight|bias)")


def hf_name_for_gguf(name: str) -> str | None:
    """The Hugging Face name of a llama.cpp tensor (`blk.3.attn_q.weight` ->
    `model.layers.3.self_attn.q_proj.weight`), or None when it has no counterpart."""
    match = _GGUF_LAYER_PATTERN.fullmatch(name)
    if match:
        layer, part, kind = match.groups()
        hf_part = _GGUF_LAYER_NAMES.get(part)
        return None if hf_part is None else f"model.layers.{layer}.{hf_part}.{kind}"
    stem, _, kind = name.rpartition(".")
    if kind in ("weight", "bias") and stem in _GGUF_GLOBAL_NAMES:
        return f"{_GGUF_GLOBAL_NAMES[stem]}.{kind}"
    return None


def gguf_name_for_hf(hf_name: str) -> str:
    """Inverse of `hf_name_for_gguf`, for error messages and tests."""
    match = re.fullmatch(r"model\.layers\.(\d+)\.(.+)\.(weight|bias)", hf_name)
    if match:
        layer, part, kind = match.groups()
        inverse = {v: k for k, v in _GGUF_LAYER_NAMES.items()}
        return f"blk.{layer}.{inverse[part]}.{kind}"
    stem, _, kind = hf_name.rpartition(".")
    inverse = {v: k for k, v in _GGUF_GLOBAL_NAMES.items()}
    return f"{inverse[stem]}.{kind}"
