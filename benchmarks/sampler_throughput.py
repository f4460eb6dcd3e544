"""Sampler throughput: our jitted KV-cache sampler vs `transformers` `generate`, same prompts.

    python benchmarks/sampler_throughput.py [--parts batch,pipeline,bandwidth] [--batch 32]
        [--new-tokens 64] [--repeats 1] [--questions 116]

SmolLM2-135M-Instruct (the packaged GGUF, float32), greedy, on CPU. transformers runs the
exported checkpoint with left-padded batches and an attention mask. Three parts:

- batch: `--batch` Text-to-SQL chat prompts (demo schema + question), exactly `--new-tokens`
  tokens each (EOS ignored, so every contender does the same work). Contenders: our Sampler as
  users call it (`generate(prompts)`: the prompts' common token prefix, the schema, prefilled
  once), the same without prefix sharing (every prompt prefilled whole, like transformers), the
  same with a bfloat16 KV cache, and transformers generate. A second call per contender with one
  new token gives the prefill time; the decode-only rate follows.
- pipeline: the pipeline's own workload: greedy SQL for the demo dev questions with the demo
  config's prompts, EOS honoured, `max_new_tokens` and `max_batch_rows` of configs/demo.py.
  Ours: `Sampler.generate(prompts, families=db_ids)` as `spft_jax.pipeline.generation` calls it
  (each database's schema prefilled once, finished rows refilled from the queue); transformers:
  `generate` batched per database (at most max_batch_rows prompts a batch, left-padded, stopping
  at EOS). Reported in questions/s, with the greedy outputs compared.
- bandwidth: the decode step's time against a floor: bytes a step must read (all weights once,
  plus the keys and values of every cache slot the step attends over) / this machine's memory
  read bandwidth (measured here: a jitted sum over a 1 GiB array, best of 5).

"first call" includes compiling for the shapes (ours) and is excluded from the timings; timed
calls are the best of --repeats.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
import torch
import transformers
from flax import nnx

from spft_jax.data.prompts import PromptBuilder, PromptConfig
from spft_jax.demo import demo_paths
from spft_jax.models.export import export_hf
from spft_jax.models.loading import load_model
from spft_jax.sampling import Sampler, SamplingParams
from spft_jax.sampling import batching
from spft_jax.sampling.sampler import common_prefix
from spft_jax.sql.dataset import load_dataset
from spft_jax.sql.schema_text import schema_prompt

PARTS = ("batch", "pipeline", "bandwidth")


def chat_prompts(tokenizer, count: int) -> list[list[int]]:
    """Token ids of `count` Text-to-SQL chat prompts (schema without sample values + question),
    cycling over the demo train questions in file order."""
    paths = demo_paths()
    dataset = load_dataset(paths.train, paths.tables, paths.db_dir)
    schemas: dict[str, str] = {}
    prompts = []
    for example in dataset.examples[:count]:
        if example.db_id not in schemas:
            schemas[example.db_id] = schema_prompt(
                dataset.schemas[example.db_id], dataset.db_path(example.db_id), values_per_column=0)
        messages = [
            {"role": "system", "content": "You translate questions into SQLite queries."},
            {"role": "user", "content": f"{schemas[example.db_id]}\n\nQuestion: "
                                        f"{example.question}\nAnswer with one SQL query."},
        ]
        prompts.append(tokenizer.encode(tokenizer.apply_chat_template(messages)))
    return prompts


def pipeline_prompts(tokenizer, count: int) -> tuple[list[list[int]], list[str], object]:
    """The demo dev questions' prompts as the demo pipeline builds them, their databases, and
    the demo config."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    from configs.demo import get_config

    config = get_config()
    paths = demo_paths()
    dataset = load_dataset(paths.dev, paths.tables, paths.db_dir)
    builder = PromptBuilder(tokenizer, PromptConfig(**config.prompt.to_dict()))
    examples = dataset.examples[:count]
    prompts = [builder.text_to_sql(dataset, e.db_id, e.question) for e in examples]
    return prompts, [e.db_id for e in examples], config


def timed(function, repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def first_and_best(function, repeats: int) -> tuple[float, float, object]:
    start = time.perf_counter()
    function()  # warm-up: compiles for these shapes
    first = time.perf_counter() - start
    seconds, out = timed(function, repeats)
    return first, seconds, out


def left_padded(prompts, pad_id: int):
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt):] = torch.tensor(prompt)
        mask[row, width - len(prompt):] = 1
    return ids, mask


def hf_generate(hf_model, prompts, pad_id: int, new_tokens: int, eos) -> list[list[int]]:
    ids, mask = left_padded(prompts, pad_id)
    with torch.no_grad():
        out = hf_model.generate(ids, attention_mask=mask, do_sample=False, max_new_tokens=new_tokens,
                                pad_token_id=pad_id, eos_token_id=eos)
    return out[:, ids.shape[1]:].tolist()


def until_eos(tokens: list[int], eos: tuple[int, ...]) -> list[int]:
    for i, token in enumerate(tokens):
        if token in eos:
            return tokens[:i + 1]
    return tokens


# -- part (a): a fixed batch, EOS ignored ------------------------------------------------------
def batch_part(model, tokenizer, hf_model, args) -> dict:
    prompts = chat_prompts(tokenizer, args.batch)
    contenders = {
        "spft_jax Sampler, shared prefix (default)": dict(),
        "spft_jax Sampler, bf16 KV cache": dict(cache_dtype="bfloat16"),
        "spft_jax Sampler, no prefix sharing": dict(share_prefix=False),
    }
    results = {}
    for name, options in contenders.items():
        sampler = Sampler(model, tokenizer, max_batch_rows=len(prompts), **options)
        result = {}
        for label, steps in (("full", args.new_tokens), ("prefill", 1)):
            params = SamplingParams(max_new_tokens=steps, ignore_eos=True)
            first, seconds, out = first_and_best(lambda: sampler.generate(prompts, params),
                                                 args.repeats)
            result[label] = (first, seconds, [c[0].token_ids for c in out])
        results[name] = result
    # No EOS at all (rather than min_new_tokens, which would mask EOS out of the logits): every
    # row runs to the limit and picks the same tokens as ours with ignore_eos.
    hf_model.generation_config.eos_token_id = None
    result = {}
    for label, steps in (("full", args.new_tokens), ("prefill", 1)):
        first, seconds, out = first_and_best(
            lambda: hf_generate(hf_model, prompts, tokenizer.pad_id, steps, None), args.repeats)
        assert all(len(row) == steps for row in out)
        result[label] = (first, seconds, out)
    results["transformers generate"] = result
    return {"prompts": prompts, "results": results}


def print_batch(part: dict, eos, args) -> None:
    prompts, results = part["prompts"], part["results"]
    lengths = [len(p) for p in prompts]
    reference = results["transformers generate"]
    generated = args.batch * args.new_tokens
    base = generated / reference["full"][1]
    print(f"## (a) batch {args.batch} x {args.new_tokens} new tokens, EOS ignored\n")
    print(f"prompts: {args.batch} Text-to-SQL chat prompts, {min(lengths)}-{max(lengths)} tokens "
          f"(mean {np.mean(lengths):.0f})\n")
    print(f"| contender | first call s | generate s (best of {args.repeats}) | generated tok/s "
          "| vs transformers | prefill s | decode-only tok/s | greedy rows = transformers |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, result in results.items():
        first, seconds, tokens = result["full"]
        _, prefill, _ = result["prefill"]
        rate = generated / seconds
        decode_rate = args.batch * (args.new_tokens - 1) / max(seconds - prefill, 1e-9)
        same = sum(until_eos(a, eos) == until_eos(b, eos)
                   for a, b in zip(tokens, reference["full"][2]))
        print(f"| {name} | {first:.1f} | {seconds:.2f} | {rate:.1f} | {rate / base:.2f}x "
              f"| {prefill:.2f} | {decode_rate:.1f} | {same}/{args.batch} |")
    print()


# -- part (b): the pipeline's generation ------------------------------------------------------
def pipeline_part(model, tokenizer, hf_model, config_eos, args) -> dict:
    prompts, db_ids, config = pipeline_prompts(tokenizer, args.questions)
    steps, rows = config.sampling.max_new_tokens, config.sampling.max_batch_rows
    params = SamplingParams(max_new_tokens=steps)
    sampler = Sampler(model, tokenizer, max_batch_rows=rows,
                      prefill_tokens=config.sampling.prefill_tokens)
    first, seconds, out = first_and_best(
        lambda: sampler.generate(prompts, params, families=db_ids), args.repeats)
    ours = [c[0].token_ids for c in out]
    eos = list(config_eos)
    hf_model.generation_config.eos_token_id = eos

    def theirs():
        outputs: list[list[int] | None] = [None] * len(prompts)
        for db in dict.fromkeys(db_ids):
            indices = [i for i, d in enumerate(db_ids) if d == db]
            for start in range(0, len(indices), rows):
                chunk = indices[start:start + rows]
                for i, tokens in zip(chunk, hf_generate(hf_model, [prompts[i] for i in chunk],
                                                        tokenizer.pad_id, steps, eos)):
                    outputs[i] = tokens
        return outputs

    hf_first, hf_seconds, hf_out = first_and_best(theirs, args.repeats)
    same = sum(until_eos(a, tuple(eos)) == until_eos(b, tuple(eos)) for a, b in zip(ours, hf_out))
    lengths = [len(until_eos(t, tuple(eos))) for t in ours]
    return dict(prompts=prompts, databases=len(set(db_ids)), steps=steps, rows=rows,
                ours=(first, seconds), theirs=(hf_first, hf_seconds), same=same,
                lengths=lengths, hit_limit=sum(len(t) == steps and t[-1] not in eos for t in ours))


def print_pipeline(part: dict, args) -> None:
    count = len(part["prompts"])
    lengths = [len(p) for p in part["prompts"]]
    print(f"## (b) the pipeline's workload: greedy SQL for {count} demo dev questions\n")
    print(f"{count} questions on {part['databases']} databases, prompts {min(lengths)}-"
          f"{max(lengths)} tokens (mean {np.mean(lengths):.0f}); max_new_tokens {part['steps']}, "
          f"max_batch_rows {part['rows']}, EOS honoured; our completions "
          f"{min(part['lengths'])}-{max(part['lengths'])} tokens (mean "
          f"{np.mean(part['lengths']):.1f}), {part['hit_limit']} hit the limit; greedy outputs "
          f"identical to transformers': {part['same']}/{count}\n")
    print(f"| contender | first call s | seconds (best of {args.repeats}) | questions/s "
          "| vs transformers |")
    print("|---|---:|---:|---:|---:|")
    base = count / part["theirs"][1]
    for name, (first, seconds) in (
            ("spft_jax Sampler (families, refill), as the pipeline calls it", part["ours"]),
            ("transformers generate, batched per database", part["theirs"])):
        rate = count / seconds
        print(f"| {name} | {first:.1f} | {seconds:.2f} | {rate:.2f} | {rate / base:.2f}x |")
    print()


# -- part (c): the decode step against the memory-bandwidth floor ------------------------------
def read_bandwidth() -> float:
    """Bytes/s a jitted sum reads from a 1 GiB float32 array (best of 5)."""
    x = jnp.ones((256, 1024, 1024), jnp.float32)
    total = jax.jit(jnp.sum)
    total(x).block_until_ready()
    best = min(timed(lambda: total(x).block_until_ready(), 1)[0] for _ in range(5))
    return x.nbytes / best


def bandwidth_part(model, config, tokenizer, args) -> dict:
    prompts = chat_prompts(tokenizer, args.batch)
    result = {}
    for label, dtype in (("float32 cache", None), ("bfloat16 cache", "bfloat16")):
        sampler = Sampler(model, tokenizer, max_batch_rows=len(prompts), cache_dtype=dtype)
        times = {}
        for steps in (1, args.new_tokens):
            params = SamplingParams(max_new_tokens=steps, ignore_eos=True)
            times[steps] = first_and_best(lambda: sampler.generate(prompts, params),
                                          max(args.repeats, 2))[1]
        step = (times[args.new_tokens] - times[1]) / (args.new_tokens - 1)
        # The ring the sampler decodes over: the shared prefix's bucket, the suffixes', the steps.
        prefix = common_prefix(prompts)
        width = (batching.bucket_for(len(prefix), None)
                 + max(batching.bucket_for(len(p) - len(prefix), None) for p in prompts))
        slots = batching.ring_capacity(width, args.new_tokens)
        item = 2 if dtype else 4
        cache_bytes = (args.batch * slots * config.num_layers * config.num_kv_heads
                       * config.head_dim * 2 * item)
        result[label] = dict(step=step, slots=slots, cache_bytes=cache_bytes)
    weights = sum(x.nbytes for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
    return dict(result=result, weights=weights, bandwidth=read_bandwidth())


def print_bandwidth(part: dict, args) -> None:
    bandwidth, weights = part["bandwidth"], part["weights"]
    print(f"## (c) decode step vs the memory-bandwidth floor (batch {args.batch})\n")
    print(f"measured read bandwidth: {bandwidth / 1e9:.1f} GB/s (jitted sum over 1 GiB); "
          f"weights read per step: {weights / 1e6:.0f} MB\n")
    print("| KV cache | ring slots | cache read per step MB | floor ms | measured step ms "
          "| floor / measured |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, r in part["result"].items():
        floor = (weights + r["cache_bytes"]) / bandwidth
        print(f"| {label} | {r['slots']} | {r['cache_bytes'] / 1e6:.0f} | {floor * 1e3:.0f} "
              f"| {r['step'] * 1e3:.0f} | {100 * floor / r['step']:.0f}% |")
    print()


def machine_line() -> str:
    cpu = platform.processor()
    if os.path.exists("/proc/cpuinfo"):
        cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                    if line.startswith("model name")), cpu)
    return (f"machine: {platform.machine()}, {cpu}, {os.cpu_count()} cores; date: "
            f"{time.strftime('%Y-%m-%d')}\nversions: Python {platform.python_version()}, jax "
            f"{jax.__version__} ({jax.default_backend()}), torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), transformers {transformers.__version__}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated: {PARTS}")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--questions", type=int, default=116, help="demo dev questions (b)")
    parser.add_argument("--repeats", type=int, default=1, help="timed calls; the best counts")
    args = parser.parse_args(argv)
    parts = [p for p in args.parts.split(",") if p]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; choose from {PARTS}")

    model, config, tokenizer = load_model("smollm2-135m-instruct")
    hf_model = None
    if {"batch", "pipeline"} & set(parts):
        with tempfile.TemporaryDirectory() as directory:
            export_hf(model, config, tokenizer, directory)
            hf_model = transformers.AutoModelForCausalLM.from_pretrained(directory,
                                                                         dtype=torch.float32)
        hf_model.eval()
    eos = tuple(config.eos_token_ids)
    print("# Sampler throughput: SmolLM2-135M-Instruct, float32, greedy\n")
    print(machine_line() + "\n")
    if "batch" in parts:
        print_batch(batch_part(model, tokenizer, hf_model, args), eos, args)
        sys.stdout.flush()
    if "pipeline" in parts:
        print_pipeline(pipeline_part(model, tokenizer, hf_model, eos, args), args)
        sys.stdout.flush()
    if "bandwidth" in parts:
        print_bandwidth(bandwidth_part(model, config, tokenizer, args), args)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
