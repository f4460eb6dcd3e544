"""Test helpers: tiny randomly initialised transformers models and hand-written GGUF files."""

from __future__ import annotations

import pathlib

import gguf
import numpy as np
import torch
import transformers
from tokenizers import pre_tokenizers

TINY = dict(vocab_size=101, hidden_size=48, intermediate_size=96, num_hidden_layers=2,
            num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=128,
            rms_norm_eps=1e-5)

_FAMILIES = {
    "llama": (transformers.LlamaConfig, transformers.LlamaForCausalLM),
    "qwen2": (transformers.Qwen2Config, transformers.Qwen2ForCausalLM),
    "mistral": (transformers.MistralConfig, transformers.MistralForCausalLM),
}


def randomize_(model: torch.nn.Module, seed: int) -> None:
    """Random weights at a scale where logits are O(1) and every parameter matters: norm
    weights near 1, biases nonzero (transformers initialises biases to zero)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=generator)
            if "norm" in name:
                param.copy_(1.0 + 0.2 * noise)
            elif name.endswith("bias"):
                param.copy_(0.3 * noise)
            elif "embed_tokens" in name:
                param.copy_(noise)
            else:
                param.copy_(noise / param.shape[1] ** 0.5)


def tiny_hf_model(family: str, seed: int = 0, **overrides) -> torch.nn.Module:
    config_class, model_class = _FAMILIES[family]
    config = config_class(**{**TINY, **overrides})
    config._attn_implementation = "eager"
    model = model_class(config).eval()
    randomize_(model, seed)
    return model


def hf_logits(model: torch.nn.Module, prompts: list[list[int]]) -> list[np.ndarray]:
    """Logits [T, vocab] of each unpadded prompt, one forward pass per prompt."""
    with torch.no_grad():
        return [model(torch.tensor([p])).logits[0].float().numpy() for p in prompts]


def left_pad(prompts: list[list[int]], pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    width = max(len(p) for p in prompts)
    tokens = np.full((len(prompts), width), pad_id, np.int32)
    valid = np.zeros((len(prompts), width), bool)
    for row, prompt in enumerate(prompts):
        tokens[row, width - len(prompt):] = prompt
        valid[row, width - len(prompt):] = True
    return tokens, valid


# --- GGUF ---------------------------------------------------------------------------------

# llama.cpp names written out independently of spft_jax.models.hf_names.
_LAYER = {"input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
          "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
          "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
          "mlp.down_proj": "ffn_down"}
_GLOBAL = {"model.embed_tokens": "token_embd", "model.norm": "output_norm", "lm_head": "output"}


def llama_cpp_name(hf_name: str) -> str:
    stem, kind = hf_name.rsplit(".", 1)
    if stem in _GLOBAL:
        return f"{_GLOBAL[stem]}.{kind}"
    _, _, layer, rest = stem.split(".", 3)
    return f"blk.{layer}.{_LAYER[rest]}.{kind}"


def llama_cpp_permute(weights: np.ndarray, heads: int) -> np.ndarray:
    """The row order llama.cpp's converter gives attn_q/attn_k for the llama architecture: within
    each head, row i of the first half and row i of the second half become neighbours."""
    return (weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def byte_level_vocab() -> tuple[list[str], list[int], list[str]]:
    """A small byte-level BPE vocabulary in GGUF form: (tokens, token types, merges). Three
    control tokens (ids 0-2), one user-defined token, the 256 byte symbols and a few merges."""
    tokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<sql>"]
    types = [3, 3, 3, 4]
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tokens += alphabet
    types += [1] * len(alphabet)
    merges = ["S E", "SE L", "SEL E", "SELE C", "SELEC T", "Ġ F", "ĠF R", "ĠFR O", "ĠFRO M",
              "Ġ t", "Ġt h", "Ġth e", "1 2"]
    for merge in merges:
        tokens.append(merge.replace(" ", ""))
        types.append(1)
    return tokens, types, merges


def write_gguf(path: pathlib.Path, arch: str, metadata: dict, tensors: dict[str, np.ndarray],
               quantize: dict[str, gguf.GGMLQuantizationType] | None = None) -> pathlib.Path:
    """Writes a GGUF file: metadata values typed by their Python type (int -> uint32,
    float -> float32, lists of str or int -> arrays), tensors in [out, in] order."""
    writer = gguf.GGUFWriter(str(path), arch)
    for key, value in metadata.items():
        if isinstance(value, bool):
            writer.add_bool(key, value)
        elif isinstance(value, int):
            writer.add_uint32(key, value)
        elif isinstance(value, float):
            writer.add_float32(key, value)
        elif isinstance(value, str):
            writer.add_string(key, value)
        else:
            writer.add_array(key, list(value))
    for name, array in tensors.items():
        qtype = (quantize or {}).get(name)
        if qtype is None:
            writer.add_tensor(name, np.ascontiguousarray(array, np.float32))
        else:
            data = gguf.quants.quantize(np.ascontiguousarray(array, np.float32), qtype)
            writer.add_tensor(name, data, raw_dtype=qtype)  # shape taken from the bytes
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def gguf_from_hf(path: pathlib.Path, model: torch.nn.Module, *, arch: str = "llama",
                 tokenizer: bool = False, extra_metadata: dict | None = None,
                 drop: tuple[str, ...] = (), add: dict[str, np.ndarray] | None = None,
                 quantize: dict[str, gguf.GGMLQuantizationType] | None = None) -> pathlib.Path:
    """A GGUF file holding a transformers model's weights as llama.cpp's converter would write
    them (llama.cpp names; attn_q/attn_k rows permuted for the llama architecture)."""
    config = model.config
    heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
    tensors = {}
    for name, value in model.state_dict().items():
        array = value.float().numpy()
        if arch == "llama" and ".q_proj." in name:
            array = llama_cpp_permute(array, heads)
        elif arch == "llama" and ".k_proj." in name:
            array = llama_cpp_permute(array, kv_heads)
        if name == "lm_head.weight" and config.tie_word_embeddings:
            continue
        tensors[llama_cpp_name(name)] = array
    for name in drop:
        del tensors[name]
    tensors.update(add or {})
    metadata = {
        f"{arch}.block_count": config.num_hidden_layers,
        f"{arch}.context_length": config.max_position_embeddings,
        f"{arch}.embedding_length": config.hidden_size,
        f"{arch}.feed_forward_length": config.intermediate_size,
        f"{arch}.attention.head_count": heads,
        f"{arch}.attention.head_count_kv": kv_heads,
        f"{arch}.rope.freq_base": float(config.rope_parameters["rope_theta"]),
        f"{arch}.attention.layer_norm_rms_epsilon": float(config.rms_norm_eps),
        f"{arch}.vocab_size": config.vocab_size,
    }
    if tokenizer:
        tokens, types, merges = byte_level_vocab()
        assert len(tokens) == config.vocab_size, (len(tokens), config.vocab_size)
        metadata.update({
            "tokenizer.ggml.model": "gpt2",
            "tokenizer.ggml.pre": "smollm",
            "tokenizer.ggml.tokens": tokens,
            "tokenizer.ggml.token_type": types,
            "tokenizer.ggml.merges": merges,
            "tokenizer.ggml.bos_token_id": 1,
            "tokenizer.ggml.eos_token_id": 2,
            "tokenizer.ggml.padding_token_id": 2,
            "tokenizer.chat_template": "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
                                       "{{ m['content'] }}<|im_end|>\n{% endfor %}"
                                       "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
        })
    metadata.update(extra_metadata or {})
    return write_gguf(path, arch, metadata, tensors, quantize)


def tiny_vocab_size() -> int:
    return len(byte_level_vocab()[0])
