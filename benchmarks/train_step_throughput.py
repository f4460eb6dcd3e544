"""Training-step throughput: our jitted TrainStep (AdamW) vs a Hugging Face `transformers`
*ForCausalLM (the preset's architecture) + torch.optim.AdamW step, same model shape, batch and
optimizer settings.

    python benchmarks/train_step_throughput.py [--preset smollm2-135m-instruct] [--batch 4]
        [--length 256] [--steps 3] [--warmup 1] [--dtype float32|bfloat16] [--remat none|full|dots_saveable]

On a GPU, the issue's configuration: --preset qwen2.5-coder-1.5b-instruct --dtype bfloat16
--length 2048 --batch 8 --remat dots_saveable.

Both sides start from random weights (throughput does not depend on their values), train with
SFT loss on the second half of every sequence, clip gradients at global norm 1.0 and take one
AdamW update per step. Warm-up steps (JAX compilation, torch's optimizer-state allocation) are
excluded; the table shows the median of the timed steps. On a GPU it also shows MFU: model
FLOPs (6 x matmul parameters x tokens, plus the attention score/value products, 12 x layers x
heads x head_dim x length per token, as in the PaLM paper's accounting) over the device's
peak FLOP/s from the table below; on a CPU, MFU is n/a.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from spft_jax.models.config import PRESETS, ModelConfig
from spft_jax.models.decoder import Decoder
from spft_jax.train.optimizer import UpdateRule
from spft_jax.train.step import LossSpec, TrainStep, init_optimizer_state, split_trainable

# Dense peak FLOP/s by device kind (vendor datasheets; NVIDIA "float32" is TF32 tensor-core math,
# which is what XLA uses for float32 matmuls on these GPUs by default).
PEAK_FLOPS = {
    "H100": {"bfloat16": 989e12, "float32": 495e12},
    "H200": {"bfloat16": 989e12, "float32": 495e12},
    "A100": {"bfloat16": 312e12, "float32": 156e12},
    "TPU v4": {"bfloat16": 275e12},
    "TPU v5 lite": {"bfloat16": 197e12},
    "TPU v5p": {"bfloat16": 459e12},
    "TPU v6 lite": {"bfloat16": 918e12},
}


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def peak_flops(device, dtype: str) -> float | None:
    if device.platform == "cpu":
        return None
    for name, peaks in PEAK_FLOPS.items():
        if name.lower() in device.device_kind.lower():
            return peaks.get(dtype)
    return None


def flops_per_step(config: ModelConfig, batch: int, length: int) -> float:
    matmul_params = config.num_params - config.hidden_size * (config.num_layers * 2 + 1)  # no norms
    if not config.tie_word_embeddings:
        matmul_params -= config.vocab_size * config.hidden_size  # the input lookup is no matmul
    attention = 12 * config.num_layers * config.num_heads * config.head_dim * length
    return (6 * matmul_params + attention) * batch * length


def make_batch(config: ModelConfig, batch: int, length: int, seed: int = 0):
    tokens = np.random.default_rng(seed).integers(0, config.vocab_size, (batch, length)).astype(np.int32)
    completion = np.broadcast_to(np.arange(length) >= length // 2, tokens.shape).copy()
    return tokens, completion


def time_steps(step, warmup: int, steps: int) -> list[float]:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        began = time.perf_counter()
        step()
        times.append(time.perf_counter() - began)
    return times


def ours(config: ModelConfig, tokens, completion, warmup: int, steps: int) -> list[float]:
    model = Decoder(config, nnx.Rngs(0))
    graphdef, trainable, frozen = split_trainable(model)
    rule = UpdateRule(name="adamw", weight_decay=0.0, clip_grad_norm=1.0)
    state = {"trainable": trainable, "opt_state": init_optimizer_state(rule, trainable)}
    step_fn = TrainStep(graphdef, LossSpec("sft"), rule)
    batch = {"tokens": jnp.asarray(tokens[None]), "valid": jnp.ones(tokens[None].shape, bool),
             "completion_mask": jnp.asarray(completion[None])}

    def step():
        state["trainable"], state["opt_state"], metrics = step_fn(
            state["trainable"], frozen, state["opt_state"], batch, 1e-5)
        jax.block_until_ready((state["trainable"], metrics))

    return time_steps(step, warmup, steps)


def transformers_step(config: ModelConfig, tokens, completion, warmup: int, steps: int) -> list[float]:
    import contextlib

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    device = "cuda" if torch.cuda.is_available() and jax.default_backend() == "gpu" else "cpu"
    hf = config.to_hf_config()
    hf.pop("architectures", None)
    hf.pop("torch_dtype", None)
    torch.manual_seed(0)
    # The model's own architecture class (Llama, Qwen2 or Mistral), fp32 master weights; bf16
    # compute through autocast, like our dtype=bfloat16 / param_dtype=float32.
    hf_config = AutoConfig.for_model(**hf, attn_implementation="sdpa")
    model = AutoModelForCausalLM.from_config(hf_config).to(device, torch.float32)
    model.train()
    autocast = (torch.autocast(device, dtype=torch.bfloat16) if config.dtype == "bfloat16"
                else contextlib.nullcontext())
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.0, eps=1e-8)
    input_ids = torch.as_tensor(tokens, dtype=torch.long, device=device)
    labels = input_ids.masked_fill(~torch.as_tensor(completion, device=device), -100)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            loss = model(input_ids=input_ids, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()

    return time_steps(step, warmup, steps), torch.__version__, torch.get_num_threads()


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="smollm2-135m-instruct", choices=sorted(PRESETS))
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per contender")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first (compilation)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"),
                        help="compute dtype (parameters stay float32: master weights)")
    parser.add_argument("--remat", default="none", choices=("none", "full", "dots_saveable"))
    parser.add_argument("--skip-transformers", action="store_true")
    args = parser.parse_args()

    config = PRESETS[args.preset].replace(dtype=args.dtype, param_dtype="float32", remat=args.remat)
    tokens, completion = make_batch(config, args.batch, args.length)
    step_tokens = args.batch * args.length
    device = jax.devices()[0]
    peak = peak_flops(device, args.dtype)
    flops = flops_per_step(config, args.batch, args.length)

    rows = [("spft_jax TrainStep + optax AdamW", ours(config, tokens, completion, args.warmup, args.steps))]
    torch_info = ""
    if not args.skip_transformers:
        times, torch_version, threads = transformers_step(config, tokens, completion, args.warmup,
                                                           args.steps)
        rows.append((f"transformers {config.to_hf_config()['architectures'][0]} + torch AdamW", times))
        torch_info = f", torch {torch_version} ({threads} threads)"

    import transformers

    print(f"\nTrain step throughput: {args.preset} ({config.num_params / 1e6:.1f}M params), "
          f"{args.dtype} compute, float32 weights, remat {args.remat}, "
          f"batch {args.batch} x {args.length} tokens, {args.warmup} warm-up + {args.steps} timed steps")
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores ({cpu_name()}); "
          f"JAX device: {device.device_kind} ({jax.default_backend()}); Python {platform.python_version()}, "
          f"jax {jax.__version__}, transformers {transformers.__version__}{torch_info}")
    print(f"Date: {datetime.date.today().isoformat()}\n")
    print("| contender | median step (s) | fastest step (s) | tokens/s | vs transformers | MFU |")
    print("|---|---:|---:|---:|---:|---:|")
    baseline = statistics.median(rows[-1][1])
    for name, times in rows:
        median = statistics.median(times)
        mfu = "n/a" if peak is None else f"{flops / median / peak:.1%}"
        print(f"| {name} | {median:.2f} | {min(times):.2f} | {step_tokens / median:,.0f} | "
              f"{baseline / median:.2f}x | {mfu} |")
    print(f"\nModel FLOPs per step: {flops / 1e12:.2f} TFLOP; "
          f"peak: {'n/a' if peak is None else f'{peak / 1e12:.0f} TFLOP/s'}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
