"""One table from logical axis names (on every parameter) to mesh axes, and the shardings it
implies.

A dimension whose size the mesh axes do not divide is replicated instead (e.g. SmolLM2's 9 heads
on tensor=2): a model always loads, at worst with less sharding than asked, and `explain` says so.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import jax
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec

log = logging.getLogger(__name__)

# logical axis -> mesh axes (a tuple shards one dimension over several mesh axes)
LOGICAL_AXIS_RULES: dict[str, tuple[str, ...]] = {
    "batch": ("data", "fsdp"),
    "vocab": ("tensor",),
    "embed": ("fsdp",),
    "heads": ("tensor",),
    "kv_heads": ("tensor",),
    "mlp": ("tensor",),
    "norm": (),
    "length": (),
}


def partition_spec(
    logical: Sequence[str | None], shape: Sequence[int], mesh: jax.sharding.Mesh
) -> PartitionSpec:
    """The PartitionSpec of an array with these logical axes and shape on `mesh`."""
    used: set[str] = set()
    spec = []
    for name, size in zip(logical, shape):
        axes = tuple(
            a for a in LOGICAL_AXIS_RULES.get(name, ()) if a in mesh.shape and a not in used
        )
        product = 1
        for a in axes:
            product *= mesh.shape[a]
        if not axes or product == 1 or size % product:
            if axes and product > 1:
                log.info("replicating a %s dimension of size %d (mesh %s)", name, size, axes)
            spec.append(None)
            continue
        used.update(axes)
        spec.append(axes[0] if len(axes) == 1 else axes)
    return PartitionSpec(*spec)


def state_shardings(state: nnx.State, mesh: jax.sharding.Mesh):
    """NamedShardings for every variable of an NNX state, from its `sharding_names` metadata
    (variables without names, and scalars, are replicated)."""

    def sharding_of(variable):
        names = variable.get_metadata().get("out_sharding") if hasattr(variable, "get_metadata") else None
        shape = variable.get_value().shape
        if not names:
            return NamedSharding(mesh, PartitionSpec())
        return NamedSharding(mesh, partition_spec(names, shape, mesh))

    return jax.tree.map(sharding_of, state, is_leaf=lambda x: isinstance(x, nnx.Variable))


def shard_model(model: nnx.Module, mesh: jax.sharding.Mesh) -> nnx.Module:
    """Places the model's parameters on `mesh` by the rules (in place) and returns it."""
    graphdef, state = nnx.split(model)
    shardings = state_shardings(state, mesh)
    values = jax.tree.map(
        lambda v, s: jax.device_put(v.get_value(), s), state, shardings,
        is_leaf=lambda x: isinstance(x, nnx.Variable),
    )
    nnx.update(model, values)
    return model


def batch_axes(mesh: jax.sharding.Mesh) -> tuple[str, ...]:
    """The mesh axes the batch is split over: those of the logical "batch" axis in the rules
    table (data, and fsdp: with FSDP each device also takes its own slice of the batch)."""
    return tuple(a for a in LOGICAL_AXIS_RULES["batch"] if a in mesh.shape)


def data_parallel_size(mesh: jax.sharding.Mesh | None) -> int:
    """How many ways the batch is split (the product of the batch axes' sizes; 1 without a
    mesh): batches must be a multiple of it."""
    if mesh is None:
        return 1
    size = 1
    for axis in batch_axes(mesh):
        size *= mesh.shape[axis]
    return size


def batch_sharding(mesh: jax.sharding.Mesh, ndim: int = 2) -> NamedSharding:
    """Batch-major arrays: the batch over the data-parallel axes, the rest replicated."""
    return NamedSharding(mesh, PartitionSpec(batch_axes(mesh), *([None] * (ndim - 1))))
