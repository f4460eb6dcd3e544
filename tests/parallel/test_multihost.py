"""Two processes on localhost (jax.distributed, CPU collectives), 2 CPU devices each, each feeding
its half of every global batch, train to the same parameters as one process with 4 devices; only
process 0 writes the metrics; a checkpoint restores onto the same cross-process shardings."""

import json
import pathlib
import socket
import subprocess
import sys

import numpy as np
import pytest

from spft_jax.errors import ConfigError
from spft_jax.parallel import distributed
from spft_jax.train.metrics_log import read_tensorboard_scalars
from tests.conftest import cpu_subprocess_env

SCRIPT = pathlib.Path(__file__).with_name("multihost_script.py")
TIMEOUT = 150


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def env(devices):
    return cpu_subprocess_env(devices)


def command(workdir, out, *extra):
    return [sys.executable, "-W", "ignore", str(SCRIPT), "--workdir", str(workdir), "--out", str(out), *extra]


def test_two_processes_train_like_one_process_with_the_same_devices(tmp_path):
    single = subprocess.Popen(command(tmp_path / "single", tmp_path / "single_out"), env=env(4),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    port = free_port()
    hosts = [subprocess.Popen(command(tmp_path / "multi", tmp_path / "multi_out", "--num-processes", "2",
                                      "--process-id", str(i), "--coordinator", f"localhost:{port}"),
                              env=env(2), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for i in range(2)]
    try:
        for process in [single, *hosts]:
            output, _ = process.communicate(timeout=TIMEOUT)
            assert process.returncode == 0, output.decode()[-4000:]
    finally:
        for process in [single, *hosts]:
            if process.poll() is None:
                process.kill()

    info = [json.loads((tmp_path / "multi_out" / f"info_{i}.json").read_text()) for i in range(2)]
    alone = json.loads((tmp_path / "single_out" / "info_0.json").read_text())
    assert [(i["process_count"], i["local_devices"]) for i in info] == [(2, 2), (2, 2)]
    assert (alone["process_count"], alone["local_devices"], alone["rows"]) == (1, 4, [0, 1, 2, 3])
    assert [i["rows"] for i in info] == [[0, 1], [2, 3]]  # each host read only its half

    a, b = np.load(tmp_path / "single_out" / "params.npz"), np.load(tmp_path / "multi_out" / "params.npz")
    assert sorted(a.files) == sorted(b.files) and len(a.files) > 10
    diff = max(float(np.abs(a[n] - b[n]).max()) for n in a.files)
    assert diff < 1e-5, diff
    assert alone["max_change"] > 1e-3  # four steps did move the parameters
    assert abs(info[0]["loss"] - alone["loss"]) < 1e-5

    # Only process 0 wrote metrics, though both share the workdir: one line per step.
    multi_lines = (tmp_path / "multi" / "metrics.jsonl").read_text().splitlines()
    single_lines = (tmp_path / "single" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in multi_lines] == [1, 2, 3, 4]
    for x, y in zip(map(json.loads, multi_lines), map(json.loads, single_lines)):
        assert x["loss"] == pytest.approx(y["loss"], abs=1e-5)
    events = read_tensorboard_scalars(tmp_path / "multi" / "tensorboard")
    losses = [(step, value) for tag, step, value in events if tag == "loss"]
    assert [step for step, _ in losses] == [1, 2, 3, 4]

    # The restored state sits on the same shardings, across both processes, with the same values.
    for record in [*info, alone]:
        assert record["resumed_from"] == 4
        assert record["restored_shardings_equal"] and record["restored_max_diff"] == 0.0
        assert record["restored_kernel_spec"] == record["kernel_spec"] == "P('fsdp', None)"
    assert [i["restored_fully_addressable"] for i in info] == [False, False]
    assert sorted(p.name for p in (tmp_path / "multi" / "checkpoints").iterdir()) == ["2", "4"]


def test_initialize_is_a_no_op_for_one_process_and_checks_its_arguments():
    assert distributed.initialize(None, 1, 0) is False
    with pytest.raises(ConfigError, match="'coordinator_address' is needed"):
        distributed.initialize(None, 2, 0)
    with pytest.raises(ConfigError, match="'process_id' 2 is outside 0..1"):
        distributed.initialize("localhost:1234", 2, 2)
