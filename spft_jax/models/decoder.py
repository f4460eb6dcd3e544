"""The Llama-style decoder (Llama, Mistral, Qwen2) in Flax NNX.

Every parameter carries logical axis names (`sharding_names`); `spft_jax.parallel` maps them to
mesh axes. Kernels are stored [in, out] (Hugging Face stores [out, in]; weight IO transposes).

One forward pass serves training, prefill and decoding:

    logits, cache = model(tokens, positions, valid, cache=None | KVCache, write_index=0)

- `tokens`, `positions`: [batch, T] int32; `valid`: [batch, T] bool, False for padding;
- without a cache, attention is causal over the T tokens (and restricted to valid keys);
- with a cache, the T new keys/values are written at slots `write_index .. write_index+T-1` and
  each query attends to every valid cached slot at or before its own. A single-token step
  (T = 1, decoding) attends to every valid slot: the cache then holds only that row's past, in
  any slot order, which lets the sampler use the cache as a ring (see spft_jax.sampling.decode).
  Every row writes at the same slot, so rows decode in lock-step.

The cache is one array per layer laid out [batch, kv_heads, slots, head_dim] (batch and heads
leading): on XLA:CPU the decode step's cost is reading the cache, and this layout with a
decode-specialised attention (no length-1 time axis) reads it about twice as fast as a stacked
[layers, batch, slots, kv_heads, head_dim] array (measured on SmolLM2 shapes, see BENCHMARKS.md).
Padding never influences a valid position, so the logits of a sequence do not depend on how much
padding shares its batch.

Profiles read by block: the forward pass runs under `jax.named_scope`s (trace-time names in the
HLO op metadata, no effect on numerics or shapes): `embed`, `layer_<i>` with `input_norm`,
`attention` (`qkv_proj`, `rope`, `kv_cache_update`, `core`, `out_proj`), `post_attention_norm`
and `mlp` inside, then `final_norm` and `lm_head`.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from flax import nnx

from spft_jax.models import remat
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

    k, v: one array per layer, [batch, kv_heads, capacity, head_dim] (any dtype: a bf16 cache
    halves the bytes a decode step reads); positions: [batch, capacity] int32; valid:
    [batch, capacity] bool (False for empty slots and padding).
    """

    k: tuple[jax.Array, ...]
    v: tuple[jax.Array, ...]
    positions: jax.Array
    valid: jax.Array

    @classmethod
    def empty(cls, config: ModelConfig, batch: int, capacity: int, dtype=None) -> "KVCache":
        dtype = dtype or _dtype(config.dtype)
        shape = (batch, config.num_kv_heads, capacity, config.head_dim)
        layers = range(config.num_layers)
        return cls(
            k=tuple(jnp.zeros(shape, dtype) for _ in layers),
            v=tuple(jnp.zeros(shape, dtype) for _ in layers),
            positions=jnp.zeros((batch, capacity), jnp.int32),
            valid=jnp.zeros((batch, capacity), bool),
        )

    @property
    def capacity(self) -> int:
        return self.k[0].shape[2]

    @property
    def dtype(self):
        return self.k[0].dtype


def attention_mask(query_slots, key_slots, query_positions, keys_positions, keys_valid,
                   sliding_window: int | None, single_step: bool) -> jax.Array:
    """[B, T, S] which keys each query sees: causal by slot (a single decoding step: every
    valid slot, see the module docstring), valid keys only, and within the sliding window."""
    if single_step:
        mask = keys_valid[:, None, :]
    else:
        mask = (key_slots[None, None, :] <= query_slots[None, :, None]) & keys_valid[:, None, :]
    if sliding_window is not None:
        distance = query_positions[:, :, None] - keys_positions[:, None, :]
        mask = mask & (distance < sliding_window)
    return mask


class Attention(nnx.Module):
    def __init__(self, config: ModelConfig, rngs: nnx.Rngs):
        h, kv, d = config.num_heads, config.num_kv_heads, config.head_dim
        bias = config.attention_bias
        self.q_proj = Linear(config.hidden_size, h * d, ("embed", "heads"), config, rngs, bias)
        self.k_proj = Linear(config.hidden_size, kv * d, ("embed", "kv_heads"), config, rngs, bias)
        self.v_proj = Linear(config.hidden_size, kv * d, ("embed", "kv_heads"), config, rngs, bias)
        self.o_proj = Linear(h * d, config.hidden_size, ("heads", "embed"), config, rngs)
        self.config = config

    def queries(self, x, positions, inv_freq) -> jax.Array:
        """[B, T, kv_heads, groups, head_dim], rotated."""
        cfg = self.config
        b, t, _ = x.shape
        with jax.named_scope("qkv_proj"):
            q = self.q_proj(x).reshape(b, t, cfg.num_heads, cfg.head_dim)
        with jax.named_scope("rope"):
            q = apply_rope(q, positions, inv_freq)
        return q.reshape(b, t, cfg.num_kv_heads, cfg.num_heads // cfg.num_kv_heads, cfg.head_dim)

    def __call__(self, x, positions, inv_freq, k_all, v_all, mask, cached: bool):
        """x: [B, T, hidden]; mask: [B, T, S] (see `attention_mask`). k_all/v_all: the cache
        layer [B, kv, S, d] after this step's keys are written (`cached`), else the T tokens'
        own [B, T, kv, d]. Returns the output [B, T, hidden]."""
        cfg = self.config
        b, t, _ = x.shape
        q = self.queries(x, positions, inv_freq)
        scale = 1.0 / math.sqrt(cfg.head_dim)
        with jax.named_scope("core"):
            if cached and t == 1:
                # Decoding: no length-1 time axis in the contraction, which XLA:CPU reads the
                # cache for far faster than the general form.
                scores = jnp.einsum("bkgd,bksd->bkgs", q[:, 0], k_all).astype(jnp.float32) * scale
                scores = jnp.where(mask[:, 0][:, None, None, :], scores, _NEG_INF)
                weights = jax.nn.softmax(scores, axis=-1).astype(q.dtype)
                out = jnp.einsum("bkgs,bksd->bkgd", weights, v_all).astype(q.dtype)
            else:
                keys_spec = "bksd" if cached else "bskd"
                scores = jnp.einsum(f"btkgd,{keys_spec}->bkgts", q, k_all).astype(jnp.float32)
                scores = jnp.where(mask[:, None, None, :, :], scores * scale, _NEG_INF)
                weights = jax.nn.softmax(scores, axis=-1).astype(q.dtype)
                out = jnp.einsum(f"bkgts,{keys_spec}->btkgd", weights, v_all).astype(q.dtype)
        with jax.named_scope("out_proj"):
            return self.o_proj(out.reshape(b, t, cfg.num_heads * cfg.head_dim))

    def after_prefix(self, x, positions, inv_freq, prefix_k, prefix_v, prefix_mask, own_k,
                     own_v, own_mask):
        """Continuations [N, L, hidden] attending to their prefix's keys/values [N, P, kv, d]
        (`prefix_mask` [N, L, P]) and causally to their own (`own_mask` [N, L, L]): one softmax
        over both, exactly the attention of the sequence prefix + continuation."""
        cfg = self.config
        n, t, _ = x.shape
        q = self.queries(x, positions, inv_freq)
        scale = 1.0 / math.sqrt(cfg.head_dim)
        with jax.named_scope("core"):
            shared = jnp.einsum("btkgd,bskd->bkgts", q, prefix_k).astype(jnp.float32) * scale
            own = jnp.einsum("btkgd,bskd->bkgts", q, own_k).astype(jnp.float32) * scale
            shared = jnp.where(prefix_mask[:, None, None], shared, _NEG_INF)
            own = jnp.where(own_mask[:, None, None], own, _NEG_INF)
            weights = jax.nn.softmax(jnp.concatenate([shared, own], axis=-1),
                                     axis=-1).astype(q.dtype)
            width = prefix_k.shape[1]
            out = (jnp.einsum("bkgts,bskd->btkgd", weights[..., :width], prefix_v)
                   + jnp.einsum("bkgts,bskd->btkgd", weights[..., width:], own_v)).astype(q.dtype)
        with jax.named_scope("out_proj"):
            return self.o_proj(out.reshape(n, t, cfg.num_heads * cfg.head_dim))

    def keys_values(self, x, positions, inv_freq):
        cfg = self.config
        b, t, _ = x.shape
        with jax.named_scope("qkv_proj"):
            k = self.k_proj(x).reshape(b, t, cfg.num_kv_heads, cfg.head_dim)
            v = self.v_proj(x).reshape(b, t, cfg.num_kv_heads, cfg.head_dim)
        with jax.named_scope("rope"):
            return apply_rope(k, positions, inv_freq), v


class MLP(nnx.Module):
    def __init__(self, config: ModelConfig, rngs: nnx.Rngs):
        self.gate_proj = Linear(config.hidden_size, config.intermediate_size, ("embed", "mlp"), config, rngs)
        self.up_proj = Linear(config.hidden_size, config.intermediate_size, ("embed", "mlp"), config, rngs)
        self.down_proj = Linear(config.intermediate_size, config.hidden_size, ("mlp", "embed"), config, rngs)

    def __call__(self, x):
        with jax.named_scope("mlp"):
            return self.down_proj(jax.nn.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nnx.Module):
    def __init__(self, config: ModelConfig, rngs: nnx.Rngs):
        self.input_layernorm = RMSNorm(config.hidden_size, config, rngs)
        self.self_attn = Attention(config, rngs)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config, rngs)
        self.mlp = MLP(config, rngs)

    def __call__(self, x, positions, inv_freq, mask, cache_k, cache_v, write_index):
        """Returns (x, cache_k, cache_v). With a cache (this layer's [B, kv, S, d] arrays), this
        step's keys/values are written at slot `write_index` in place; without one, the keys are
        the T tokens' own and cache_k/cache_v stay None."""
        with jax.named_scope("input_norm"):
            h = self.input_layernorm(x)
        with jax.named_scope("attention"):
            k, v = self.self_attn.keys_values(h, positions, inv_freq)
            cached = cache_k is not None
            if cached:
                with jax.named_scope("kv_cache_update"):
                    start = (0, 0, write_index, 0)
                    cache_k = jax.lax.dynamic_update_slice(
                        cache_k, k.transpose(0, 2, 1, 3).astype(cache_k.dtype), start)
                    cache_v = jax.lax.dynamic_update_slice(
                        cache_v, v.transpose(0, 2, 1, 3).astype(cache_v.dtype), start)
                k, v = cache_k, cache_v
            x = x + self.self_attn(h, positions, inv_freq, k, v, mask, cached)
        with jax.named_scope("post_attention_norm"):
            h = self.post_attention_layernorm(x)
        x = x + self.mlp(h)
        return x, cache_k, cache_v


    def grouped(self, prefix_x, x, prefix_positions, positions, inv_freq, prefix_mask,
                group, cross_mask, own_mask):
        """One layer over prefixes [G, P, hidden] and continuations [N, L, hidden]; continuation
        n continues prefix group[n]. Returns (prefix_x, x)."""
        with jax.named_scope("input_norm"):
            hp = self.input_layernorm(prefix_x)
            h = self.input_layernorm(x)
        with jax.named_scope("attention"):
            kp, vp = self.self_attn.keys_values(hp, prefix_positions, inv_freq)
            k, v = self.self_attn.keys_values(h, positions, inv_freq)
            prefix_x = prefix_x + self.self_attn(hp, prefix_positions, inv_freq, kp, vp,
                                                 prefix_mask, cached=False)
            # Every continuation reads its prefix's keys/values: computed once per group, and
            # the gradient of each continuation flows back into them.
            x = x + self.self_attn.after_prefix(h, positions, inv_freq,
                                                jnp.take(kp, group, axis=0),
                                                jnp.take(vp, group, axis=0), cross_mask, k, v,
                                                own_mask)
        with jax.named_scope("post_attention_norm"):
            hp = self.post_attention_layernorm(prefix_x)
            h = self.post_attention_layernorm(x)
        prefix_x = prefix_x + self.mlp(hp)
        x = x + self.mlp(h)
        return prefix_x, x


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
        with jax.named_scope("embed"):
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
        mask = attention_mask(query_slots, key_slots, positions, keys_positions, keys_valid,
                              cfg.sliding_window, single_step=cache is not None and t == 1)

        def run_layer(layer, x, cache_k, cache_v):
            return layer(x, positions, inv_freq, mask, cache_k, cache_v, write_index)

        run_layer = self._rematted(run_layer)
        if cache is None:
            for i, layer in enumerate(self.layers):
                with jax.named_scope(f"layer_{i}"):
                    x, _, _ = run_layer(layer, x, None, None)
            return self._final_norm(x), None
        new_k, new_v = [], []
        for i, (layer, cache_k, cache_v) in enumerate(zip(self.layers, cache.k, cache.v)):
            with jax.named_scope(f"layer_{i}"):
                x, cache_k, cache_v = run_layer(layer, x, cache_k, cache_v)
            new_k.append(cache_k)
            new_v.append(cache_v)
        return self._final_norm(x), KVCache(tuple(new_k), tuple(new_v), keys_positions, keys_valid)

    def grouped_hidden_states(self, prefix_tokens, prefix_valid, tokens, valid, group):
        """Final normalised hidden states [N, L, hidden] of continuations after shared prefixes.

        prefix_tokens/prefix_valid: [G, P] (any padding, masked out); tokens/valid: [N, L]
        right-padded continuations; group: [N] the prefix each continues. Continuation n is the
        sequence (prefix group[n]'s valid tokens) + (its own), and gets exactly the hidden states
        that sequence gets from `hidden_states`, at positions continuing its prefix's; the prefix
        is computed once per group, never once per continuation.
        """
        cfg = self.config
        compute = _dtype(cfg.dtype)
        inv_freq = rope_inverse_frequencies(cfg)
        with jax.named_scope("embed"):
            embed = self.embed_tokens[...]
            prefix_x = jnp.take(embed, prefix_tokens, axis=0).astype(compute)
            x = jnp.take(embed, tokens, axis=0).astype(compute)
        prefix_positions = valid_positions(prefix_valid)
        prefix_length = jnp.sum(prefix_valid, axis=1).astype(jnp.int32)
        positions = jnp.take(prefix_length, group)[:, None] + valid_positions(valid)
        width = prefix_tokens.shape[1]
        prefix_mask = attention_mask(jnp.arange(width), jnp.arange(width), prefix_positions,
                                     prefix_positions, prefix_valid, cfg.sliding_window, False)
        own_mask = attention_mask(jnp.arange(tokens.shape[1]), jnp.arange(tokens.shape[1]),
                                  positions, positions, valid, cfg.sliding_window, False)
        cross_mask = jnp.broadcast_to(jnp.take(prefix_valid, group, axis=0)[:, None, :],
                                      (*tokens.shape, width))
        if cfg.sliding_window is not None:
            distance = positions[:, :, None] - jnp.take(prefix_positions, group, axis=0)[:, None, :]
            cross_mask = cross_mask & (distance < cfg.sliding_window)

        def run_layer(layer, prefix_x, x):
            return layer.grouped(prefix_x, x, prefix_positions, positions, inv_freq, prefix_mask,
                                 group, cross_mask, own_mask)

        run_layer = self._rematted(run_layer)
        for i, layer in enumerate(self.layers):
            with jax.named_scope(f"layer_{i}"):
                prefix_x, x = run_layer(layer, prefix_x, x)
        return self._final_norm(x)

    def _final_norm(self, x: jax.Array) -> jax.Array:
        with jax.named_scope("final_norm"):
            return self.norm(x)

    def _rematted(self, run_layer):
        """`run_layer(layer, *arrays)` under the configured remat policy."""
        if self.config.remat == "none":
            return run_layer
        policy = _REMAT_POLICIES[self.config.remat]

        def rematted(layer, *arrays):
            # jax.checkpoint over a pure function of the layer's state: the layer is rebuilt
            # inside, so nothing of the outer trace (e.g. a value_and_grad over the whole
            # model's parameters) is touched from the inner one.
            graphdef, state = nnx.split(layer)

            def pure(state, *arrays):
                return run_layer(nnx.merge(graphdef, state), *arrays)

            return remat.checkpoint(pure, policy=policy)(state, *arrays)

        return rematted

    def logits_from_hidden(self, x: jax.Array) -> jax.Array:
        """Next-token logits (float32) from final hidden states."""
        compute = _dtype(self.config.dtype)
        with jax.named_scope("lm_head"):
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
            positions = valid_positions(valid)
        x, cache = self.hidden_states(tokens, positions, valid, cache, write_index)
        return self.logits_from_hidden(x), cache


def valid_positions(valid: jax.Array) -> jax.Array:
    """Positions of right- or left-padded rows: each valid token's index among the valid ones."""
    return jnp.maximum(jnp.cumsum(valid, axis=1) - 1, 0).astype(jnp.int32)
