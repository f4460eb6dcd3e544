"""Why remat saves no memory on XLA:CPU, and two forms that do: a layer stack's backward pass.

    python benchmarks/remat_on_cpu.py [--layers 8] [--tokens 2048] [--hidden 576] [--mlp 1536]

A stack of residual MLP layers (SmolLM2's widths by default) is differentiated five ways and each
compiled step's temporaries are read from XLA's buffer assignment (`memory_analysis()`):

- plain: a Python loop over the layers, no remat (the alternative every row is read against);
- checkpoint: the same loop with `jax.checkpoint` on each layer (what `model.remat="full"` did
  before spft_jax/models/remat.py, and still does on GPU and TPU);
- cond: `spft_jax.models.remat.checkpoint(in_branch=True)`, what the decoder uses on CPU: each
  layer's backward recomputes its forward inside a `lax.cond` branch whose predicate XLA cannot
  fold, so no pass can merge the recomputation with the forward pass;
- scan / scan + checkpoint: the layers as one `lax.scan` over stacked weights.

It also counts the matrix products before and after XLA's optimisation (a recomputation that
survives adds one forward pass of them) and times one step of plain and cond, and checks that
their gradients agree. The reading: on CPU, `jax.checkpoint` in a loop compiles to exactly the
plain step (its recomputed products are removed again), so its memory is the plain step's.
"""

from __future__ import annotations

import argparse
import re
import time

import jax
import jax.numpy as jnp
import numpy as np

from spft_jax.models import remat


def layer(weights, x):
    up, down = weights
    return x + jnp.tanh(jnp.tanh(x @ up) @ down)


def loop_loss(mode):
    f = {"plain": layer, "checkpoint": jax.checkpoint(layer),
         "cond": remat.checkpoint(layer, in_branch=True)}[mode]

    def loss(weights, x):
        for w in weights:
            x = f(w, x)
        return (x ** 2).sum()

    return loss


def scan_loss(remat: bool):
    f = jax.checkpoint(layer) if remat else layer

    def loss(stacked, x):
        x, _ = jax.lax.scan(lambda x, w: (f(w, x), None), x, stacked)
        return (x ** 2).sum()

    return loss


def dots_before(stablehlo: str) -> int:
    return stablehlo.count("stablehlo.dot_general")


def dots_after(hlo: str) -> int:
    return len(re.findall(r" dot\(", hlo))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=2048)
    parser.add_argument("--hidden", type=int, default=576)
    parser.add_argument("--mlp", type=int, default=1536)
    args = parser.parse_args(argv)
    n, t, h, m = args.layers, args.tokens, args.hidden, args.mlp
    f32 = jnp.float32
    listed = [(jax.ShapeDtypeStruct((h, m), f32), jax.ShapeDtypeStruct((m, h), f32)) for _ in range(n)]
    stacked = (jax.ShapeDtypeStruct((n, h, m), f32), jax.ShapeDtypeStruct((n, m, h), f32))
    x = jax.ShapeDtypeStruct((t, h), f32)
    contenders = [("plain (Python loop)", loop_loss("plain"), listed),
                  ("jax.checkpoint per layer", loop_loss("checkpoint"), listed),
                  ("recompute in a lax.cond branch", loop_loss("cond"), listed),
                  ("lax.scan", scan_loss(False), stacked),
                  ("lax.scan + jax.checkpoint", scan_loss(True), stacked)]
    print(f"# Remat on {jax.default_backend()} (jax {jax.__version__}): {n} layers, {t} tokens, "
          f"hidden {h}, mlp {m}, fp32\n")
    print(f"Activations a layer keeps without remat: ~{4 * t * (h + 2 * m) / 1e6:.1f} MB; its "
          f"input alone: {4 * t * h / 1e6:.1f} MB.\n")
    print("| backward pass | temporaries MB | vs plain | matrix products in the program, before / "
          "after XLA (a loop body counts once) |")
    print("|---|---:|---:|---:|")
    plain = None
    for name, loss, weights in contenders:
        lowered = jax.jit(jax.grad(loss)).lower(weights, x)
        compiled = lowered.compile()
        temp = compiled.memory_analysis().temp_size_in_bytes
        plain = plain or temp
        print(f"| {name} | {temp / 1e6:.1f} | {temp / plain:.2f}x | "
              f"{dots_before(lowered.as_text())} / {dots_after(compiled.as_text())} |")
    rng = np.random.default_rng(0)
    values = [(rng.normal(size=(h, m)).astype(np.float32) * 0.02,
               rng.normal(size=(m, h)).astype(np.float32) * 0.02) for _ in range(n)]
    inputs = rng.normal(size=(t, h)).astype(np.float32)
    grads, seconds = {}, {}
    for mode in ("plain", "cond"):
        step = jax.jit(jax.grad(loop_loss(mode)))
        jax.block_until_ready(step(values, inputs))
        start = time.perf_counter()
        grads[mode] = jax.block_until_ready(step(values, inputs))
        seconds[mode] = time.perf_counter() - start
    difference = max(float(np.max(np.abs(a - b)))
                     for a, b in zip(jax.tree.leaves(grads["plain"]), jax.tree.leaves(grads["cond"])))
    print(f"\nOne step: plain {seconds['plain'] * 1e3:.0f} ms, cond {seconds['cond'] * 1e3:.0f} ms "
          f"({seconds['cond'] / seconds['plain']:.2f}x); largest gradient difference {difference:.3g}.")


if __name__ == "__main__":
    main()
