"""LoRA: low-rank adapters on chosen projections, trained while the base weights stay frozen.

`add_lora` puts a pair (A [in, r] random, B [r, out] zero) on every matching `Linear`, so the
model is unchanged until B moves; the adapters are `nnx.LoRAParam` variables, which is how
training selects them (`nnx.split(model, nnx.LoRAParam, ...)`). `merge_lora` folds
W + (alpha / r) A B back into the kernels and removes the adapters, for export.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from spft_jax.errors import ConfigError
from spft_jax.models.decoder import Decoder, Linear

DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def _linears(model: Decoder, targets: Sequence[str]):
    for path, module in nnx.iter_graph(model):
        if isinstance(module, Linear) and path and path[-1] in targets:
            yield path, module


def add_lora(model: Decoder, rank: int, alpha: float, rngs: nnx.Rngs,
             targets: Sequence[str] = DEFAULT_TARGETS) -> int:
    """Adds adapters in place; returns how many projections got one."""
    if rank <= 0:
        raise ConfigError(f"lora field 'rank': must be positive, got {rank}")
    unknown = set(targets) - set(DEFAULT_TARGETS)
    if unknown:
        raise ConfigError(f"lora field 'targets': unknown projections {sorted(unknown)}; "
                          f"known: {DEFAULT_TARGETS}")
    count = 0
    for _, linear in _linears(model, targets):
        d_in, d_out = linear.kernel.get_value().shape
        dtype = linear.kernel.get_value().dtype
        a = jax.random.normal(rngs.params(), (d_in, rank)) / math.sqrt(d_in)
        linear.lora_a = nnx.LoRAParam(a.astype(dtype), out_sharding=(linear.axes[0], None),
                                      eager_sharding=False)
        linear.lora_b = nnx.LoRAParam(jnp.zeros((rank, d_out), dtype),
                                      out_sharding=(None, linear.axes[1]), eager_sharding=False)
        linear.lora_scale = alpha / rank
        count += 1
    if count == 0:
        raise ConfigError(f"lora field 'targets': no projection of the model matches {targets}")
    return count


def merge_lora(model: Decoder) -> int:
    """Folds every adapter into its kernel and removes it; returns how many were merged."""
    count = 0
    for _, linear in list(_linears(model, DEFAULT_TARGETS)):
        if linear.lora_a is None:
            continue
        kernel = linear.kernel.get_value()
        delta = (linear.lora_a.get_value().astype(jnp.float32)
                 @ linear.lora_b.get_value().astype(jnp.float32)) * linear.lora_scale
        linear.kernel.set_value((kernel.astype(jnp.float32) + delta).astype(kernel.dtype))
        linear.lora_a = None
        linear.lora_b = None
        linear.lora_scale = 0.0
        count += 1
    return count
