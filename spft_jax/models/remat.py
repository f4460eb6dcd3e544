"""Rematerialisation that holds on XLA:CPU too.

`jax.checkpoint` marks what the backward pass recomputes and wraps it in an optimisation barrier
so that XLA does not merge the recomputation back into the forward pass. XLA:CPU drops those
barriers and merges it anyway: a checkpointed layer loop compiles to the plain step, with the
plain step's memory (benchmarks/remat_on_cpu.py measures it). There, `checkpoint` below
recomputes each layer inside a `lax.cond` branch instead, where no such merge can reach; the
gradients are the same values, and the forward pass is unchanged. On GPU and TPU it is
`jax.checkpoint` itself.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np


def checkpoint(fn: Callable, policy: Callable | None = None,
               in_branch: bool | None = None) -> Callable:
    """`fn` rematerialised under `policy` (None: keep only its inputs), as jax.checkpoint.

    in_branch: recompute inside a conditional branch (default: on the CPU backend only)."""
    inner = jax.checkpoint(fn, policy=policy)
    if in_branch is None:
        in_branch = jax.default_backend() == "cpu"
    if not in_branch:
        return inner

    @jax.custom_vjp
    def rematerialised(*args):
        return fn(*args)

    def forward(*args):
        # The pullback holds what `policy` saves; everything else it recomputes when called.
        return jax.vjp(inner, *args)

    def backward(pullback, cotangent):
        cotangents = jax.eval_shape(lambda p, c: p(c), pullback, cotangent)
        leaves, tree = jax.tree.flatten(cotangents)
        real = [i for i, leaf in enumerate(leaves) if leaf.dtype != jax.dtypes.float0]

        def recompute(pullback, cotangent):
            grads = jax.tree.leaves(pullback(cotangent))
            return [grads[i] for i in real]

        def not_a_number(pullback, cotangent):
            return [jnp.full(leaves[i].shape, jnp.nan, leaves[i].dtype) for i in real]

        # Always true unless the cotangent holds a NaN (then the gradients are NaN either way);
        # XLA cannot fold it, so the recomputation stays inside the branch.
        total = sum(jnp.sum(c.astype(jnp.float32)) for c in jax.tree.leaves(cotangent))
        computed = iter(jax.lax.cond(total == total, recompute, not_a_number, pullback, cotangent))
        filled = [next(computed) if i in real else np.zeros(leaf.shape, jax.dtypes.float0)
                  for i, leaf in enumerate(leaves)]
        return tuple(jax.tree.unflatten(tree, filled))

    rematerialised.defvjp(forward, backward)
    return rematerialised
