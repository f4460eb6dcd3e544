"""A device mesh over the (data, fsdp, tensor) axes."""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import numpy as np

from spft_jax.errors import ConfigError

MESH_AXES = ("data", "fsdp", "tensor")


def resolve_mesh_shape(sizes: Sequence[int], num_devices: int) -> tuple[int, ...]:
    """Sizes of (data, fsdp, tensor); one of them may be -1, meaning "the remaining devices"."""
    sizes = list(sizes)
    if len(sizes) != len(MESH_AXES):
        raise ConfigError(f"mesh: expected sizes for {MESH_AXES}, got {sizes}")
    if sizes.count(-1) > 1:
        raise ConfigError(f"mesh: at most one axis may be -1, got {dict(zip(MESH_AXES, sizes))}")
    for axis, size in zip(MESH_AXES, sizes):
        if size != -1 and size < 1:
            raise ConfigError(f"mesh: axis {axis!r} has size {size}; use a positive size or -1")
    known = math.prod(s for s in sizes if s != -1)
    if -1 in sizes:
        if num_devices % known:
            raise ConfigError(
                f"mesh {dict(zip(MESH_AXES, sizes))}: {num_devices} devices are not divisible "
                f"by the fixed axes' product {known}"
            )
        sizes[sizes.index(-1)] = num_devices // known
    if math.prod(sizes) != num_devices:
        raise ConfigError(
            f"mesh {dict(zip(MESH_AXES, sizes))} needs {math.prod(sizes)} devices, "
            f"but {num_devices} are available"
        )
    return tuple(sizes)


def make_mesh(data: int = -1, fsdp: int = 1, tensor: int = 1, devices=None) -> jax.sharding.Mesh:
    """A mesh with axes (data, fsdp, tensor) over `devices` (default: all)."""
    devices = list(jax.devices()) if devices is None else list(devices)
    shape = resolve_mesh_shape((data, fsdp, tensor), len(devices))
    if devices == list(jax.devices()):
        return jax.make_mesh(
            shape, MESH_AXES, axis_types=(jax.sharding.AxisType.Auto,) * len(MESH_AXES)
        )
    return jax.sharding.Mesh(np.asarray(devices).reshape(shape), MESH_AXES)
