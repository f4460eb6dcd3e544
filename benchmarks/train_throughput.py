"""Training throughput on the pipeline's own workloads: our TrainStep with shared prefixes,
without, and transformers + torch AdamW, on the same examples, optimizer and weights.

    python benchmarks/train_throughput.py [--workloads a,b,c] [--contenders shared,unshared,transformers]
        [--steps 4] [--warmup 1] [--batch 8] [--micro-batches 1] [--remat none]
        [--spider-dir DIR] [--spider-questions 512] [--json FILE] [--quick]

Workloads (prompts built by the pipeline's `PromptBuilder`, batches by its `Batcher`):
- a: SFT on the demo train set (326 questions), configs/demo.py's prompts (compact schema) and
  SFT section (max_length, length buckets, group_size);
- b: SFT on 512 Spider train questions (a seeded sample of train_spider, as
  `data.max_train_examples` draws it), configs/spider.py's prompts (create_table, 3 sample
  values per column) and SFT section;
- c: self-play pairs on (b)'s prompts: chosen = the gold SQL, rejected = a deterministic
  corruption of it (ASC/DESC swapped, a number or string literal changed, or a column renamed),
  reference log-probs 0 and R = 1; configs/spider.py's self-play section and lam, our
  error-driven loss.

Contenders:
- shared: `TrainStep` on `Batcher(share_prefix=True)` batches: each micro-batch's database
  groups have their common prompt prefix (the schema) computed once, their sequences as
  continuations after it, the output head at completion positions only (what the pipeline runs);
- unshared: the same step on `share_prefix=False` batches: one row per sequence padded to the
  length bucket;
- transformers: `AutoModelForCausalLM` (sdpa attention) + `torch.optim.AdamW`, as users run it:
  one row per sequence (a pair: two rows) padded to the longest of the micro-batch, the logits of
  every position; SFT through `labels` (token-mean NLL over completion tokens), pairs through
  summed completion log-probs (TRL's gather minus log-sum-exp) and the same error-driven formula.

All three train SmolLM2-135M-Instruct (the packaged weights, exported once with `export_hf` and
loaded from that folder by both sides), float32, full fine-tuning, AdamW (lr 1e-4, betas 0.9 /
0.999, eps 1e-8, no weight decay), gradient clipping at global norm 1.0, seed 0. The batch
positions are the same for all: `--warmup` steps, then `--steps` timed steps, consecutive
`DataPosition`s from the start of epoch 0; `Batcher.example_indices` is the same with and
without prefix sharing, so every contender trains on the same examples at every step (and on
the same truncated sequences: transformers gets `Batcher.sequences`).

How it runs: a preparation process builds the examples, the model export and every batch of
every layout (host-side building is not timed; its cost per step is printed); then one process
per (workload, contender) loads them, runs the warm-up steps and, for our step, one untimed step
on each timed batch whose shapes it has not compiled yet (XLA compiles once per shape; torch
does not compile and gets only the warm-up steps), then the timed steps. Each reports its peak
resident memory (`ru_maxrss`; on a GPU also the device's peak). Nothing is shared between the
processes (no persistent compilation cache); torch uses os.cpu_count() threads, XLA all cores.

Reading the tables:
- examples/s: examples (SFT) or pairs per second over the timed steps (their total / the total
  time); example tokens/s: the prompt + completion tokens of every sequence as written out one
  by one (a pair counts its prompt twice, once per side), i.e. the same numerator for all
  contenders, whatever they compute;
- "first step per new shape" are the untimed first steps of each shape (XLA compilation + one
  step; compilation ~ their excess over the median step); "one epoch, est." is the workload's
  steps per epoch at the mean timed step plus, for ours, one compilation per distinct batch
  shape of the epoch (the shared layout has more shapes: group counts and prefix lengths vary);
  "loss, first step" is the loss of the first step run, from the same weights on the same
  examples for every contender: the three should agree (fp32);
- per workload: mean prompt tokens per example, the mean shared prefix per sequence (its
  group's common prompt prefix), sequences per prefix group, and the tokens the shared layout
  computes over those the unshared one computes (`layout.computed_tokens`, padding excluded),
  for the timed steps and for a whole epoch; the positions each layout computes including
  padding (the shared layout pads prefixes to the length bucket and groups to a power of two).

--quick (the smoke test, ~40 s): a random tiny model (2 layers, width 32, a 256-token vocabulary
into which the real prompts' token ids are folded) for every contender, 16 examples per
workload, batch 2, 2 timed steps, no warm-up, sequences cut to 512 tokens, one padded shape per
workload (so each compiles once), XLA's backend optimisations off, torch on one thread, and one
process per contender for all workloads; (b) and (c) are skipped with a note when Spider is missing. Its
timings and memory mean nothing; it checks that every part runs and that the contenders' first
losses agree.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent

WORKLOADS = {
    "a": "SFT on the demo train set (compact schema prompts)",
    "b": "SFT on Spider train questions (create_table prompts, 3 values per column)",
    "c": "self-play pairs (gold vs a perturbed SQL) on (b)'s prompts",
}
SPIDER_WORKLOADS = ("b", "c")
CONTENDERS = {
    "shared": "spft_jax TrainStep, shared prefix (share_prefix=True)",
    "unshared": "spft_jax TrainStep, one padded row per sequence (share_prefix=False)",
    "transformers": "transformers AutoModelForCausalLM + torch AdamW, padded to the longest",
}
LEARNING_RATE = 1e-4
SEED = 0
CLIP = 1.0
QUICK_MODEL = dict(num_layers=2, hidden_size=32, intermediate_size=64, num_heads=4,
                   num_kv_heads=2, head_dim=8)
QUICK_VOCAB = 256  # --quick folds the token ids into this (see fold)
QUICK_MAX_LENGTH = 512  # --quick: at most this long (Spider prompts are cut from the left)
# --quick: one padded shape per workload and layout, so each compiles once.
QUICK_SHAPES = dict(bucket_multiple=QUICK_MAX_LENGTH, continuation_multiple=128, group_multiple=2)
QUICK = dict(steps=2, warmup=0, batch=2, examples=16)
SPIDER_TRAIN_FILES = ("train_spider.json", "train_spider.reconstructed.json")


def default_spider_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("SPFT_SPIDER_DIR", REPO.parent / "shared" / "data" / "spider"))


def spider_train_file(spider: pathlib.Path) -> pathlib.Path | None:
    """The Spider training questions (the official file, or the reconstructed one), or None
    when the folder is not a Spider folder."""
    if not ((spider / "tables.json").is_file() and (spider / "database").is_dir()):
        return None
    return next((spider / n for n in SPIDER_TRAIN_FILES if (spider / n).is_file()), None)


# -- the rejected SQL of a pair ---------------------------------------------------------------
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ORDER = re.compile(r"\b(ASC|DESC)\b", re.IGNORECASE)


def _outside_quotes(pattern: re.Pattern, sql: str) -> list[re.Match]:
    spans = [m.span() for m in _QUOTED.finditer(sql)]
    return [m for m in pattern.finditer(sql)
            if not any(a <= m.start() < b for a, b in spans)]


def corrupt_sql(sql: str, columns: list[list[str]], index: int) -> str:
    """A deterministic wrong version of `sql` (never equal to it): one of the corruptions that
    apply (ASC/DESC swapped, a number + 1, a string literal changed, a column renamed to
    another of its table), chosen by `index`; else " LIMIT 1" appended. `columns`: the column
    names of each table of the database."""
    def replace(match: re.Match, text: str) -> str:
        return sql[:match.start()] + text + sql[match.end():]

    options = []
    order = _outside_quotes(_ORDER, sql)
    if order:
        m = order[0]
        options.append(replace(m, "DESC" if m.group(1).upper() == "ASC" else "ASC"))
    numbers = _outside_quotes(_NUMBER, sql)
    if numbers:
        m = numbers[0]
        value = m.group(0)
        options.append(replace(m, str(int(value) + 1) if value.isdigit() else f"{float(value) + 1:g}"))
    strings = list(_QUOTED.finditer(sql))
    if strings:
        m = strings[0]
        quote, body = m.group(0)[0], m.group(0)[1:-1]
        options.append(replace(m, f"{quote}{body}x{quote}" if body else f"{quote}x{quote}"))
    lowered = [[c.lower() for c in table] for table in columns]
    for m in _outside_quotes(_NAME, sql):
        table = next((t for t, names in enumerate(lowered) if m.group(0).lower() in names), None)
        if table is not None and len(columns[table]) > 1:
            at = lowered[table].index(m.group(0).lower())
            options.append(replace(m, columns[table][(at + 1) % len(columns[table])]))
            break
    options = [o for o in options if o != sql]
    return options[index % len(options)] if options else sql.rstrip().rstrip(";") + " LIMIT 1"


# -- preparation (a child process) -------------------------------------------------------------
def _configs():
    sys.path.insert(0, str(REPO))
    from configs.demo import get_config as demo_config
    from configs.spider import get_config as spider_config

    return demo_config(), spider_config()


def _workload_examples(workload: str, tokenizer, settings: dict):
    """(examples, pipeline config, its training section, questions, databases)."""
    from spft_jax.data.prompts import PromptBuilder, PromptConfig
    from spft_jax.demo import demo_paths
    from spft_jax.pipeline.finetune import sft_examples
    from spft_jax.sql.dataset import load_dataset
    from spft_jax.train.batches import PairExample

    demo, spider = _configs()
    limit = settings["examples"]
    if workload == "a":
        paths = demo_paths()
        dataset = load_dataset(paths.train, paths.tables, paths.db_dir)
        questions = list(dataset.available)[:limit or None]
        config = demo
    else:
        root = pathlib.Path(settings["spider_dir"])
        dataset = load_dataset(spider_train_file(root), root / "tables.json", root / "database")
        usable = list(dataset.available)
        count = min(limit or settings["spider_questions"], len(usable))
        chosen = set(random.Random(SEED).sample(range(len(usable)), count))
        questions = [e for i, e in enumerate(usable) if i in chosen]  # file order
        config = spider
    builder = PromptBuilder(tokenizer, PromptConfig(**config.prompt.to_dict()))
    section = config.selfplay.train if workload == "c" else config.sft
    if workload != "c":
        return sft_examples(builder, dataset, questions), config, section, questions
    examples = []
    for i, e in enumerate(questions):
        columns = [[c.name for c in t.columns] for t in dataset.schemas[e.db_id].tables]
        rejected = corrupt_sql(e.query, columns, i)
        examples.append(PairExample(builder.text_to_sql(dataset, e.db_id, e.question),
                                    builder.completion(e.query), builder.completion(rejected),
                                    0.0, 0.0, 1.0, e.db_id))
    return examples, config, section, questions


def _layout_stats(shared, unshared, positions) -> dict:
    """Prompt / shared-prefix / computed-token statistics of the batches at `positions`
    (`shared`, `unshared`: the two Batchers of a workload)."""
    from spft_jax.train import layout

    prompts, prefixes, groups, sequences = [], [], 0, 0
    computed = {"shared": 0, "unshared": 0}
    shapes = {"shared": set(), "unshared": set()}
    for position in positions:
        indices = shared.example_indices(position)
        for row in indices:
            seqs = shared.sequences(row)
            per_example = 2 if shared.pairwise else 1
            prompts += [len(s.prompt) for s in seqs[::per_example]]
            members, lengths = layout.groups_of(seqs)
            groups += len(members)
            sequences += len(seqs)
            for group, length in zip(members, lengths):
                prefixes += [length] * len(group)
        for name, batcher in (("shared", shared), ("unshared", unshared)):
            arrays = batcher.batch_at(position).arrays
            computed[name] += layout.computed_tokens(arrays)
            shapes[name].add(tuple(sorted((k, v.shape) for k, v in arrays.items())))
    return {"steps": len(positions), "mean_prompt_tokens": statistics.mean(prompts),
            "mean_shared_prefix_tokens": statistics.mean(prefixes),
            "sequences_per_group": sequences / groups,
            "computed_shared": computed["shared"], "computed_unshared": computed["unshared"],
            "computed_ratio": computed["shared"] / computed["unshared"],
            "shapes": {k: len(v) for k, v in shapes.items()}}


def fold(example):
    """--quick: the example with its token ids folded into the tiny model's vocabulary (equal
    ids stay equal, so shared prefixes stay shared)."""
    fields = ("prompt", "completion", "chosen", "rejected")
    return dataclasses.replace(example, **{f: [t % QUICK_VOCAB for t in getattr(example, f)]
                                           for f in fields if hasattr(example, f)})


def _torch_micro(sequences, pad_id: int) -> dict:
    """One row per sequence, right-padded to the longest (what a padding collator gives)."""
    from spft_jax.train import layout

    longest = max(len(s.prompt) + len(s.completion) for s in sequences)
    width = max(len(s.completion) for s in sequences)
    arrays = layout.padded_arrays(sequences, longest, width, pad_id)
    return {k: arrays[k] for k in ("tokens", "valid", "completion_mask")}


def prepare(args) -> None:
    """Builds everything the contender processes need under args.data: settings.json, the
    model as a Hugging Face folder (hf/) and every step's batches per layout (<w>_<layout>.npz)."""
    import numpy as np

    from spft_jax.models.export import export_hf
    from spft_jax.models.loading import load_model, model_config_and_tokenizer, random_model
    from spft_jax.train import layout
    from spft_jax.train.batches import BatchConfig, Batcher, DataPosition

    import jax
    from train_step_throughput import cpu_name  # benchmarks/ is on sys.path (main)

    out = pathlib.Path(args.data)
    settings = json.loads((out / "settings.json").read_text())
    if settings["quick"]:
        config, tokenizer = model_config_and_tokenizer("smollm2-135m-instruct")
        model = random_model(config.replace(**QUICK_MODEL, vocab_size=QUICK_VOCAB), seed=SEED)
        config = model.config
        settings["model"] = "random tiny model (--quick) with the SmolLM2 tokenizer"
    else:
        model, config, tokenizer = load_model("smollm2-135m-instruct")
        settings["model"] = "SmolLM2-135M-Instruct (packaged weights)"
    settings["num_params"] = config.num_params
    settings["architecture"] = config.to_hf_config()["architectures"][0]
    export_hf(model, config, None, out / "hf")  # weights and config: no child tokenizes
    del model
    settings["machine"] = {"cpu": cpu_name(), "cores": os.cpu_count(),
                           "jax_device": jax.devices()[0].device_kind,
                           "jax_backend": jax.default_backend(), "jax": jax.__version__}
    steps, warmup = settings["steps"], settings["warmup"]
    for workload in settings["workloads"]:
        began = time.perf_counter()
        examples, pipeline_config, section, questions = _workload_examples(workload, tokenizer,
                                                                           settings)
        pad_id, max_length = tokenizer.pad_id, section.max_length
        if settings["quick"]:
            examples, pad_id = [fold(e) for e in examples], pad_id % QUICK_VOCAB
            max_length = min(max_length, QUICK_MAX_LENGTH)
        batch = BatchConfig(batch_size=settings["batch"], micro_batches=settings["micro_batches"],
                            max_length=max_length, bucket_multiple=section.bucket_multiple,
                            pad_id=pad_id, share_prefix=True,
                            group_size=section.group_size)
        if settings["quick"]:
            batch = dataclasses.replace(batch, **QUICK_SHAPES)
        batchers = {"shared": Batcher(examples, batch, seed=SEED),
                    "unshared": Batcher(examples, dataclasses.replace(batch, share_prefix=False),
                                        seed=SEED)}
        positions, position = [], DataPosition()
        for _ in range(warmup + steps):
            positions.append(position)
            position = batchers["shared"].advance(position)
        files = {"shared": {}, "unshared": {}, "transformers": {}}
        build = {"shared": 0.0, "unshared": 0.0}
        per_step = []
        for i, position in enumerate(positions):
            indices = batchers["shared"].example_indices(position)
            assert (indices == batchers["unshared"].example_indices(position)).all()
            arrays = {}
            for name, batcher in batchers.items():
                start = time.perf_counter()
                built = batcher.batch_at(position)
                build[name] += time.perf_counter() - start
                arrays[name] = built.arrays
                files[name].update({f"{i}/{k}": v for k, v in built.arrays.items()})
            positions_computed = {
                "shared": int(arrays["shared"]["prefix_tokens"].size + arrays["shared"]["tokens"].size),
                "unshared": int(arrays["unshared"]["tokens"].size), "transformers": 0}
            for m, row in enumerate(indices):
                micro = _torch_micro(batchers["unshared"].sequences(row), pad_id)
                positions_computed["transformers"] += int(micro["tokens"].size)
                files["transformers"].update({f"{i}/{m}/{k}": v for k, v in micro.items()})
            if batchers["unshared"].pairwise:
                for k in ("reference_logps", "opponent_wrong"):
                    files["transformers"][f"{i}/{k}"] = arrays["unshared"][k]
            sequences = batchers["unshared"].sequences(indices.ravel())
            per_step.append({"position": [position.epoch, position.index],
                             "examples": int(indices.size),
                             "example_tokens": layout.example_tokens(sequences),
                             "positions_computed": positions_computed})
        for name, data in files.items():
            np.savez(out / f"{workload}_{name}.npz", **data)
        timed = positions[warmup:]
        epoch = [DataPosition(0, i) for i in range(batchers["shared"].batches_per_epoch)]
        settings["workloads"][workload] = {
            "title": WORKLOADS[workload],
            "loss": "error_driven" if workload == "c" else "sft",
            "lam": float(pipeline_config.selfplay.lam),
            "examples": len(examples), "databases": len({q.db_id for q in questions}),
            "truncated": batchers["shared"].truncated,
            "batch_config": dataclasses.asdict(batch), "batches_per_epoch": len(epoch),
            "steps": per_step,
            "timed": _layout_stats(batchers["shared"], batchers["unshared"], timed),
            "epoch": _layout_stats(batchers["shared"], batchers["unshared"], epoch),
            "build_ms_per_step": {k: 1e3 * v / len(positions) for k, v in build.items()},
            "prepare_s": time.perf_counter() - began,
        }
    (out / "settings.json").write_text(json.dumps(settings, indent=1))


# -- the contenders (a child process each) ------------------------------------------------------
def _step_batches(path: pathlib.Path, count: int) -> list[dict]:
    """Step i's arrays from `{i}/{name}` keys (transformers: `{i}/{micro}/{name}` as well)."""
    import numpy as np

    with np.load(path) as data:
        steps: list[dict] = [{} for _ in range(count)]
        for key in data.files:
            step, rest = key.split("/", 1)
            steps[int(step)][rest] = data[key]
    return steps


def _schedule(run_step, batches: list, warmup: int, signature, compile_each_shape: bool) -> dict:
    """Warm-up steps, then (compiling contenders) one untimed step per new shape among the timed
    batches, then the timed steps; every step's loss is kept."""
    seen, first_of_shape, warmup_times, losses = set(), [], [], []

    def timed_step(batch) -> float:
        began = time.perf_counter()
        losses.append(run_step(batch))
        return time.perf_counter() - began

    for batch in batches[:warmup]:
        seconds = timed_step(batch)
        warmup_times.append(seconds)
        if signature(batch) not in seen:
            seen.add(signature(batch))
            first_of_shape.append(seconds)
    if compile_each_shape:
        for batch in batches[warmup:]:
            if signature(batch) not in seen:
                seen.add(signature(batch))
                first_of_shape.append(timed_step(batch))
    times = [timed_step(batch) for batch in batches[warmup:]]
    return {"times": times, "warmup_times": warmup_times, "first_of_shape_s": first_of_shape,
            "shapes": len({signature(b) for b in batches}), "first_loss": losses[0],
            "last_loss": losses[-1]}


def run_ours(settings: dict, data: pathlib.Path, workload: str, share: bool) -> dict:
    import jax

    jax.config.update("jax_enable_compilation_cache", False)
    import jax.numpy as jnp

    from spft_jax.models.config import ModelConfig
    from spft_jax.models.weights import load_safetensors_dir
    from spft_jax.train.optimizer import OptimizerConfig, UpdateRule
    from spft_jax.train.step import LossSpec, TrainStep, init_optimizer_state, split_trainable

    meta = settings["workloads"][workload]
    began = time.perf_counter()
    # The weights without the tokenizer (whose loading would import transformers here).
    model = load_safetensors_dir(data / "hf", ModelConfig.from_pretrained_dir(
        data / "hf", dtype="float32", param_dtype="float32", remat=settings["remat"]))
    graphdef, trainable, frozen = split_trainable(model)
    del model
    rule = UpdateRule.from_config(OptimizerConfig(learning_rate=LEARNING_RATE, schedule="constant",
                                                  weight_decay=0.0, clip_grad_norm=CLIP))
    state = {"trainable": trainable, "opt_state": init_optimizer_state(rule, trainable)}
    del trainable
    step = TrainStep(graphdef, LossSpec(meta["loss"], lam=meta["lam"]), rule)
    layout_name = "shared" if share else "unshared"
    batches = [{k: jnp.asarray(v) for k, v in b.items()}
               for b in _step_batches(data / f"{workload}_{layout_name}.npz", len(meta["steps"]))]
    load_s = time.perf_counter() - began

    def run_step(batch) -> float:
        state["trainable"], state["opt_state"], metrics = step(
            state["trainable"], frozen, state["opt_state"], batch, LEARNING_RATE)
        jax.block_until_ready((state["trainable"], state["opt_state"]))
        return float(metrics["loss"])

    def signature(batch):
        return tuple(sorted((k, v.shape) for k, v in batch.items()))

    result = _schedule(run_step, batches, settings["warmup"], signature, compile_each_shape=True)
    device = jax.devices()[0]
    stats = device.memory_stats() if device.platform != "cpu" else None
    return {**result, "load_s": load_s, "device": f"{device.device_kind} ({device.platform})",
            "device_peak_bytes": (stats or {}).get("peak_bytes_in_use")}


def run_transformers(settings: dict, data: pathlib.Path, workload: str) -> dict:
    import torch
    import torch.nn.functional as F
    import transformers

    # --quick: one thread (its tiny matrices run 10-30x slower on two threads when another
    # process keeps a core busy; its timings mean nothing anyway).
    torch.set_num_threads(1 if settings["quick"] else os.cpu_count())
    torch.manual_seed(SEED)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    meta = settings["workloads"][workload]
    began = time.perf_counter()
    model = transformers.AutoModelForCausalLM.from_pretrained(
        data / "hf", dtype=torch.float32, attn_implementation="sdpa").to(device)
    model.config.use_cache = False
    if settings["remat"] != "none":
        model.gradient_checkpointing_enable()
    model.train()
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=LEARNING_RATE, betas=(0.9, 0.999), eps=1e-8,
                                  weight_decay=0.0)
    pairwise, lam = meta["loss"] != "sft", meta["lam"]
    batches = []
    for raw in _step_batches(data / f"{workload}_transformers.npz", len(meta["steps"])):
        micro_count = len({k.split("/")[0] for k in raw if "/" in k})
        micros = []
        for m in range(micro_count):
            ids = torch.as_tensor(raw[f"{m}/tokens"], dtype=torch.long, device=device)
            mask = torch.as_tensor(raw[f"{m}/valid"], device=device)
            completion = torch.as_tensor(raw[f"{m}/completion_mask"], device=device)
            micro = {"input_ids": ids, "attention_mask": mask.long(), "completion": completion}
            if pairwise:
                micro["reference"] = torch.as_tensor(raw["reference_logps"][m], device=device)
                micro["wrong"] = torch.as_tensor(raw["opponent_wrong"][m], device=device)
            else:
                micro["labels"] = ids.masked_fill(~completion, -100)
            micros.append(micro)
        batches.append(micros)
    load_s = time.perf_counter() - began

    def micro_loss(micro):
        if not pairwise:  # token-mean NLL of the completion tokens (the labels' mean)
            return model(input_ids=micro["input_ids"], attention_mask=micro["attention_mask"],
                         labels=micro["labels"]).loss
        logits = model(input_ids=micro["input_ids"],
                       attention_mask=micro["attention_mask"]).logits[:, :-1]
        targets = micro["input_ids"][:, 1:]
        picked = logits.gather(-1, targets[..., None]).squeeze(-1)
        # TRL's selective_log_softmax in float32: the picked logit minus a per-row log-sum-exp.
        logsumexp = torch.stack([torch.logsumexp(row, dim=-1) for row in logits])
        per_token = (picked - logsumexp) * micro["completion"][:, 1:]
        sequence = per_token.sum(-1).view(-1, 2)
        chosen = lam * (sequence[:, 0] - micro["reference"][:, 0])
        rejected = lam * (sequence[:, 1] - micro["reference"][:, 1])
        return F.softplus(-(chosen - micro["wrong"] * rejected)).mean()

    def run_step(micros) -> float:
        optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for micro in micros:  # gradient accumulation: the mean of the micro-batch losses
            loss = micro_loss(micro)
            (loss / len(micros)).backward()
            total += float(loss.detach())
        torch.nn.utils.clip_grad_norm_(parameters, CLIP)
        optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()
        return total / len(micros)

    def signature(micros):
        return tuple(tuple(m["input_ids"].shape) for m in micros)

    result = _schedule(run_step, batches, settings["warmup"], signature, compile_each_shape=False)
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    return {**result, "load_s": load_s, "device": f"{name} (torch {torch.__version__}, "
            f"{torch.get_num_threads()} thread(s), transformers {transformers.__version__})",
            "device_peak_bytes": torch.cuda.max_memory_allocated() if device == "cuda" else None}


def child(args) -> None:
    """Runs one contender on each workload of --workload (a comma-separated list: one in a real
    run; --quick runs them all in one process) and prints one JSON line per workload."""
    data = pathlib.Path(args.data)
    settings = json.loads((data / "settings.json").read_text())
    for workload in args.workload.split(","):
        if args.contender == "transformers":
            result = run_transformers(settings, data, workload)
        else:
            result = run_ours(settings, data, workload, share=args.contender == "shared")
        meta = settings["workloads"][workload]
        timed = meta["steps"][settings["warmup"]:]
        seconds = sum(result["times"])
        examples = sum(s["examples"] for s in timed)
        tokens = sum(s["example_tokens"] for s in timed)
        result.update(workload=workload, contender=args.contender,
                      median_step_s=statistics.median(result["times"]),
                      examples_per_s=examples / seconds, example_tokens_per_s=tokens / seconds,
                      peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
        print(json.dumps(result), flush=True)


# -- the parent: launch, collect, print ---------------------------------------------------------
def child_env(quick: bool) -> dict:
    """The same environment for every child: no persistent compilation cache; --quick also
    compiles without XLA's backend optimisations (its timings mean nothing; compiling is most of
    its time)."""
    env = {k: v for k, v in os.environ.items() if k not in ("JAX_COMPILATION_CACHE_DIR",)}
    env.update(TOKENIZERS_PARALLELISM="false", PYTHONHASHSEED="0")
    if quick:
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip()
    return env


def launch(arguments: list[str], what: str, quick: bool) -> tuple[list[dict], str, float]:
    """Runs this script with `arguments`; (its JSON lines, its error tail or "", seconds)."""
    began = time.perf_counter()
    process = subprocess.run([sys.executable, str(pathlib.Path(__file__).resolve()), *arguments],
                             capture_output=True, text=True, env=child_env(quick), cwd=REPO)
    seconds = time.perf_counter() - began
    if process.returncode != 0:
        status = ("killed (signal 9: out of memory?)" if process.returncode in (-9, 137)
                  else f"exit status {process.returncode}")
        tail = "\n".join((process.stderr or process.stdout).strip().splitlines()[-15:])
        return [], f"{what}: {status}\n{tail}", seconds
    lines = [line for line in process.stdout.splitlines() if line.startswith("{")]
    return [json.loads(line) for line in lines], "", seconds


def gib(value) -> str:
    return "-" if value is None else f"{value / 2**30:.2f}"


def epoch_estimate(contender: str, result: dict, meta: dict) -> float:
    """Seconds for one epoch of this workload: its steps at the mean timed step, plus (ours) one
    compilation per distinct batch shape of the epoch, at the first steps' excess over the
    median step."""
    mean_step = sum(result["times"]) / len(result["times"])
    seconds = meta["batches_per_epoch"] * mean_step
    if contender != "transformers" and result["first_of_shape_s"]:
        compile_s = max(0.0, statistics.mean(result["first_of_shape_s"]) - result["median_step_s"])
        seconds += meta["epoch"]["shapes"][contender] * compile_s
    return seconds


def print_workload(workload: str, meta: dict, results: dict, settings: dict) -> None:
    batch = meta["batch_config"]
    timed, epoch = meta["timed"], meta["epoch"]
    warmup = settings["warmup"]
    first, last = meta["steps"][warmup]["position"], meta["steps"][-1]["position"]
    step_tokens = statistics.mean(s["example_tokens"] for s in meta["steps"][warmup:])
    padded = {k: statistics.mean(s["positions_computed"][k] for s in meta["steps"][warmup:])
              for k in CONTENDERS}
    unit = "pairs" if meta["loss"] != "sft" else "examples"
    print(f"## ({workload}) {meta['title']}\n")
    print(f"{meta['examples']} {unit} on {meta['databases']} databases ({meta['truncated']} "
          f"prompts cut to max_length); {meta['loss']} loss; {batch['batch_size']} {unit} x "
          f"{batch['micro_batches']} micro-batch(es) per step, max_length {batch['max_length']}, "
          f"buckets of {batch['bucket_multiple']}, group_size {batch['group_size']}; {warmup} "
          f"warm-up + {settings['steps']} timed steps (epoch.index {first[0]}.{first[1]} to "
          f"{last[0]}.{last[1]}).\n")
    for label, stats in (("timed steps", timed), (f"whole epoch ({epoch['steps']} steps)", epoch)):
        print(f"- {label}: mean prompt {stats['mean_prompt_tokens']:.0f} tokens, mean shared "
              f"prefix {stats['mean_shared_prefix_tokens']:.0f} tokens per sequence "
              f"({stats['sequences_per_group']:.1f} sequences per prefix group); tokens computed "
              f"shared / unshared: {stats['computed_ratio']:.2f} "
              f"({stats['computed_shared']:,} / {stats['computed_unshared']:,}); distinct batch "
              f"shapes (compilations) shared {stats['shapes']['shared']}, unshared "
              f"{stats['shapes']['unshared']}")
    print(f"- per timed step: {step_tokens:,.0f} example tokens; positions computed incl. "
          f"padding: shared {padded['shared']:,.0f}, unshared {padded['unshared']:,.0f}, "
          f"transformers {padded['transformers']:,.0f}; host batch building (not timed): shared "
          f"{meta['build_ms_per_step']['shared']:.0f} ms, unshared "
          f"{meta['build_ms_per_step']['unshared']:.0f} ms per step\n")
    base = results.get("transformers")
    base_rate = base["examples_per_s"] if base and "examples_per_s" in base else None
    device_column = any(r.get("device_peak_bytes") for r in results.values() if r)
    header = (f"| contender | {unit}/s | example tokens/s | median step s | vs transformers "
              f"| peak RSS GiB |{' device peak GiB |' if device_column else ''} first step per new "
              f"shape s (shapes) | one epoch, est. min | loss, first step |")
    print(header)
    print("|---|" + "---:|" * (header.count("|") - 2))
    for contender, result in results.items():
        name = CONTENDERS[contender]
        if not result or "examples_per_s" not in result:
            print(f"| {name} | failed: {result.get('error', '?') if result else '?'} |")
            continue
        ratio = f"{result['examples_per_s'] / base_rate:.2f}x" if base_rate else "-"
        firsts = ", ".join(f"{s:.1f}" for s in result["first_of_shape_s"]) or "-"
        device = f" {gib(result.get('device_peak_bytes'))} |" if device_column else ""
        epoch_min = epoch_estimate(contender, result, meta) / 60
        print(f"| {name} | {result['examples_per_s']:.3f} | {result['example_tokens_per_s']:,.1f} "
              f"| {result['median_step_s']:.2f} | {ratio} | {gib(result['peak_rss_bytes'])} |"
              f"{device} {firsts} ({result['shapes']}) | {epoch_min:.1f} | {result['first_loss']:.4f} |")
    print()
    for contender, result in results.items():
        if result and "device" in result:
            print(f"- {contender}: {result['device']}; load {result['load_s']:.1f} s; process "
                  f"wall time {result['wall_s']:.0f} s" + (" (its share)" if settings["quick"] else ""))
    print()
    sys.stdout.flush()


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workloads", default="a,b,c", help=f"comma-separated: {','.join(WORKLOADS)}")
    parser.add_argument("--contenders", default=",".join(CONTENDERS),
                        help=f"comma-separated: {','.join(CONTENDERS)}")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default 4; quick 2)")
    parser.add_argument("--warmup", type=int, default=None,
                        help="untimed steps before them (default 1; quick 0)")
    parser.add_argument("--batch", type=int, default=None,
                        help="examples (or pairs) per micro-batch (default 8; quick 2)")
    parser.add_argument("--micro-batches", type=int, default=1)
    parser.add_argument("--remat", default="none", choices=("none", "full", "dots_saveable"),
                        help="ours: ModelConfig.remat; transformers: gradient checkpointing unless none")
    parser.add_argument("--spider-dir", default=None,
                        help="the Spider folder (default $SPFT_SPIDER_DIR or ../shared/data/spider)")
    parser.add_argument("--spider-questions", type=int, default=512)
    parser.add_argument("--examples", type=int, default=None,
                        help="at most this many examples per workload (default: all; quick 16)")
    parser.add_argument("--json", default=None, help="also write the raw results here")
    parser.add_argument("--quick", action="store_true", help="tiny random model, tiny sizes")
    # internal: the preparation and contender processes
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--workload", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--contender", default=None, help=argparse.SUPPRESS)
    return parser, parser.parse_args(argv)


def fail(message: str):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def main(argv: list[str] | None = None) -> None:
    parser, args = parse(argv)
    sys.path.insert(0, str(HERE))
    if args.prepare:
        return prepare(args)
    if args.child:
        return child(args)
    defaults = QUICK if args.quick else dict(steps=4, warmup=1, batch=8, examples=0)
    for name in ("steps", "warmup", "batch", "examples"):
        if getattr(args, name) is None:
            setattr(args, name, defaults[name])
    for name, low in (("steps", 1), ("warmup", 0), ("batch", 1), ("micro_batches", 1),
                      ("spider_questions", 1), ("examples", 0)):
        if getattr(args, name) < low:
            fail(f"--{name.replace('_', '-')}: must be at least {low}, got {getattr(args, name)}")
    workloads = [w for w in args.workloads.split(",") if w]
    contenders = [c for c in args.contenders.split(",") if c]
    if not workloads or set(workloads) - set(WORKLOADS):
        fail(f"--workloads: choose from {','.join(WORKLOADS)}, got {args.workloads!r}")
    if not contenders or set(contenders) - set(CONTENDERS):
        fail(f"--contenders: choose from {','.join(CONTENDERS)}, got {args.contenders!r}")
    spider = pathlib.Path(args.spider_dir).expanduser() if args.spider_dir else default_spider_dir()
    needs_spider = [w for w in workloads if w in SPIDER_WORKLOADS]
    notes = []
    if needs_spider and spider_train_file(spider) is None:
        what = (f"no Spider data at {spider} (tables.json, database/ and "
                f"{' or '.join(SPIDER_TRAIN_FILES)})")
        if not args.quick:
            fail(f"--spider-dir: {what}; pass --spider-dir or set $SPFT_SPIDER_DIR, or run "
                 f"--workloads a")
        notes.append(f"note: workloads {','.join(needs_spider)} skipped: {what}")
        workloads = [w for w in workloads if w not in SPIDER_WORKLOADS]
    if not workloads:
        fail("--workloads: nothing left to run")

    data = pathlib.Path(tempfile.mkdtemp(prefix="train_throughput_"))
    try:
        settings = {"quick": args.quick, "steps": args.steps, "warmup": args.warmup,
                    "batch": args.batch, "micro_batches": args.micro_batches, "remat": args.remat,
                    "examples": args.examples, "spider_dir": str(spider),
                    "spider_questions": args.spider_questions,
                    "workloads": {w: None for w in workloads}}
        (data / "settings.json").write_text(json.dumps(settings))
        print("preparing examples, batches and the model export ...", file=sys.stderr, flush=True)
        _, error, prepare_s = launch(["--prepare", "--data", str(data)], "preparation", args.quick)
        if error:
            fail(error)
        print(f"prepared in {prepare_s:.0f} s", file=sys.stderr, flush=True)
        settings = json.loads((data / "settings.json").read_text())
        machine = settings["machine"]
        from importlib import metadata

        versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("jax", "torch", "transformers"))
        print("# Training throughput on the pipeline's workloads\n")
        print(f"machine: {os.uname().machine}, {machine['cpu']}, {machine['cores']} cores; JAX "
              f"device {machine['jax_device']} ({machine['jax_backend']}); date "
              f"{time.strftime('%Y-%m-%d')}; Python {sys.version.split()[0]}, {versions}")
        params = settings["num_params"]
        size = f"{params / 1e6:.1f}M" if params >= 1e6 else f"{params / 1e3:.0f}k"
        print(f"model: {settings['model']}, {size} parameters, "
              f"float32, full fine-tuning, remat {args.remat}; AdamW lr {LEARNING_RATE:g}, "
              f"clip {CLIP:g}, seed {SEED}\n")
        for note in notes:
            print(note + "\n")
        sys.stdout.flush()
        everything = {"settings": settings, "results": {w: {} for w in workloads}}
        # One process per (workload, contender); --quick: one per contender, all workloads in
        # it (process start and compilation are most of a smoke run's time).
        jobs = ([(workloads, c) for c in contenders] if args.quick
                else [([w], c) for w in workloads for c in contenders])
        total, printed = time.perf_counter(), set()
        for job_workloads, contender in jobs:
            label = f"[{','.join(job_workloads)}/{contender}]"
            print(f"{label} running ...", file=sys.stderr, flush=True)
            lines, error, seconds = launch(["--child", "--data", str(data), "--workload",
                                            ",".join(job_workloads), "--contender", contender],
                                           label, args.quick)
            if error:
                print(error, file=sys.stderr, flush=True)
            by_workload = {r["workload"]: r for r in lines}
            for workload in job_workloads:
                result = by_workload.get(workload) or {"error": (error or "no result").splitlines()[0]}
                if "examples_per_s" in result:
                    result["wall_s"] = seconds / len(job_workloads)
                    print(f"[{workload}/{contender}] {result['examples_per_s']:.3f} examples/s",
                          file=sys.stderr, flush=True)
                everything["results"][workload][contender] = result
            for workload in workloads:
                results = everything["results"][workload]
                if workload not in printed and len(results) == len(contenders):
                    printed.add(workload)
                    print_workload(workload, settings["workloads"][workload],
                                   {c: results[c] for c in contenders}, settings)
        print(f"total wall time {time.perf_counter() - total:.0f} s (+ preparation {prepare_s:.0f} s)")
        if args.json:
            pathlib.Path(args.json).write_text(json.dumps(everything, indent=1))
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
