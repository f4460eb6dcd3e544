"""The Llama-style decoder (Llama, Mistral, Qwen2) in Flax NNX.

Every parameter carries logical axis names (`sharding_names`); `spft_jax.parallel` maps them to
mesh axes. Kernels are stored [in, out] (Hugging Face stores [out, in]; weight IO transposes).

One forward pass serves training, prefill and decoding:

    logits, cache = model(tokens, positions, valid, cache=None | KVCache, write_index=0)

- `tokens`, `positions`: [batch, T] int32; `valid`: [batch, T] bool, False for padding;
- without a cache, attention is causal over the T tokens (and restricted to valid keys);
- with a cache, the T new keys/values are written at slots `write_index .. write_index+T-1` and
  each query attends to every valid cached slot at or before its own. Left-padded prompts then
  decode in lock-step: every sequence writes its next token at the same slot.
Padding never influences a valid position, so the logits of a sequence do not depend on how much
padding shares its batch.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from flax import nnx

from spft_jax.models.config import ModelConfig

_NEG_INF = -1e30  # large and finite, so fully masked rows give a uniform softmax, not NaN


def _dtype(name: str):
    return jnp.dtype(name)


def _param(rngs: nnx.Rngs, shape, axes, dtype, scale: float | None = None, ones: bool = False):
    if ones:
        value = jnp.ones(shape, dtype)
    else:
        std = scale if scale is not None else 1.0 / math.sqrt(shape[0])
        value = (std * jax.random.normal(rngs.params(), shape)).astype(dtype)
    return nnx.Param(value, out_sharding=axes, eager_sharding=False)


class Linear(nnx.Module):
    def __init__(self, d_in: int, d_out: int, axes: tuple[str, str], config: ModelConfig,
                 rngs: nnx.Rngs, bias: bool = False):
        self.kernel = _param(rngs, (d_in, d_out), axes, _dtype(config.param_dtype))
        self.bias = (
            nnx.Param(jnp.zeros((d_out,), _dtype(config.param_dtype)),
                      out_sharding=(axes[1],), eager_sharding=False)
            if bias else None
        )
        self.compute_dtype = _dtype(config.dtype)
        self.axes = axes
        # Low-rank adapter (see spft_jax.models.lora): y += (x @ lora_a @ lora_b) * lora_scale.
        # nnx.data: the attributes hold arrays once adapters are added, so they are graph data.
        self.lora_a = nnx.data(None)
        self.lora_b = nnx.data(None)
        self.lora_scale = 0.0

    def __call__(self, x: jax.Array) -> jax.Array:
        x = x.astype(self.compute_dtype)
        y = x @ self.kernel[...].astype(self.compute_dtype)
        if self.bias is not None:
            y = y + self.bias[...].astype(self.compute_dtype)
        if self.lora_a is not None:
            low_rank = (x @ self.lora_a[...].astype(self.compute_dtype)) @ self.lora_b[...].astype(
                self.compute_dtype)
            y = y + low_rank * self.lora_scale
        return y


class RMSNorm(nnx.Module):
    def __init__(self, size: int, config: ModelConfig, rngs: nnx.Rngs):
        self.weight = _param(rngs, (size,), ("norm",), _dtype(config.param_dtype), ones=True)
        self.eps = config.rms_norm_eps
        self.compute_dtype = _dtype(config.dtype)

    def __call__(self, x: jax.Array) -> jax.Array:
        # Normalise in float32 whatever the compute dtype (as the reference implementation).
        x32 = x.astype(jnp.float32)
        x32 = x32 * jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + self.eps)
        return self.weight[...].astype(self.compute_dtype) * x32.astype(self.compute_dtype)


def rope_inverse_frequencies(config: ModelConfig) -> jax.Array:
    """Rotary inverse frequencies, with Llama-3 or linear scaling applied when configured."""
    d = config.head_dim
    inv = 1.0 / (config.rope_theta ** (jnp.arange(0, d, 2, dtype=jnp.float32) / d))
    scaling = config.rope_scaling
    if scaling is None:
        return inv
    kind = scaling.get("rope_type", scaling.get("type"))
    factor = float(scaling["factor"])
    if kind == "linear":
        return inv / factor
    # llama3: long wavelengths are slowed down by `factor`, short ones kept, a smooth ramp between.
    low = float(scaling.get("low_freq_factor", 1.0))
    high = float(scaling.get("high_freq_factor", 4.0))
    original = float(scaling.get("original_max_position_embeddings", 8192))
    wavelength = 2 * math.pi / inv
    smooth = (original / wavelength - low) / (high - low)
    scaled = jnp.where(wavelength > original / low, inv / factor, inv)
    medium = (wavelength <= original / low) & (wavelength >= original / high)
    return jnp.where(medium, (1 - smooth) * inv / factor + smooth * inv, scaled)


def apply_rope(x: jax.Array, positions: jax.Array, inv_freq: jax.Array) -> jax.Array:
    """Rotates x [batch, T, heads, head_dim] by its positions [batch, T] (the "rotate half"
    layout Hugging Face checkpoints use)."""
    angles = positions[..., None].astype(jnp.float32) * inv_freq  # [B, T, D/2]
    angles = jnp.concatenate([angles, angles], axis=-1)[:, :, None, :]
    cos, sin = jnp.cos(angles), jnp.sin(angles)
    x32 = x.astype(jnp.float32)
    half = x.shape[-1] // 2
    rotated = jnp.concatenate([-x32[..., half:], x32[..., :half]], axis=-1)
    return (x32 * cos + rotated * sin).astype(x.dtype)


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class KVCache:
    """Keys and values of every layer at fixed capacity, plus what each slot holds.

    k, v: [layers, batch, capacity, kv_heads, head_dim]; positions: [batch, capacity] int32;
    valid: [batch, capacity] bool (False for empty slots and padding).
    """

    k: jax.Array
    v: jax.Array
    positions: jax.Array
    valid: jax.Array

    @classmethod
    def empty(cls, config: ModelConfig, batch: int, capacity: int, dtype=None) -> "KVCache":
        dtype = dtype or _dtype(config.dtype)
        shape = (config.num_layers, batch, capacity, config.num_kv_heads, config.head_dim)
        return cls(
            k=jnp.zeros(shape, dtype),
            v=jnp.zeros(shape, dtype),
            positions=jnp.zeros((batch, capacity), jnp.int32),
            valid=jnp.zeros((batch, capacity), bool),
        )

    @property
    def capacity(self) -> int:
        return self.k.shape[2]


class Attention(nnx.Module):
    def __init__(self, config: ModelConfig, rngs: nnx.Rngs):
        h, kv, d = config.num_heads, config.num_kv_heads, config.head_dim
        bias = config.attention_bias
        self.q_proj = Linear(config.hidden_size, h * d, ("embed", "heads"), config, rngs, bias)
        self.k_proj = Linear(config.hidden_size, kv * d, ("embed", "kv_heads"), config, rngs, bias)
        self.v_proj = Linear(config.hidden_size, kv * d, ("embed", "kv_heads"), config, rngs, bias)
        self.o_proj = Linear(h * d, config.hidden_size, ("heads", "embed"), config, rngs)
        self.config = config

    def __call__(self, x, positions, inv_freq, keys_positions, keys_valid, k_all, v_all,
                 query_slots, key_slots):
        """x: [B, T, hidden]. k_all/v_all: [B, S, kv, d] after this step's keys are written.
        Returns the output [B, T, hidden]."""
        cfg = self.config
        b, t, _ = x.shape
        q = self.q_proj(x).reshape(b, t, cfg.num_heads, cfg.head_dim)
        q = apply_rope(q, positions, inv_freq)
        groups = cfg.num_heads // cfg.num_kv_heads
        q = q.reshape(b, t, cfg.num_kv_heads, groups, cfg.head_dim)
        scores = jnp.einsum("btkgd,bskd->bkgts", q, k_all).astype(jnp.float32)
        scores = scores / math.sqrt(cfg.head_dim)
        # Causal by slot, restricted to valid keys, and to the window when there is one.
        mask = (key_slots[None, None, :] <= query_slots[None, :, None]) & keys_valid[:, None, :]
        if cfg.sliding_window is not None:
            distance = positions[:, :, None] - keys_positions[:, None, :]
            mask = mask & (distance < cfg.sliding_window)
        scores = jnp.where(mask[:, None, None, :, :], scores, _NEG_INF)
        weights = jax.nn.softmax(scores, axis=-1).astype(v_all.dtype)
        out = jnp.einsum("bkgts,bskd->btkgd", weights, v_all)
        return self.o_proj(out.reshape(b, t, cfg.num_heads * cfg.head_dim))

    def keys_values(self, x, positions, inv_freq):
        cfg = self.config
        b, t, _ = x.shape
        k = self.k_proj(x).reshape(b, t, cfg.num_kv_heads, cfg.head_dim)
        v = self.v_proj(x).reshape(b, t, cfg.num_kv_heads, cfg.head_dim)
        return apply_rope(k, positions, inv_freq), v


class MLP(nnx.Module):
    def __init__(self, config: ModelConfig, rngs: nnx.Rngs):
        self.gate_proj = Linear(config.hidden_size, config.intermediate_size, ("embed", "mlp"), config, rngs)
        self.up_proj = Linear(config.hidden_size, config.intermediate_size, ("embed", "mlp"), config, rngs)
        self.down_proj = Linear(config.intermediate_size, config.hidden_size, ("mlp", "embed"), config, rngs)

    def __call__(self, x):
        return self.down_proj(jax.nn.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nnx.Module):
    def __init__(self, config: ModelConfig, rngs: nnx.Rngs):
        self.input_layernorm = RMSNorm(config.hidden_size, config, rngs)
        self.self_attn = Attention(config, rngs)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config, rngs)
        self.mlp = MLP(config, rngs)

    def __call__(self, x, positions, inv_freq, cache_k, cache_v, layer_index, cache_positions,
                 cache_valid, write_index, query_slots, key_slots):
        """Returns (x, cache_k, cache_v). With a cache (all layers' [L, B, S, kv, d] arrays),
        this step's keys/values are written into layer `layer_index`'s slots in place; without
        one, the keys are the T tokens' own and cache_k/cache_v stay None."""
        h = self.input_layernorm(x)
        k, v = self.self_attn.keys_values(h, positions, inv_freq)
        if cache_k is not None:
            start = (layer_index, 0, write_index, 0, 0)
            cache_k = jax.lax.dynamic_update_slice(cache_k, k[None].astype(cache_k.dtype), start)
            cache_v = jax.lax.dynamic_update_slice(cache_v, v[None].astype(cache_v.dtype), start)
            k, v = cache_k[layer_index], cache_v[layer_index]
        x = x + self.self_attn(h, positions, inv_freq, cache_positions, cache_valid, k, v,
                               query_slots, key_slots)
        x = x + self.mlp(self.post_attention_layernorm(x))
        return x, cache_k, cache_v


_REMAT_POLICIES = {
    "full": None,
    "dots_saveable": jax.checkpoint_policies.dots_with_no_batch_dims_saveable,
}


class Decoder(nnx.Module):
    """Token ids in, next-token logits out."""

    def __init__(self, config: ModelConfig, rngs: nnx.Rngs):
        self.config = config
        self.embed_tokens = nnx.Param(
            (jax.random.normal(rngs.params(), (config.vocab_size, config.hidden_size)) * 0.02)
            .astype(_dtype(config.param_dtype)),
            out_sharding=("vocab", "embed"),
            eager_sharding=False,
        )
        self.layers = nnx.List([DecoderLayer(config, rngs) for _ in range(config.num_layers)])
        self.norm = RMSNorm(config.hidden_size, config, rngs)
        self.lm_head = (
            None if config.tie_word_embeddings
            else Linear(config.hidden_size, config.vocab_size, ("embed", "vocab"), config, rngs)
        )

    def hidden_states(self, tokens, positions, valid, cache: KVCache | None = None, write_index=0):
        """The final normalised hidden states [B, T, hidden] and the updated cache."""
        cfg = self.config
        compute = _dtype(cfg.dtype)
        x = jnp.take(self.embed_tokens[...], tokens, axis=0).astype(compute)
        inv_freq = rope_inverse_frequencies(cfg)
        t = tokens.shape[1]
        if cache is None:
            key_slots = jnp.arange(t)
            query_slots = key_slots
            keys_positions, keys_valid = positions, valid
        else:
            key_slots = jnp.arange(cache.capacity)
            query_slots = write_index + jnp.arange(t)
            keys_positions = jax.lax.dynamic_update_slice_in_dim(
                cache.positions, positions.astype(jnp.int32), write_index, axis=1)
            keys_valid = jax.lax.dynamic_update_slice_in_dim(cache.valid, valid, write_index, axis=1)

        def run_layer(layer, x, cache_k, cache_v, index):
            return layer(x, positions, inv_freq, cache_k, cache_v, index, keys_positions,
                         keys_valid, write_index, query_slots, key_slots)

        if cfg.remat != "none":
            plain_layer = run_layer
            policy = _REMAT_POLICIES[cfg.remat]

            def run_layer(layer, x, cache_k, cache_v, index):
                # jax.checkpoint over a pure function of the layer's state: the layer is rebuilt
                # inside, so nothing of the outer trace (e.g. a value_and_grad over the whole
                # model's parameters) is touched from the inner one.
                graphdef, state = nnx.split(layer)

                def pure(state, x, cache_k, cache_v):
                    return plain_layer(nnx.merge(graphdef, state), x, cache_k, cache_v, index)

                return jax.checkpoint(pure, policy=policy)(state, x, cache_k, cache_v)
        cache_k = None if cache is None else cache.k
        cache_v = None if cache is None else cache.v
        for index, layer in enumerate(self.layers):
            x, cache_k, cache_v = run_layer(layer, x, cache_k, cache_v, index)
        x = self.norm(x)
        if cache is None:
            return x, None
        return x, KVCache(cache_k, cache_v, keys_positions, keys_valid)

    def logits_from_hidden(self, x: jax.Array) -> jax.Array:
        """Next-token logits (float32) from final hidden states."""
        compute = _dtype(self.config.dtype)
        if self.lm_head is None:
            logits = x @ self.embed_tokens[...].astype(compute).T
        else:
            logits = self.lm_head(x)
        return logits.astype(jnp.float32)

    def __call__(self, tokens, positions=None, valid=None, cache: KVCache | None = None,
                 write_index=0):
        if valid is None:
            valid = jnp.ones(tokens.shape, bool)
        if positions is None:
            positions = jnp.maximum(jnp.cumsum(valid, axis=1) - 1, 0).astype(jnp.int32)
        x, cache = self.hidden_states(tokens, positions, valid, cache, write_index)
        return self.logits_from_hidden(x), cache
