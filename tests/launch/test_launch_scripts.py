"""The shell launchers: they parse, pass shellcheck, check every variable their header calls
required, and build the right command lines — checked by running them against fake `gcloud`,
`srun`, `scontrol`, `nvidia-smi` and `python` executables that record what they were given."""

import json
import os
import pathlib
import re
import shlex
import shutil
import stat
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

LAUNCH = REPO_ROOT / "launch"
TPU_POD = LAUNCH / "tpu_pod.sh"
SLURM = LAUNCH / "slurm_gpu.sbatch"
SHELL_SCRIPTS = sorted(p for p in LAUNCH.iterdir()
                       if p.is_file() and p.read_text().startswith("#!/usr/bin/env bash"))
TIMEOUT = 30


def header_variables(script: pathlib.Path, block: str) -> list[str]:
    """The names a script's header lists under '# Required:' or '# Optional:' (one
    '#   NAME  description' line each, continuation lines indented further)."""
    lines = script.read_text().splitlines()
    names = []
    for line in lines[lines.index(f"# {block}:") + 1:]:
        if match := re.match(r"#   ([A-Z][A-Z0-9_]*)\s", line):
            names.append(match.group(1))
        elif not re.match(r"#\s{4,}\S", line):
            break
    return names


def write_executable(path: pathlib.Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def fakes(tmp_path):
    """A bin folder of fake cluster tools. Each records its argv (one JSON line per call in
    <name>.calls); `srun` runs its command once per task, as SLURM would, with SLURM_PROCID
    and SLURM_LOCALID set; `python` writes its argv, working directory and environment."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    recorder = f"""#!{sys.executable}
import json, os, sys
with open(os.path.join({str(tmp_path)!r}, os.path.basename(sys.argv[0]) + ".calls"), "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
"""
    write_executable(bin_dir / "gcloud", recorder + f"""
if sys.argv[4:5] == ["scp"]:  # keep what would be copied (the launcher deletes its tarball)
    import shutil
    shutil.copy(sys.argv[5], os.path.join({str(tmp_path)!r}, "copied.tgz"))
""")
    write_executable(bin_dir / "scontrol", recorder + "print(os.environ['FAKE_HOSTS'].replace(',', '\\n'))\n")
    write_executable(bin_dir / "nvidia-smi", recorder + "for i in range(int(os.environ.get('FAKE_GPUS', '0'))):\n"
                     "    print(f'GPU {i}: Fake (UUID: GPU-{i})')\n")
    write_executable(bin_dir / "srun", recorder + """
import subprocess
command = sys.argv[1:]
while command[0].startswith("-"):
    command.pop(0)
codes = [subprocess.call(command, env=dict(os.environ, SLURM_PROCID=str(i), SLURM_LOCALID="0"))
         for i in range(int(os.environ["SLURM_NTASKS"]))]
sys.exit(max(codes))
""")
    write_executable(bin_dir / "fakepython", f"""#!{sys.executable}
import json, os, sys
keys = ("JAX_LOCAL_DEVICE_IDS", "XLA_FLAGS", "XLA_PYTHON_CLIENT_MEM_FRACTION", "NCCL_DEBUG", "PATH",
        "VIRTUAL_ENV")
record = {{"argv": sys.argv[1:], "cwd": os.getcwd(), "env": {{k: os.environ.get(k) for k in keys}}}}
with open(os.path.join({str(tmp_path)!r}, "python.calls"), "a") as f:
    f.write(json.dumps(record) + "\\n")
""")
    return bin_dir


def calls(tmp_path, name):
    path = tmp_path / f"{name}.calls"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def run_script(script, fakes_dir, env, *args):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "XLA_", "JAX_", "NCCL_"))}
    base["PATH"] = f"{fakes_dir}:{base['PATH']}"
    return subprocess.run(["bash", str(script), *args], env={**base, **env}, capture_output=True,
                          text=True, timeout=TIMEOUT)


TPU_ENV = {"TPU_NAME": "spft-v5p-16", "ZONE": "us-east5-a", "REPO_DIR": "spft-jax",
           "CONFIG": "configs/qwen_0_5b.py", "WORKDIR": "/mnt/filestore/run 1"}


def slurm_env(tmp_path, **extra):
    repo = tmp_path / "repo"
    repo.mkdir(exist_ok=True)
    return {"CONFIG": "configs/qwen_7b.py", "WORKDIR": "/shared/runs/q7", "REPO_DIR": str(repo),
            "PYTHON": "fakepython", "SLURM_JOB_ID": "123457", "SLURM_JOB_NODELIST": "gpu-[17-18]",
            "SLURM_NTASKS": "2", "FAKE_HOSTS": "gpu-17,gpu-18", **extra}


def test_the_launchers_are_found():
    assert {TPU_POD, SLURM} <= set(SHELL_SCRIPTS)


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: p.name)
def test_shell_script_parses_and_passes_shellcheck(script):
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=TIMEOUT)
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is not on PATH (pip install -r requirements-test.txt)"
    # Shebang detection picks bash (also for .sbatch); any finding, even style, fails.
    result = subprocess.run([shellcheck, "-x", str(script)], cwd=script.parent, capture_output=True,
                            text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: p.name)
def test_every_optional_variable_in_the_header_is_used(script):
    body = "\n".join(line for line in script.read_text().splitlines() if not line.lstrip().startswith("#"))
    optional = header_variables(script, "Optional")
    assert optional
    for name in optional:
        assert re.search(rf"\${{?{name}\b", body), f"{script.name}: {name} is documented but never read"


@pytest.mark.parametrize("script, env, args", [(TPU_POD, TPU_ENV, ["--dry-run"]), (SLURM, None, [])],
                         ids=["tpu_pod.sh", "slurm_gpu.sbatch"])
def test_each_required_variable_is_checked_by_name(script, env, args, tmp_path, fakes):
    env = slurm_env(tmp_path, DRY_RUN="1", GPUS_PER_NODE="8") if env is None else env
    required = header_variables(script, "Required")
    assert required and set(required) <= set(env)
    assert run_script(script, fakes, env, *args).returncode == 0
    for name in required:
        result = run_script(script, fakes, {k: v for k, v in env.items() if k != name}, *args)
        assert result.returncode != 0
        assert f"missing required variable {name}" in result.stderr
    assert not calls(tmp_path, "gcloud") and not calls(tmp_path, "srun")


def remote_command(ssh_words):
    """The --command of a `gcloud ... ssh` call, split at '&&' into lists of words."""
    command = ssh_words[ssh_words.index("--command") + 1]
    return [shlex.split(part) for part in command.split(" && ")]


def test_tpu_dry_run_prints_the_gcloud_command_and_runs_nothing(tmp_path, fakes):
    result = run_script(TPU_POD, fakes, dict(TPU_ENV, PROJECT="my-project", LIBTPU_INIT_ARGS="--a=1 --b=2"),
                        "--dry-run", "--mode=sft", "--config.note=it's a test")
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    words = shlex.split(line)
    assert words[:6] == ["gcloud", "compute", "tpus", "tpu-vm", "ssh", "spft-v5p-16"]
    assert {"--worker=all", "--zone", "us-east5-a", "--project", "my-project"} <= set(words)
    cd, libtpu, main = remote_command(words)
    assert cd == ["cd", "spft-jax"] and libtpu == ["export", "LIBTPU_INIT_ARGS=--a=1 --b=2"]
    assert main == ["python3", "-m", "spft_jax.main", "--config=configs/qwen_0_5b.py",
                    "--workdir=/mnt/filestore/run 1", "--config.distributed.enabled=true",
                    "--mode=sft", "--config.note=it's a test"]
    assert not calls(tmp_path, "gcloud")


def test_tpu_runs_exactly_the_command_its_dry_run_prints(tmp_path, fakes):
    args = ["--", "--mode=evaluate", "--config.eval.split=dev"]
    printed = shlex.split(run_script(TPU_POD, fakes, TPU_ENV, "--dry-run", *args).stdout)
    result = run_script(TPU_POD, fakes, dict(TPU_ENV, VENV="/opt/venv"), *args)
    assert result.returncode == 0, result.stderr
    [ran] = calls(tmp_path, "gcloud")
    assert ["gcloud", *ran] == [*printed[:-1], ran[-1]]
    cd, venv, main = remote_command(ran)
    assert venv == ["export", "PATH=/opt/venv/bin:$PATH"] and main[-2:] == args[1:]
    assert "--config.distributed.coordinator_address" not in ran[-1]  # auto-detected on a pod


def test_tpu_sync_and_install_come_first_with_the_pinned_jax(tmp_path, fakes):
    result = run_script(TPU_POD, fakes, TPU_ENV, "--sync", "--install", "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("# pack ") and len(lines) == 5
    scp, unpack, install, main = map(shlex.split, lines[1:])
    assert scp[4] == "scp" and scp[6].startswith("spft-v5p-16:/tmp/") and "--worker=all" in scp
    assert remote_command(unpack)[-1] == ["tar", "-xzf", scp[6].split(":", 1)[1], "-C", "spft-jax"]
    pinned = re.search(r"^jax==(\S+)$", (REPO_ROOT / "requirements.txt").read_text(), re.M).group(1)
    assert remote_command(install)[-1] == ["python3", "-m", "pip", "install", f"jax[tpu]=={pinned}"]
    assert "spft_jax.main" in main[-1]


def test_tpu_sync_copies_the_checkout_without_ignored_files(tmp_path, fakes):
    result = run_script(TPU_POD, fakes, dict(TPU_ENV, TMPDIR=str(tmp_path)), "--sync")
    assert result.returncode == 0, result.stderr
    scp, unpack, main = calls(tmp_path, "gcloud")
    assert scp[:2] == ["compute", "tpus"] and scp[3] == "scp" and "mkdir -p" in unpack[-1]
    listing = subprocess.run(["tar", "-tzf", str(tmp_path / "copied.tgz")], capture_output=True, text=True,
                             check=True, timeout=TIMEOUT).stdout.split()
    assert {"launch/tpu_pod.sh", "spft_jax/__init__.py", "requirements.txt"} <= set(listing)
    assert not [name for name in listing if "__pycache__" in name or name.startswith(".git/")]
    assert not list(tmp_path.glob("spft_jax_source.*"))  # the local tarball was removed


def test_tpu_rejects_a_gs_workdir_and_explains_itself(tmp_path, fakes):
    result = run_script(TPU_POD, fakes, dict(TPU_ENV, WORKDIR="gs://bucket/run"), "--dry-run")
    assert result.returncode == 2 and "not a gs:// URL" in result.stderr
    usage = run_script(TPU_POD, fakes, {}, "--help")
    assert usage.returncode == 0 and "Required:" in usage.stdout and "--dry-run" in usage.stdout


def test_slurm_starts_one_process_per_task_with_the_first_node_as_coordinator(tmp_path, fakes):
    env = slurm_env(tmp_path, VENV="/shared/venv", GPUS_PER_NODE="4",
                    XLA_FLAGS="--xla_gpu_enable_triton_gemm=false")
    result = run_script(SLURM, fakes, env, "--mode=sft", "--config.mesh.fsdp=8")
    assert result.returncode == 0, result.stderr
    assert calls(tmp_path, "scontrol") == [["show", "hostnames", "gpu-[17-18]"]]
    [srun] = calls(tmp_path, "srun")
    assert "--kill-on-bad-exit=1" in srun
    records = calls(tmp_path, "python")
    port = 61440 + 123457 % 4096
    for process_id, record in enumerate(records):
        assert record["argv"] == [
            "-m", "spft_jax.main", "--config=configs/qwen_7b.py", "--workdir=/shared/runs/q7",
            "--config.distributed.enabled=true", f"--config.distributed.coordinator_address=gpu-17:{port}",
            "--mode=sft", "--config.mesh.fsdp=8",
            "--config.distributed.num_processes=2", f"--config.distributed.process_id={process_id}"]
        assert record["cwd"] == env["REPO_DIR"]
        assert record["env"]["JAX_LOCAL_DEVICE_IDS"] == "0,1,2,3"
        assert record["env"]["XLA_FLAGS"] == ("--xla_gpu_enable_triton_gemm=false "
                                              "--xla_gpu_enable_latency_hiding_scheduler=true")
        assert record["env"]["XLA_PYTHON_CLIENT_MEM_FRACTION"] == "0.90"
        assert record["env"]["NCCL_DEBUG"] == "WARN"
        assert record["env"]["PATH"].startswith("/shared/venv/bin:")
    assert len(records) == 2


def test_slurm_settings_can_be_overridden(tmp_path, fakes):
    env = slurm_env(tmp_path, COORDINATOR_PORT="7777", FAKE_GPUS="3", NCCL_DEBUG="INFO",
                    XLA_PYTHON_CLIENT_MEM_FRACTION="0.5",
                    XLA_FLAGS="--xla_gpu_enable_latency_hiding_scheduler=false")
    assert run_script(SLURM, fakes, env).returncode == 0
    first = calls(tmp_path, "python")[0]
    assert "--config.distributed.coordinator_address=gpu-17:7777" in first["argv"]
    assert first["env"]["JAX_LOCAL_DEVICE_IDS"] == "0,1,2"  # counted by nvidia-smi
    assert first["env"]["XLA_FLAGS"] == "--xla_gpu_enable_latency_hiding_scheduler=false"
    assert (first["env"]["NCCL_DEBUG"], first["env"]["XLA_PYTHON_CLIENT_MEM_FRACTION"]) == ("INFO", "0.5")

    one_per_gpu = run_script(SLURM, fakes, slurm_env(tmp_path, PROCESS_PER_GPU="1"))
    assert one_per_gpu.returncode == 0, one_per_gpu.stderr
    assert calls(tmp_path, "python")[-1]["env"]["JAX_LOCAL_DEVICE_IDS"] is None


def test_slurm_dry_run_prints_srun_and_bad_setups_fail_clearly(tmp_path, fakes):
    result = run_script(SLURM, fakes, slurm_env(tmp_path, DRY_RUN="1", SLURM_GPUS_ON_NODE="2"), "--mode=sft")
    assert result.returncode == 0, result.stderr
    words = shlex.split(result.stdout)
    assert words[0] == "srun" and words[words.index("-c") + 2:][:3] == ["spft-task", "fakepython", "-m"]
    assert "--mode=sft" in words and "coordinator gpu-17:" in result.stderr
    assert not calls(tmp_path, "srun") and not calls(tmp_path, "python")

    no_gpus = run_script(SLURM, fakes, slurm_env(tmp_path, DRY_RUN="1"))
    assert no_gpus.returncode == 2 and "set GPUS_PER_NODE" in no_gpus.stderr
    outside = run_script(SLURM, fakes, {k: v for k, v in slurm_env(tmp_path).items() if k != "SLURM_JOB_ID"})
    assert outside.returncode == 2 and "submit this script with sbatch" in outside.stderr
