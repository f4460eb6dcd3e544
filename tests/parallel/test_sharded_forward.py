"""Sharding must not change the numbers: forward logits on 8 simulated CPU devices (fsdp and
tensor axes > 1) equal the single-device logits."""

import json
import os
import pathlib
import subprocess
import sys

import pytest
from jax.sharding import PartitionSpec as P

from spft_jax.errors import ConfigError
from spft_jax.parallel.mesh import resolve_mesh_shape
from spft_jax.parallel.rules import partition_spec

SCRIPT = pathlib.Path(__file__).with_name("sharded_forward_script.py")


def test_sharded_forward_equals_single_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8",
               JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True,
                         env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    for name, result in results.items():
        assert result["max_abs_diff"] < 1e-5, (name, result)
    # The parameters really are split: [64, 64] over fsdp=4 x tensor=2 is [16, 32] per device.
    assert results["fsdp4_tensor2"]["q_kernel_spec"] == "P('fsdp', 'tensor')"
    assert results["fsdp4_tensor2"]["q_kernel_shard_shape"] == [16, 32]
    assert results["data2_fsdp2_tensor2"]["q_kernel_shard_shape"] == [32, 32]


class FakeMesh:
    shape = {"data": 2, "fsdp": 4, "tensor": 2}


def test_partition_spec_rules():
    mesh = FakeMesh()
    assert partition_spec(("embed", "heads"), (64, 64), mesh) == P("fsdp", "tensor")
    assert partition_spec(("vocab", "embed"), (256, 64), mesh) == P("tensor", "fsdp")
    assert partition_spec(("norm",), (64,), mesh) == P(None)
    # A dimension the mesh axes do not divide is replicated, not an error.
    assert partition_spec(("embed", "heads"), (576, 9), mesh) == P("fsdp", None)
    assert partition_spec(("batch", None), (8, 5), mesh) == P(("data", "fsdp"), None)
    assert partition_spec(("batch", None), (4, 5), mesh) == P(None, None)


def test_mesh_shapes():
    assert resolve_mesh_shape((-1, 4, 2), 8) == (1, 4, 2)
    assert resolve_mesh_shape((2, -1, 1), 8) == (2, 4, 1)
    with pytest.raises(ConfigError, match="needs 16 devices, but 8 are available"):
        resolve_mesh_shape((2, 4, 2), 8)
    with pytest.raises(ConfigError, match="at most one axis may be -1"):
        resolve_mesh_shape((-1, -1, 2), 8)
    with pytest.raises(ConfigError, match="not divisible"):
        resolve_mesh_shape((-1, 3, 1), 8)
