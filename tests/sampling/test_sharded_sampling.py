"""Sampling on a (data=2, fsdp=2, tensor=2) mesh of 8 simulated CPU devices gives the same
tokens as one device. XLA_FLAGS must be set before JAX starts, hence the subprocess."""

import json
import pathlib
import subprocess
import sys

from tests.conftest import cpu_subprocess_env

SCRIPT = pathlib.Path(__file__).with_name("sharded_sampling_script.py")
REPO = pathlib.Path(__file__).resolve().parents[2]


def test_sharded_sampling_equals_single_device():
    env = cpu_subprocess_env(8, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-W", "ignore", str(SCRIPT)], capture_output=True,
                         text=True, env=env, timeout=600, cwd=REPO)
    assert out.returncode == 0, out.stderr[-4000:]
    report = json.loads(out.stdout)
    reference = report["reference"]
    assert any(c[2] == "stop" for samples in reference["stop"] for c in samples)
    for name in ("explicit", "auto"):
        result = report[name]
        for run, expected in reference.items():
            assert result["outputs"][run] == expected, (name, run)
        # The batch is split over data x fsdp (4 ways) and the parameters are really sharded.
        assert result["batch_multiple"] == 4
        assert result["q_kernel_spec"] == "P('fsdp', 'tensor')"
        assert result["tokens"] == "P(('data', 'fsdp'), None)"
        assert result["tokens_shard_shape"] == [2, 4]
        # The cache's kv heads (2 of them) follow the k/v projections over "tensor".
        assert result["block_k"] == result["cache_k"] == \
            "P(('data', 'fsdp'), 'tensor', None, None)"
