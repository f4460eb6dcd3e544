"""Activation memory of our training step on CPU, per token, by remat policy and layout.

    python benchmarks/activation_memory.py [--batch 4] [--length 256] [--preset smollm2-135m-instruct]

XLA assigns every buffer of a compiled step before it runs; `compiled.memory_analysis()` reports
the temporaries (activations kept for the backward pass, gradients in flight, workspace) apart
from the arguments and outputs (parameters, optimizer state, the batch). This benchmark compiles
the SFT train step of the preset (random weights, AdamW) for batches of `--batch` and twice as
many sequences of `--length` tokens and prints what an added token costs in temporaries (their
difference over the added tokens; a single batch's total divided by its tokens would count the
parameter-sized gradient and optimizer buffers as activations) for remat none / full /
dots_saveable,
against what each policy should keep: every layer's activations (none), every layer's input
(full), the matmul outputs (dots_saveable). The alternative the table is read against is the
same step with remat none. Compilation only: nothing runs, so it is not a timing.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from spft_jax.models.config import PRESETS
from spft_jax.models.decoder import Decoder
from spft_jax.train.optimizer import UpdateRule
from spft_jax.train.step import LossSpec, TrainStep, init_optimizer_state, split_trainable


def sft_batch(batch: int, length: int, vocab: int) -> dict:
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, vocab, (1, batch, length)).astype(np.int32)
    mask = np.broadcast_to(np.arange(length) >= length // 2, tokens.shape)
    k = length - length // 2
    index = np.broadcast_to(np.arange(length // 2 - 1, length - 1), (1, batch, k))
    return {"tokens": tokens, "valid": np.ones(tokens.shape, bool), "completion_mask": mask,
            "predict_index": index.astype(np.int32), "predict_mask": np.ones((1, batch, k), bool)}


def temporaries(config, batch: dict) -> tuple[int, float]:
    """(temporary bytes, compile seconds) of the jitted step."""
    model = nnx.eval_shape(lambda: Decoder(config, nnx.Rngs(0)))
    graphdef, trainable, frozen = split_trainable(model)
    rule = UpdateRule()
    opt_state = jax.eval_shape(lambda t: init_optimizer_state(rule, t), trainable)
    step = TrainStep(graphdef, LossSpec("sft"), rule)
    shapes = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype),
                          (trainable, frozen, opt_state))
    batch = {k: jax.ShapeDtypeStruct(v.shape, v.dtype) for k, v in batch.items()}
    start = time.perf_counter()
    compiled = jax.jit(step._step).lower(*shapes, batch, jnp.float32(1e-4)).compile()
    seconds = time.perf_counter() - start
    return compiled.memory_analysis().temp_size_in_bytes, seconds


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="smollm2-135m-instruct")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--length", type=int, default=256)
    args = parser.parse_args(argv)
    base = PRESETS[args.preset].replace(dtype="float32", param_dtype="float32")
    hidden, mlp, layers = base.hidden_size, base.intermediate_size, base.num_layers
    heads, kv, d = base.num_heads, base.num_kv_heads, base.head_dim
    length = args.length
    # fp32 values kept per token and layer by each policy (see the module docstring): with none,
    # the inputs of norms, projections, rope, attention (its [T, T] scores and weights per
    # head), the MLP's gate/up/product; full: the layer's input only; dots: the matmul outputs.
    expected = {
        "none": layers * 4 * (6 * hidden + 3 * heads * d + 2 * kv * d + 4 * mlp
                              + 2 * heads * length),
        "full": layers * 4 * hidden,
        "dots_saveable": layers * 4 * (2 * hidden + heads * d + 2 * kv * d + 2 * mlp),
    }
    print(f"# Activation memory per token: {args.preset}, fp32, full fine-tuning SFT step "
          f"(jax {jax.__version__}, {jax.default_backend()})\n")
    print(f"Temporaries at batch {args.batch} and at batch {2 * args.batch} of {length} tokens; "
          "the difference over the added tokens is what a token costs (the rest is "
          "parameter-sized: gradients, their accumulator, the optimizer's update).\n")
    print("| remat | temporaries MB (batch B) | temporaries MB (batch 2B) | parameter-sized MB "
          "| per added token KB | expected per token KB | vs remat none | compile s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    baseline = None
    for remat in ("none", "full", "dots_saveable"):
        config = base.replace(remat=remat)
        small, s1 = temporaries(config, sft_batch(args.batch, length, base.vocab_size))
        large, s2 = temporaries(config, sft_batch(2 * args.batch, length, base.vocab_size))
        per_token = (large - small) / (args.batch * length)
        baseline = baseline or per_token
        print(f"| {remat} | {small / 1e6:.0f} | {large / 1e6:.0f} | "
              f"{(small - per_token * args.batch * length) / 1e6:.0f} | {per_token / 1e3:.1f} | "
              f"{expected[remat] / 1e3:.1f} | {per_token / baseline:.2f}x | {s1 + s2:.0f} |")


if __name__ == "__main__":
    main()
