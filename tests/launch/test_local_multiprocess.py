"""The local multi-process launcher: N processes that really form one JAX run (jax.distributed
over localhost, gloo collectives on CPU), prefixed output, and a failure or Ctrl-C that stops
every process, the children of the processes included."""

import io
import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

from launch import local_multiprocess
from tests.conftest import REPO_ROOT

LAUNCHER = REPO_ROOT / "launch" / "local_multiprocess.py"

# Reads the flags the launcher appends by hand (no absl), joins the run, and all-gathers a value
# that differs per process.
ALLGATHER_SCRIPT = """
import json, os, sys
flags = dict(a.split("=", 1) for a in sys.argv[2:] if a.startswith("--config.distributed."))
import jax
import numpy as np
from jax.experimental import multihost_utils

assert flags.pop("--config.distributed.enabled") == "true"
jax.config.update("jax_cpu_collectives_implementation", flags.pop("--config.distributed.cpu_collectives"))
jax.distributed.initialize(coordinator_address=flags.pop("--config.distributed.coordinator_address"),
                           num_processes=int(flags.pop("--config.distributed.num_processes")),
                           process_id=int(flags.pop("--config.distributed.process_id")),
                           initialization_timeout=60)
assert not flags, flags
me = jax.process_index()
gathered = multihost_utils.process_allgather(np.array([me + 1.0, 10.0 * (me + 1)]))
result = {"process": me, "sum": gathered.sum(axis=0).tolist(), "process_count": jax.process_count(),
          "devices": jax.device_count(), "local_devices": jax.local_device_count(),
          "platform": jax.devices()[0].platform, "xla_flags": os.environ["XLA_FLAGS"]}
with open(os.path.join(sys.argv[1], f"result_{me}.json"), "w") as f:
    json.dump(result, f)
print("gathered", result["sum"])
print("second line")
"""

# Process 0 starts a grandchild and records both pids, then would sleep for a minute (ignoring
# SIGTERM with IGNORE_TERM, so that only SIGKILL stops it); process 1 fails with status 3 (or
# FAIL_STATUS) as soon as the pids are on disk.
FAILING_SCRIPT = """
import os, signal, subprocess, sys, time
me = int(next(a for a in sys.argv if a.startswith("--config.distributed.process_id=")).split("=")[1])
pids = os.path.join(sys.argv[1], "pids")
if me == 1:
    while not os.path.exists(pids):
        time.sleep(0.05)
    sys.exit(int(os.environ.get("FAIL_STATUS", "3")))
if os.environ.get("IGNORE_TERM"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
with open(pids + ".tmp", "w") as f:
    f.write(f"{os.getpid()} {grandchild.pid}")
os.replace(pids + ".tmp", pids)
time.sleep(60)
"""

# Each process says it is ready, then waits; SIGINT makes it leave a marker and exit cleanly.
INTERRUPTIBLE_SCRIPT = """
import os, sys, time
me = next(a for a in sys.argv if a.startswith("--config.distributed.process_id=")).split("=")[1]
print("ready", flush=True)
try:
    time.sleep(60)
except KeyboardInterrupt:
    open(os.path.join(sys.argv[1], f"interrupted_{me}"), "w").close()
"""


# Half a line on stdout, a whole line on stderr (as a native library logs), then the rest of the
# stdout line: the two must not be spliced into one another.
SPLIT_LINE_SCRIPT = """
import sys, time
sys.stdout.write("gathered"); sys.stdout.flush()
time.sleep(0.2)
sys.stderr.write("[native] a log line\\n"); sys.stderr.flush()
time.sleep(0.2)
sys.stdout.write(" [3.0, 30.0]\\n"); sys.stdout.flush()
"""


def write_script(tmp_path: pathlib.Path, text: str) -> pathlib.Path:
    path = tmp_path / "worker.py"
    path.write_text(textwrap.dedent(text))
    return path


def gone_soon(pids, seconds: float = 5.0) -> bool:
    """Whether every pid has died within `seconds`: a SIGKILL is delivered at once but the
    kernel tears the process down asynchronously, which a loaded machine makes visible."""
    pids, deadline = list(pids), time.monotonic() + seconds
    while any(map(alive, pids)):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie awaiting its reaper does not count)."""
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def test_xla_flags_keep_other_flags_and_replace_the_device_count():
    merge = local_multiprocess.merge_xla_flags
    assert merge("", 2) == "--xla_force_host_platform_device_count=2"
    assert merge("--xla_force_host_platform_device_count=8 --xla_cpu_multi_thread_eigen=false", 3) == (
        "--xla_cpu_multi_thread_eigen=false --xla_force_host_platform_device_count=3")
    assert local_multiprocess.exit_status(-signal.SIGTERM) == 143
    assert local_multiprocess.exit_status(3) == 3


def test_two_processes_form_one_run_and_all_gather_across_it(tmp_path):
    script = write_script(tmp_path, ALLGATHER_SCRIPT)
    output = io.StringIO()
    env = dict(os.environ, XLA_FLAGS="--xla_cpu_multi_thread_eigen=false --xla_force_host_platform_device_count=5")
    status = local_multiprocess.launch([sys.executable, str(script), str(tmp_path)], num_processes=2,
                                       devices_per_process=2, env=env, output=output)
    lines = output.getvalue().splitlines()
    assert status == 0, "\n".join(lines[-40:])
    results = [json.loads((tmp_path / f"result_{i}.json").read_text()) for i in range(2)]
    for i, result in enumerate(results):
        assert result["process"] == i
        assert result["sum"] == [3.0, 30.0]  # 1 + 2 and 10 + 20: both processes' values
        assert (result["process_count"], result["devices"], result["local_devices"]) == (2, 4, 2)
        assert result["platform"] == "cpu"
        assert result["xla_flags"] == ("--xla_cpu_multi_thread_eigen=false "
                                       "--xla_force_host_platform_device_count=2")
    assert all(line.startswith(("[p0] ", "[p1] ")) for line in lines), lines
    for i in range(2):
        assert f"[p{i}] gathered [3.0, 30.0]" in lines and f"[p{i}] second line" in lines


def test_a_stderr_line_does_not_split_a_stdout_line(tmp_path):
    script = write_script(tmp_path, SPLIT_LINE_SCRIPT)
    output = io.StringIO()
    status = local_multiprocess.launch([sys.executable, str(script)], num_processes=1, output=output)
    lines = output.getvalue().splitlines()
    assert status == 0
    assert sorted(lines) == ["[p0] [native] a log line", "[p0] gathered [3.0, 30.0]"], lines


def test_a_failing_process_stops_the_others_and_sets_the_exit_status(tmp_path):
    script = write_script(tmp_path, FAILING_SCRIPT)
    output = io.StringIO()
    start = time.monotonic()
    status = local_multiprocess.launch([sys.executable, str(script), str(tmp_path)], num_processes=2,
                                       output=output)
    assert status == 3
    assert time.monotonic() - start < 15  # not the minute process 0 would sleep
    assert gone_soon(map(int, (tmp_path / "pids").read_text().split()))
    assert "[launch] process 1 exited with status 3; stopping the others" in output.getvalue()


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path):
    script = write_script(tmp_path, FAILING_SCRIPT)
    env = dict(os.environ, IGNORE_TERM="1", FAIL_STATUS="5")
    start = time.monotonic()
    status = local_multiprocess.launch([sys.executable, str(script), str(tmp_path)], num_processes=2,
                                       grace_seconds=1.0, env=env, output=io.StringIO())
    assert status == 5 and time.monotonic() - start < 15
    assert gone_soon(map(int, (tmp_path / "pids").read_text().split()))


def test_ctrl_c_is_forwarded_to_every_process(tmp_path):
    script = write_script(tmp_path, INTERRUPTIBLE_SCRIPT)
    launcher = subprocess.Popen([sys.executable, str(LAUNCHER), "--num_processes=2", "--",
                                 sys.executable, str(script), str(tmp_path)],
                                stdout=subprocess.PIPE, text=True)
    try:
        ready = set()
        while len(ready) < 2:
            line = launcher.stdout.readline()
            assert line, "the launcher ended before both processes were ready"
            if line.rstrip().endswith("ready"):
                ready.add(line.split()[0])
        assert ready == {"[p0]", "[p1]"}
        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(timeout=20) == 130
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert sorted(p.name for p in tmp_path.glob("interrupted_*")) == ["interrupted_0", "interrupted_1"]
    assert "[launch] got SIGINT" in launcher.stdout.read()


def test_command_line_errors_and_no_jax_in_the_launcher():
    def run(*args):
        return subprocess.run([sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30)

    missing = run(str(LAUNCHER), "--num_processes=2")
    assert missing.returncode == 2 and "give the command to run after --" in missing.stderr
    bad = run(str(LAUNCHER), "--num_processes=0", "--", "true")
    assert bad.returncode == 2 and "must be at least 1" in bad.stderr
    absent = run(str(LAUNCHER), "--num_processes=1", "--", "no-such-command-here")
    assert absent.returncode == 127 and "cannot start 'no-such-command-here'" in absent.stderr
    imported = run("-c", "import sys, launch.local_multiprocess; print('jax' in sys.modules)")
    assert imported.stdout.strip() == "False", imported.stderr
