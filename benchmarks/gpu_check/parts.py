"""The parts of the GPU check (check.py beside this file); each runs in a process of its own:

    python benchmarks/gpu_check/parts.py PART --mode gpu|cpu --work DIR --result FILE
        [--smollm2 GGUF]

A part writes {"status", "reason", "summary", "numbers"} to FILE: "ok" when every check it makes
holds, "failed" with the reason when one does not or when it raised (the traceback is in its
log), "skipped" with the reason when it cannot apply here. --mode picks the sizes (SIZES): the
GPU run's, or tiny ones for the CPU. Nothing here is timed against a limit: check.py does that
from outside, which is why each part is a process.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import shlex
import statistics
import subprocess
import sys
import time
import traceback

ROOT = pathlib.Path(__file__).resolve().parents[2]
TRAIN_PRESET = "qwen2.5-coder-1.5b-instruct"
SAMPLER_PRESET = "smollm2-135m-instruct"
# fp32 logits: the bound the suite holds the real SmolLM2 to on a CPU (last positions; here
# every position), at the highest matmul precision, where both sides compute in true fp32.
FP32_TOLERANCE = 1e-3
# bf16 logits cannot match fp32 to a fixed bound; ours must be about as close to the fp32
# reference as transformers' own bf16 forward is: mean error at most this many times its mean
# error. (Top-1 agreement is reported, not checked: over a few hundred positions of a cut-down
# model a handful of near-ties flip either way.)
BF16_ERROR_RATIO = 2.0
# The sharded step against one device: the suite's bounds (tests/train/test_step.py).
SHARDED_PARAM_TOLERANCE = 1e-4
SHARDED_LOSS_TOLERANCE = 1e-5
# Shared-prefix and padded layouts of one batch: the same loss but for bf16 rounding.
PREFIX_LOSS_TOLERANCE = 1e-2


@dataclasses.dataclass(frozen=True)
class Sizes:
    prompts: int  # demo chat prompts for the logits and greedy checks
    prompt_tokens: int | None  # keep each prompt's last N tokens (None: whole prompts)
    greedy_new_tokens: int
    train_overrides: tuple  # (field, value) changes to the Qwen2.5-1.5B preset's shape
    train_batch: int
    train_length: int
    train_warmup: int
    train_steps: int
    sampler_overrides: tuple  # (field, value) changes to SmolLM2-135M's shape (vocabulary kept)
    sampler_batch: int
    sampler_new_tokens: int
    sampler_dtype: str
    sampler_repeats: int
    prefix_workload: tuple  # (databases, questions each, schema, question, SQL tokens)
    prefix_max_length: int
    prefix_bucket_multiple: int
    pipeline_args: tuple  # added to configs/tiny.py's command line


TINY_SHAPE = (("num_layers", 1), ("hidden_size", 64), ("intermediate_size", 128),
              ("num_heads", 4), ("num_kv_heads", 2), ("head_dim", 16))
SIZES = {
    "gpu": Sizes(prompts=4, prompt_tokens=None, greedy_new_tokens=32, train_overrides=(),
                 train_batch=4, train_length=2048, train_warmup=1, train_steps=3,
                 sampler_overrides=(), sampler_batch=64, sampler_new_tokens=64,
                 sampler_dtype="bfloat16", sampler_repeats=2,
                 # Spider-like: create_table schemas of ~1,000 tokens (PERF_NOTES.md), a
                 # micro-batch of two databases' runs of group_size=8 questions each
                 prefix_workload=(2, 8, 1024, 32, 48), prefix_max_length=2048,
                 prefix_bucket_multiple=128,
                 # bf16 compute with fp32 weights, as configs/spider.py runs on accelerators
                 pipeline_args=("--config.model.dtype=bfloat16",)),
    "cpu": Sizes(prompts=2, prompt_tokens=48, greedy_new_tokens=8,
                 train_overrides=(*TINY_SHAPE, ("vocab_size", 512)),
                 train_batch=2, train_length=64, train_warmup=1, train_steps=2,
                 sampler_overrides=TINY_SHAPE, sampler_batch=4, sampler_new_tokens=8,
                 sampler_dtype="float32", sampler_repeats=1,
                 prefix_workload=(2, 4, 48, 8, 8), prefix_max_length=128,
                 prefix_bucket_multiple=32,
                 # The suite's end-to-end test runs every stage on the CPU; here the wiring is
                 # what is checked (the sampler and the SQL workers), in the time a test can spend.
                 pipeline_args=("--config.stages=('base_eval',)",)),
}


@dataclasses.dataclass(frozen=True)
class Context:
    mode: str
    sizes: Sizes
    smollm2: pathlib.Path | None
    work: pathlib.Path


@dataclasses.dataclass
class Outcome:
    numbers: dict
    summary: str
    failures: list[str] = dataclasses.field(default_factory=list)

    def record(self) -> dict:
        status = "failed" if self.failures else "ok"
        return {"status": status, "reason": "; ".join(self.failures), "summary": self.summary,
                "numbers": self.numbers}


class Skip(Exception):
    """The part does not apply here; its message says why."""


# --- helpers shared by the parts ---------------------------------------------------------------

def need_smollm2(ctx: Context) -> pathlib.Path:
    if ctx.smollm2 is None:
        raise Skip("no SmolLM2 GGUF (see the results' smollm2 entry)")
    return ctx.smollm2


def torch_device(ctx: Context) -> str:
    import torch

    if ctx.mode == "cpu":
        return "cpu"
    if not torch.cuda.is_available():
        raise RuntimeError("torch sees no CUDA device, so transformers cannot run beside us")
    return "cuda"


def describe_model(config, path: pathlib.Path) -> str:
    from spft_jax.models.gguf_file import read_gguf

    total = read_gguf(path).metadata.get("spft.source_block_count", config.num_layers)
    return (f"{path.name}: {config.num_layers} of {total} layers, "
            f"{config.num_params / 1e6:.0f}M params")


def demo_prompts(tokenizer, sizes: Sizes, count: int | None = None) -> list[list[int]]:
    """The sampler benchmark's Text-to-SQL chat prompts (demo schema + question). With
    `sizes.prompt_tokens`, prompt i keeps its last prompt_tokens - 5 i tokens (the question and
    the assistant turn), lengths that differ, as whole prompts' do, so batches are padded."""
    from sampler_throughput import chat_prompts

    prompts = chat_prompts(tokenizer, sizes.prompts if count is None else count)
    if not sizes.prompt_tokens:
        return prompts
    return [p[-max(sizes.prompt_tokens - 5 * i, 8):] for i, p in enumerate(prompts)]


_STARTED = time.perf_counter()


def say(message: str) -> None:
    """Where the part is, with the seconds since it started (the log shows what took long)."""
    print(f"[{time.perf_counter() - _STARTED:6.1f} s] {message}", flush=True)


def hf_model(directory: pathlib.Path, dtype: str, device: str):
    import torch
    import transformers

    transformers.utils.logging.disable_progress_bar()  # a bar per load only clutters the log
    model = transformers.AutoModelForCausalLM.from_pretrained(directory,
                                                              dtype=getattr(torch, dtype))
    return model.to(device).eval()


def exported(model, config, tokenizer, directory: pathlib.Path) -> pathlib.Path:
    from spft_jax.models.export import export_hf

    return export_hf(model, config, tokenizer, directory)


def rounded(value: float, digits: int = 4) -> float:
    return float(f"{value:.{digits}g}")


# --- environment ---------------------------------------------------------------------------------

REQUIRED_MODULES = ("jax", "flax", "optax", "orbax.checkpoint", "numpy", "torch", "transformers",
                    "tokenizers", "safetensors", "sqlglot", "ml_collections", "gguf",
                    "tensorboardX", "absl", "jinja2", "matplotlib", "tqdm", "ml_dtypes")
# Only data prepared as TFDS (config.data.source.format=tfds) needs these; the check does not.
OPTIONAL_MODULES = ("tensorflow_datasets", "array_record")
DISTRIBUTIONS = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy", "torch",
                 "transformers", "tokenizers", "safetensors", "sqlglot", "ml-collections", "gguf",
                 "tensorboardX")


def importable(name: str) -> bool:
    import importlib

    try:
        importlib.import_module(name)
        return True
    except Exception:  # a broken install is as missing as an absent one
        return False


def part_environment(ctx: Context) -> Outcome:
    import importlib.metadata as metadata
    import platform

    versions = {}
    for name in DISTRIBUTIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    missing = [m for m in REQUIRED_MODULES if not importable(m)]
    optional_missing = [m for m in OPTIONAL_MODULES if not importable(m)]
    numbers = {"python": platform.python_version(), "versions": versions, "missing": missing,
               "optional_missing": optional_missing}
    failures = [f"cannot import {', '.join(missing)}"] if missing else []
    if "jax" not in missing:
        import jax

        devices = jax.devices()
        stats = devices[0].memory_stats() or {}
        numbers.update(jax=jax.__version__, backend=jax.default_backend(),
                       devices=[d.device_kind for d in devices], device_count=len(devices),
                       device_memory_limit_gib=rounded(stats["bytes_limit"] / 2**30)
                       if "bytes_limit" in stats else None)
        if ctx.mode == "gpu" and jax.default_backend() == "cpu":
            failures.append("JAX's backend is the CPU: no CUDA plugin, or it found no GPU")
    if "torch" not in missing:
        import torch

        cuda = torch.cuda.is_available()
        numbers.update(torch=torch.__version__, torch_cuda=cuda,
                       torch_device=torch.cuda.get_device_name(0) if cuda else None)
        if ctx.mode == "gpu" and not cuda:
            failures.append("torch sees no CUDA device")
    if "transformers" not in missing:
        import transformers

        numbers["transformers"] = transformers.__version__
    summary = (f"{numbers.get('backend', '?')}: {', '.join(numbers.get('devices', [])) or '?'}; "
               f"jax {numbers.get('jax', '?')}, torch {numbers.get('torch', '?')}, "
               f"transformers {numbers.get('transformers', '?')}")
    return Outcome(numbers, summary, failures)


# --- correctness -------------------------------------------------------------------------------

class LogitErrors:
    """Errors of one set of logits against a reference, accumulated prompt by prompt."""

    def __init__(self):
        self.max_abs, self.abs_sum, self.count, self.same_top1, self.positions = 0.0, 0.0, 0, 0, 0

    def add(self, got, reference) -> None:
        import numpy as np

        diff = np.abs(got - reference)
        self.max_abs = max(self.max_abs, float(diff.max()))
        self.abs_sum += float(diff.sum())
        self.count += diff.size
        self.same_top1 += int((got.argmax(-1) == reference.argmax(-1)).sum())
        self.positions += reference.shape[0]

    def as_dict(self) -> dict:
        return {"max_abs": rounded(self.max_abs), "mean_abs": rounded(self.abs_sum / self.count),
                "top1_agreement": rounded(self.same_top1 / self.positions)}


def part_smollm2_logits(ctx: Context) -> Outcome:
    import jax
    import jax.numpy as jnp
    import numpy as np
    import torch
    from flax import nnx

    from spft_jax.models.loading import load_model
    from tests.models.helpers import left_pad  # how the parity tests pad

    path = need_smollm2(ctx)
    device = torch_device(ctx)
    ours32, config, tokenizer = load_model(path, dtype="float32")
    ours16, _, _ = load_model(path, dtype="bfloat16")
    directory = exported(ours32, config, tokenizer, ctx.work / "smollm2_logits_hf")
    theirs32 = hf_model(directory, "float32", device)
    theirs16 = hf_model(directory, "bfloat16", device)
    prompts = demo_prompts(tokenizer, ctx.sizes)
    say(f"models loaded and exported; {len(prompts)} prompts")

    # Ours: the prompts as one left-padded batch (the padding path, and one compilation per
    # model and precision); theirs: each prompt alone, unpadded, the reference.
    tokens, valid = (jnp.asarray(a) for a in left_pad(prompts, pad_id=tokenizer.pad_id))
    forward = nnx.jit(lambda model, tokens, valid: model(tokens, valid=valid)[0])

    def ours(model) -> list:
        logits = np.asarray(forward(model, tokens, valid), np.float32)
        return [logits[row, tokens.shape[1] - len(p):] for row, p in enumerate(prompts)]

    def theirs(model, prompt):
        with torch.no_grad():
            return model(torch.tensor([prompt], device=device)).logits[0].float().cpu().numpy()

    with jax.default_matmul_precision("highest"):
        ours32_highest = ours(ours32)
    # What the pipeline gets without asking: on NVIDIA GPUs XLA may use TF32 for fp32 dots.
    ours32_default, ours16 = ours(ours32), ours(ours16)
    say("our logits computed")
    errors = {name: LogitErrors() for name in ("fp32_highest", "fp32_default", "bf16_ours",
                                               "bf16_transformers", "bf16_ours_vs_transformers")}
    scale = 0.0
    for row, prompt in enumerate(prompts):
        reference, their16 = theirs(theirs32, prompt), theirs(theirs16, prompt)
        scale = max(scale, float(np.abs(reference).max()))
        errors["fp32_highest"].add(ours32_highest[row], reference)
        errors["fp32_default"].add(ours32_default[row], reference)
        errors["bf16_ours"].add(ours16[row], reference)
        errors["bf16_transformers"].add(their16, reference)
        errors["bf16_ours_vs_transformers"].add(ours16[row], their16)
    say("transformers' logits computed and compared")
    numbers = {name: e.as_dict() for name, e in errors.items()}
    numbers.update(model=describe_model(config, path), prompts=len(prompts),
                   prompt_tokens=[min(map(len, prompts)), max(map(len, prompts))],
                   reference_max_abs_logit=rounded(scale), fp32_tolerance=FP32_TOLERANCE,
                   torch_device=device)
    fp32, b_ours = numbers["fp32_highest"], numbers["bf16_ours"]
    b_theirs = numbers["bf16_transformers"]
    failures = []
    if fp32["max_abs"] > FP32_TOLERANCE:
        failures.append(f"fp32 max |logit diff| {fp32['max_abs']:.3g} > {FP32_TOLERANCE:g}")
    if b_ours["mean_abs"] > BF16_ERROR_RATIO * b_theirs["mean_abs"]:
        failures.append(f"bf16 mean error {b_ours['mean_abs']:.3g} > {BF16_ERROR_RATIO:g} x "
                        f"transformers' {b_theirs['mean_abs']:.3g}")
    summary = (f"fp32 max abs diff {fp32['max_abs']:.2g} (highest precision), "
               f"{numbers['fp32_default']['max_abs']:.2g} (default); bf16 mean abs diff ours "
               f"{b_ours['mean_abs']:.2g} vs transformers {b_theirs['mean_abs']:.2g}, top-1 "
               f"{b_ours['top1_agreement']:.1%} vs {b_theirs['top1_agreement']:.1%}")
    return Outcome(numbers, summary, failures)


def part_smollm2_greedy(ctx: Context) -> Outcome:
    import jax
    import torch

    from spft_jax.models.loading import load_model
    from spft_jax.sampling import Sampler, SamplingParams

    # Token identity needs true fp32 on both sides (torch does not use TF32 unless asked).
    jax.config.update("jax_default_matmul_precision", "highest")
    path = need_smollm2(ctx)
    device = torch_device(ctx)
    model, config, tokenizer = load_model(path, dtype="float32")
    prompts = demo_prompts(tokenizer, ctx.sizes)
    new_tokens = ctx.sizes.greedy_new_tokens
    sampler = Sampler(model, tokenizer, max_batch_rows=len(prompts))
    began = time.perf_counter()
    completions = sampler.generate(prompts, SamplingParams(max_new_tokens=new_tokens))
    seconds = time.perf_counter() - began
    say(f"sampler generated {len(prompts)} rows in {seconds:.1f} s (compilation included)")
    theirs = hf_model(exported(model, config, tokenizer, ctx.work / "smollm2_greedy_hf"),
                      "float32", device)
    rows = []
    for prompt, (completion,) in zip(prompts, completions):
        with torch.no_grad():
            output = theirs.generate(
                torch.tensor([prompt], device=device),
                attention_mask=torch.ones(1, len(prompt), dtype=torch.long, device=device),
                do_sample=False, max_new_tokens=new_tokens,
                eos_token_id=list(sampler.eos_token_ids), pad_token_id=sampler.pad_token_id)
        expected = output[0, len(prompt):].tolist()
        first_difference = next((i for i, (a, b) in enumerate(zip(completion.token_ids, expected))
                                 if a != b), None)
        if first_difference is None and len(completion.token_ids) != len(expected):
            first_difference = min(len(completion.token_ids), len(expected))
        rows.append({"identical": first_difference is None, "first_difference": first_difference,
                     "ours": completion.text[:200],
                     "transformers": tokenizer.decode(expected)[:200]})
    same = sum(r["identical"] for r in rows)
    numbers = {"model": describe_model(config, path), "prompts": len(prompts),
               "new_tokens": new_tokens, "identical_rows": same, "rows": rows,
               "sampler_first_call_s": rounded(seconds), "torch_device": device}
    failures = [] if same == len(rows) else [f"{len(rows) - same} of {len(rows)} rows differ"]
    return Outcome(numbers, f"{same}/{len(rows)} rows token-identical ({new_tokens} new tokens, "
                            "fp32)", failures)


def mesh_layouts(devices: int) -> dict[str, tuple[int, int, int]]:
    """(data, fsdp, tensor) meshes over `devices` (a power of two up to 8) that the suite's
    sharded-step script can use: its batch has 8 rows and its model 2 KV heads."""
    layouts = {f"fsdp{devices}": (1, devices, 1)}
    if devices >= 4:
        layouts[f"data2_fsdp{devices // 2}"] = (2, devices // 2, 1)
        layouts[f"fsdp{devices // 2}_tensor2"] = (1, devices // 2, 2)
    return layouts


def part_sharded_train_step(ctx: Context) -> Outcome:
    import jax
    import numpy as np
    from flax import nnx

    from spft_jax.models.decoder import Decoder
    from spft_jax.parallel.mesh import make_mesh
    from spft_jax.train.step import split_trainable
    from tests.train.step_script import CONFIG, train  # the suite's 8-CPU-device comparison

    count = len(jax.devices())
    if count < 2:
        raise Skip(f"{count} device: the sharded step needs more than one")
    jax.config.update("jax_default_matmul_precision", "highest")  # sharding, not TF32, is tested
    used = min(8, 1 << (count.bit_length() - 1))
    devices = jax.devices()[:used]

    def leaves(tree):
        return [np.asarray(x) for x in jax.tree.leaves(tree)]

    with jax.default_device(devices[0]):
        reference, reference_metrics = train(None)
    say("reference steps on one device done")
    reference = leaves(reference)
    initial = leaves(split_trainable(Decoder(CONFIG, nnx.Rngs(0)))[1])
    numbers, failures = {"devices": count, "devices_used": used}, []
    for name, sizes in mesh_layouts(used).items():
        params, metrics = train(make_mesh(*sizes, devices=devices))
        got = leaves(params)
        diff = max(float(np.abs(a - b).max()) for a, b in zip(got, reference))
        change = max(float(np.abs(a - b).max()) for a, b in zip(got, initial))
        loss_diff = abs(float(metrics["loss"]) - float(reference_metrics["loss"]))
        say(f"{name}: max param diff {diff:.3g}, loss diff {loss_diff:.3g}")
        numbers[name] = {"max_param_diff": rounded(diff), "max_param_change": rounded(change),
                         "loss_diff": rounded(loss_diff)}
        if (diff >= SHARDED_PARAM_TOLERANCE or diff >= 1e-2 * change
                or loss_diff >= SHARDED_LOSS_TOLERANCE):
            failures.append(f"{name}: parameters off by {diff:.3g} (moved {change:.3g}), "
                            f"loss by {loss_diff:.3g}")
    worst = max(v["max_param_diff"] for v in numbers.values() if isinstance(v, dict))
    meshes = len(mesh_layouts(used))
    return Outcome(numbers, f"{meshes} mesh{'es' if meshes > 1 else ''} over {used} devices, "
                            f"max param diff {worst:.2g}", failures)


# --- speed -------------------------------------------------------------------------------------

def train_config(ctx: Context, remat: str):
    """The Qwen2.5-1.5B preset's shape (tiny on the CPU), bf16 compute on fp32 weights."""
    import train_step_throughput as bench

    return bench.PRESETS[TRAIN_PRESET].replace(dtype="bfloat16", param_dtype="float32",
                                               remat=remat, **dict(ctx.sizes.train_overrides))


def batch_arrays(examples, **config) -> tuple[dict, int]:
    """The first batch the pipeline's Batcher makes of `examples` (its arrays, [1, rows, ...],
    and its non-padding tokens): the layout training really uses."""
    from spft_jax.train.batches import BatchConfig, Batcher, DataPosition

    batch = Batcher(examples, BatchConfig(batch_size=len(examples), **config), seed=0).batch_at(
        DataPosition())
    return batch.arrays, batch.num_tokens


def timed_train_steps(config, arrays: dict, warmup: int, steps: int
                      ) -> tuple[list[float], float, float]:
    """(timed step seconds, warm-up seconds, first step's loss) of AdamW SFT steps of a fresh
    random model on one batch, timed as train_step_throughput.py times its own (whose `ours`
    makes its batch itself, where these parts need the Batcher's layouts)."""
    import jax
    import jax.numpy as jnp
    from flax import nnx

    import train_step_throughput as bench
    from spft_jax.models.decoder import Decoder
    from spft_jax.train.optimizer import UpdateRule
    from spft_jax.train.step import LossSpec, TrainStep, init_optimizer_state, split_trainable

    graphdef, trainable, frozen = split_trainable(Decoder(config, nnx.Rngs(0)))
    rule = UpdateRule(name="adamw", weight_decay=0.0, clip_grad_norm=1.0)
    state = {"trainable": trainable, "opt_state": init_optimizer_state(rule, trainable),
             "losses": []}
    step_fn = TrainStep(graphdef, LossSpec("sft"), rule)
    batch = {name: jnp.asarray(value) for name, value in arrays.items()}

    def step():
        state["trainable"], state["opt_state"], metrics = step_fn(
            state["trainable"], frozen, state["opt_state"], batch, 1e-5)
        jax.block_until_ready((state["trainable"], metrics))
        state["losses"].append(float(metrics["loss"]))

    began = time.perf_counter()
    times = bench.time_steps(step, warmup, steps)
    return times, time.perf_counter() - began - sum(times), state["losses"][0]


def train_mfu(ctx: Context, remat: str) -> Outcome:
    import jax
    import numpy as np

    import train_step_throughput as bench
    from spft_jax.train.batches import SftExample

    sizes = ctx.sizes
    batch, length = sizes.train_batch, sizes.train_length
    config = train_config(ctx, remat)
    # train_step_throughput.py's batch: random tokens, the loss on the second half of each row.
    tokens = np.random.default_rng(0).integers(0, config.vocab_size, (batch, length)).tolist()
    examples = [SftExample(row[:length // 2], row[length // 2:]) for row in tokens]
    arrays, _ = batch_arrays(examples, max_length=length, bucket_multiple=length)
    say(f"{config.num_params / 1e6:.0f}M params, remat {remat}, batch {batch} x {length}: "
        "compiling and stepping")
    times, warmup_s, _ = timed_train_steps(config, arrays, sizes.train_warmup, sizes.train_steps)
    median = statistics.median(times)
    # The benchmark's PaLM-style count, less the output head where the loss needs no
    # prediction (the prompt half): those FLOPs are not model FLOPs of this SFT step.
    unpredicted = batch * (length - length // 2)
    flops = (bench.flops_per_step(config, batch, length)
             - 6 * config.vocab_size * config.hidden_size * unpredicted)
    device = jax.devices()[0]
    peak = bench.peak_flops(device, "bfloat16")
    numbers = {"preset": TRAIN_PRESET, "overrides": dict(sizes.train_overrides),
               "params_m": rounded(config.num_params / 1e6),
               "dtype": "bfloat16 compute, fp32 weights", "remat": remat, "batch": batch,
               "length": length,
               "timed_steps": [rounded(t) for t in times], "median_step_s": rounded(median),
               "warmup_s": rounded(warmup_s), "tokens_per_s": rounded(batch * length / median),
               "model_tflop_per_step": rounded(flops / 1e12),
               "achieved_tflop_per_s": rounded(flops / median / 1e12),
               "peak_tflop_per_s": None if peak is None else rounded(peak / 1e12),
               "mfu": None if peak is None else rounded(flops / median / peak),
               "device": device.device_kind}
    mfu = "MFU n/a (no known peak)" if peak is None else f"MFU {numbers['mfu']:.1%}"
    summary = (f"{median:.3g} s/step, {batch * length / median:,.0f} tok/s, "
               f"{flops / median / 1e12:.3g} TFLOP/s, {mfu}")
    return Outcome(numbers, summary)


def part_train_mfu_remat_none(ctx: Context) -> Outcome:
    return train_mfu(ctx, "none")


def part_train_mfu_remat_dots_saveable(ctx: Context) -> Outcome:
    return train_mfu(ctx, "dots_saveable")


def part_sampler_throughput(ctx: Context) -> Outcome:
    import torch

    import sampler_throughput as bench
    from spft_jax.models import config as config_lib
    from spft_jax.models.loading import load_model, model_config_and_tokenizer, random_model
    from spft_jax.sampling import Sampler, SamplingParams

    sizes = ctx.sizes
    device = torch_device(ctx)
    _, tokenizer = model_config_and_tokenizer(need_smollm2(ctx))  # the real tokenizer
    # Random weights of SmolLM2's whole shape: speed does not depend on the values, and the
    # carried GGUF holds only some of the layers.
    shape = config_lib.preset(SAMPLER_PRESET, **dict(sizes.sampler_overrides))
    directory = exported(random_model(shape), shape, tokenizer, ctx.work / "sampler_hf")
    ours_model, config, _ = load_model(directory, dtype=sizes.sampler_dtype)
    theirs_model = hf_model(directory, sizes.sampler_dtype, device)
    prompts = demo_prompts(tokenizer, sizes, sizes.sampler_batch)
    say(f"random model exported and loaded on both sides; {len(prompts)} prompts")
    # One contender of ours, the Sampler as the pipeline builds it (the CPU benchmark also runs
    # its variants: each is another compilation, which the GPU budget has no room for).
    sampler = Sampler(ours_model, tokenizer, max_batch_rows=len(prompts))
    # No EOS at all on their side, EOS ignored on ours: every row runs to the limit.
    theirs_model.generation_config.eos_token_id = None
    results = {"ours": {}, "transformers": {}}
    for label, steps in (("full", sizes.sampler_new_tokens), ("prefill", 1)):
        params = SamplingParams(max_new_tokens=steps, ignore_eos=True)
        results["ours"][label] = bench.first_and_best(
            lambda: [c[0].token_ids for c in sampler.generate(prompts, params)],
            sizes.sampler_repeats)
        say(f"ours, {steps} new tokens: done")
        # The benchmark makes its input tensors with torch's factory functions: under a device
        # context they are made on the GPU, beside the model.
        with torch.device(device):
            results["transformers"][label] = bench.first_and_best(
                lambda: bench.hf_generate(theirs_model, prompts, tokenizer.pad_id, steps, None),
                sizes.sampler_repeats)
        say(f"transformers, {steps} new tokens: done")
    generated = sizes.sampler_batch * sizes.sampler_new_tokens
    numbers = {"model": f"{SAMPLER_PRESET} shape, random weights, {config.num_layers} layers",
               "overrides": dict(sizes.sampler_overrides), "dtype": sizes.sampler_dtype,
               "batch": sizes.sampler_batch,
               "new_tokens": sizes.sampler_new_tokens, "repeats": sizes.sampler_repeats,
               "prompt_tokens": [min(map(len, prompts)), max(map(len, prompts))],
               "torch_device": device}
    for name, result in results.items():
        first, seconds, _ = result["full"]
        _, prefill, _ = result["prefill"]
        numbers[name] = {
            "first_call_s": rounded(first), "generate_s": rounded(seconds),
            "generated_tok_per_s": rounded(generated / seconds), "prefill_s": rounded(prefill),
            "decode_tok_per_s": rounded(sizes.sampler_batch * (sizes.sampler_new_tokens - 1)
                                        / max(seconds - prefill, 1e-9))}
    ratio = numbers["ours"]["generated_tok_per_s"] / numbers["transformers"]["generated_tok_per_s"]
    numbers["ours_vs_transformers"] = rounded(ratio)
    # Random weights: identical rows are information, not a check (ties are likely).
    numbers["identical_rows"] = sum(a == b for a, b in zip(results["ours"]["full"][2],
                                                           results["transformers"]["full"][2]))
    summary = (f"ours {numbers['ours']['generated_tok_per_s']:,.0f} vs transformers "
               f"{numbers['transformers']['generated_tok_per_s']:,.0f} generated tok/s "
               f"({ratio:.2f}x), batch {sizes.sampler_batch} x {sizes.sampler_new_tokens}, "
               f"{sizes.sampler_dtype}")
    return Outcome(numbers, summary)


def prefix_examples(vocab: int, workload: tuple) -> list:
    """Text-to-SQL-shaped SFT examples of random tokens: per database a schema every question
    of it starts with, then the question, then the SQL (the completion)."""
    import numpy as np

    from spft_jax.train.batches import SftExample

    databases, questions, schema, question, sql = workload
    rng = np.random.default_rng(0)
    tokens = lambda n: rng.integers(1, vocab, n).tolist()  # noqa: E731
    examples = []
    for db in range(databases):
        prefix = tokens(schema)
        examples += [SftExample(prefix + tokens(question), tokens(sql), f"db{db}")
                     for _ in range(questions)]
    return examples


def part_prefix_shared_train_step(ctx: Context) -> Outcome:
    from spft_jax.pipeline.defaults import training_section

    # The feature is a training-config field; until it exists there is nothing to compare.
    if "share_prefix" not in training_section():
        raise Skip("not implemented yet: the training config has no share_prefix field")
    from spft_jax.train.layout import computed_tokens

    sizes = ctx.sizes
    config = train_config(ctx, "dots_saveable")  # configs/spider.py's remat
    examples = prefix_examples(config.vocab_size, sizes.prefix_workload)
    workload = dict(zip(("databases", "questions_per_database", "schema_tokens",
                         "question_tokens", "sql_tokens"), sizes.prefix_workload))
    numbers = {"preset": TRAIN_PRESET, "overrides": dict(sizes.train_overrides),
               "remat": "dots_saveable", "workload": workload}
    for share in (False, True):
        arrays, example_tokens = batch_arrays(
            examples, max_length=sizes.prefix_max_length,
            bucket_multiple=sizes.prefix_bucket_multiple, share_prefix=share,
            group_size=sizes.prefix_workload[1])
        say(f"share_prefix={share}: tokens {list(arrays['tokens'].shape)}, compiling and stepping")
        times, warmup_s, loss = timed_train_steps(config, arrays, sizes.train_warmup,
                                                  sizes.train_steps)
        numbers["shared" if share else "unshared"] = {
            "tokens_shape": list(arrays["tokens"].shape), "example_tokens": example_tokens,
            "computed_positions": computed_tokens(arrays),
            "median_step_s": rounded(statistics.median(times)),
            "timed_steps": [rounded(t) for t in times], "warmup_s": rounded(warmup_s),
            "first_loss": rounded(loss, 6)}
    shared, unshared = numbers["shared"], numbers["unshared"]
    speedup = unshared["median_step_s"] / shared["median_step_s"]
    loss_gap = abs(shared["first_loss"] - unshared["first_loss"]) / abs(unshared["first_loss"])
    numbers.update(speedup=rounded(speedup), relative_loss_difference=rounded(loss_gap))
    # The same examples and weights: the layouts may differ only by bf16 rounding.
    failures = [] if loss_gap <= PREFIX_LOSS_TOLERANCE else [
        f"first-step losses differ by {loss_gap:.2%} (shared {shared['first_loss']}, unshared "
        f"{unshared['first_loss']})"]
    summary = (f"shared {shared['median_step_s']:.3g} s vs unshared "
               f"{unshared['median_step_s']:.3g} s per step ({speedup:.2f}x), "
               f"{shared['computed_positions']:,} vs {unshared['computed_positions']:,} "
               "positions computed")
    return Outcome(numbers, summary, failures)


# --- the pipeline ----------------------------------------------------------------------------

def part_tiny_pipeline(ctx: Context) -> Outcome:
    path = need_smollm2(ctx)
    workdir = ctx.work / "tiny_pipeline"
    # Two SQL worker processes: spawned beside a process that holds the GPU, as at scale.
    command = [sys.executable, "-m", "spft_jax.main", f"--config={ROOT / 'configs' / 'tiny.py'}",
               f"--workdir={workdir}", "--noprogress", f"--config.model.name={path}",
               "--config.execution.workers=2", *ctx.sizes.pipeline_args]
    say("$ " + shlex.join(command))
    began = time.perf_counter()
    code = subprocess.call(command, cwd=ROOT)
    seconds = time.perf_counter() - began
    finished = sorted(p.stem for p in (workdir / "stages").glob("*.json"))
    numbers = {"command": command[1:], "exit_status": code, "seconds": rounded(seconds),
               "finished_stages": finished}
    if code != 0:
        return Outcome(numbers, f"stopped after {', '.join(finished) or 'no stage'}",
                       [f"the pipeline exited with status {code}"])
    report = json.loads((workdir / "report.json").read_text())
    numbers["rows"] = [{"row": r["row"], "model": r["model"], "seconds": rounded(r["seconds"]),
                        "evaluated": r["greedy"]["evaluated"],
                        "execution_accuracy": r["greedy"]["execution_accuracy"]}
                       for r in report["rows"]]
    summary = (f"stages {', '.join(finished)} in {seconds:.0f} s; "
               f"{len(numbers['rows'])} report rows (random model: EX is not the point)")
    return Outcome(numbers, summary)


PART_FUNCTIONS = {name[len("part_"):]: function for name, function in globals().items()
                  if name.startswith("part_") and callable(function)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=sorted(PART_FUNCTIONS))
    parser.add_argument("--mode", choices=sorted(SIZES), required=True)
    parser.add_argument("--work", type=pathlib.Path, required=True)
    parser.add_argument("--result", type=pathlib.Path, required=True)
    parser.add_argument("--smollm2", type=pathlib.Path)
    args = parser.parse_args(argv)
    # The benchmarks whose functions the parts reuse (sampler_throughput, train_step_throughput).
    sys.path.insert(1, str(ROOT / "benchmarks"))
    ctx = Context(args.mode, SIZES[args.mode], args.smollm2, args.work)
    say(f"gpu_check part {args.part} ({args.mode})")
    try:
        record = PART_FUNCTIONS[args.part](ctx).record()
    except Skip as e:
        record = {"status": "skipped", "reason": str(e), "summary": "", "numbers": {}}
    except Exception as e:  # the traceback goes to the log; the record says what it was
        traceback.print_exc()
        record = {"status": "failed", "reason": f"{type(e).__name__}: {e}"[:500], "summary": "",
                  "numbers": {}}
    args.result.write_text(json.dumps(record, indent=1, default=str))
    say(f"gpu_check part {args.part}: {record['status']} {record['reason']} {record['summary']}")
    return 1 if record["status"] == "failed" else 0


if __name__ == "__main__":
    sys.exit(main())
