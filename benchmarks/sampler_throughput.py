"""Sampler throughput: our jitted KV-cache sampler vs `transformers` `generate`, same prompts.

    python benchmarks/sampler_throughput.py [--batch 32] [--new-tokens 64] [--repeats 1]

SmolLM2-135M-Instruct (the packaged GGUF, float32), greedy, on CPU. Both sides get the same
`--batch` Text-to-SQL chat prompts (demo benchmark schema + question) and generate exactly
`--new-tokens` tokens per prompt (EOS does not stop a row, so both do the same work).
transformers runs the exported checkpoint with one left-padded batch and an attention mask.

Reported per contender: the first call's time (for ours it includes compiling for these shapes;
it is excluded from the timings), the time of a whole `generate` call (prefill included; best of
--repeats), generated tokens/s and the ratio to transformers. A second set of calls with one new
token gives the prefill time, from which the decode-only rate follows. Both sides' greedy tokens
are compared up to each row's first EOS.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time

import jax
import numpy as np
import torch
import transformers

from spft_jax.demo import demo_paths
from spft_jax.models.export import export_hf
from spft_jax.models.loading import load_model
from spft_jax.sampling import Sampler, SamplingParams
from spft_jax.sql.dataset import load_dataset
from spft_jax.sql.schema_prompt import schema_prompt


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


def timed(function, repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def ours(model, tokenizer, prompts, new_tokens: int, repeats: int) -> dict:
    sampler = Sampler(model, tokenizer, max_batch_rows=len(prompts))
    results = {}
    for label, steps in (("full", new_tokens), ("prefill", 1)):
        params = SamplingParams(max_new_tokens=steps, ignore_eos=True)
        start = time.perf_counter()
        sampler.generate(prompts, params)  # warm-up: compiles for these shapes
        first = time.perf_counter() - start
        seconds, out = timed(lambda: sampler.generate(prompts, params), repeats)
        results[label] = (first, seconds, [c[0].token_ids for c in out])
    return results


def theirs(hf_model, prompts, pad_id: int, new_tokens: int, repeats: int) -> dict:
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt):] = torch.tensor(prompt)
        mask[row, width - len(prompt):] = 1
    # No EOS at all (rather than min_new_tokens, which would mask EOS out of the logits): every
    # row runs to the limit and picks the same tokens as ours with ignore_eos.
    hf_model.generation_config.eos_token_id = None
    results = {}
    for label, steps in (("full", new_tokens), ("prefill", 1)):
        def run():
            with torch.no_grad():
                out = hf_model.generate(ids, attention_mask=mask, do_sample=False,
                                        max_new_tokens=steps, pad_token_id=pad_id)
            return out[:, width:].tolist()

        start = time.perf_counter()
        run()  # warm-up
        first = time.perf_counter() - start
        seconds, out = timed(run, repeats)
        assert all(len(row) == steps for row in out)
        results[label] = (first, seconds, out)
    return results


def until_eos(tokens: list[int], eos: tuple[int, ...]) -> list[int]:
    for i, token in enumerate(tokens):
        if token in eos:
            return tokens[:i + 1]
    return tokens


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=1, help="timed calls; the best counts")
    args = parser.parse_args(argv)

    model, config, tokenizer = load_model("smollm2-135m-instruct")
    prompts = chat_prompts(tokenizer, args.batch)
    with tempfile.TemporaryDirectory() as directory:
        export_hf(model, config, tokenizer, directory)
        hf_model = transformers.AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)
    hf_model.eval()

    mine = ours(model, tokenizer, prompts, args.new_tokens, args.repeats)
    reference = theirs(hf_model, prompts, tokenizer.pad_id, args.new_tokens, args.repeats)

    eos = tuple(config.eos_token_ids)
    same = sum(until_eos(a, eos) == until_eos(b, eos)
               for a, b in zip(mine["full"][2], reference["full"][2]))
    lengths = [len(p) for p in prompts]
    generated = args.batch * args.new_tokens
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor()) if os.path.exists(
        "/proc/cpuinfo") else platform.processor()
    print(f"# Sampler throughput: SmolLM2-135M-Instruct, float32, greedy, batch {args.batch}, "
          f"{args.new_tokens} new tokens\n")
    print(f"machine: {platform.machine()}, {cpu}, {os.cpu_count()} cores; "
          f"date: {time.strftime('%Y-%m-%d')}")
    print(f"versions: Python {platform.python_version()}, jax {jax.__version__} "
          f"({jax.default_backend()}), torch {torch.__version__} ({torch.get_num_threads()} "
          f"threads), transformers {transformers.__version__}")
    print(f"prompts: {args.batch} Text-to-SQL chat prompts, {min(lengths)}-{max(lengths)} tokens "
          f"(mean {np.mean(lengths):.0f})")
    print(f"greedy tokens identical up to the first EOS: {same}/{args.batch} rows\n")
    print(f"| contender | first call s | generate s (best of {args.repeats}) | generated tok/s "
          "| vs transformers | prefill s | decode-only tok/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    base = generated / reference["full"][1]
    for name, result in (("spft_jax Sampler (jit, KV cache)", mine),
                         ("transformers generate", reference)):
        first, seconds, _ = result["full"]
        _, prefill, _ = result["prefill"]
        rate = generated / seconds
        decode_rate = args.batch * (args.new_tokens - 1) / max(seconds - prefill, 1e-9)
        print(f"| {name} | {first:.1f} | {seconds:.2f} | {rate:.1f} | {rate / base:.2f}x "
              f"| {prefill:.2f} | {decode_rate:.1f} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
