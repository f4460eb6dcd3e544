"""Multi-host runs: process start-up and global arrays from what each host holds.

One process per host (or per GPU); every process runs the same program. `initialize` must run
before anything touches a JAX backend. Each host then

- feeds only its own rows of the global batch (`host_rows` says which; `global_batch` assembles
  the global sharded arrays from the host-local pieces), and
- creates parameters directly on their shards (`create_sharded_model`), so no host ever holds
  a full replicated copy and no cross-host transfer of the initial weights is needed.
On one process all of this reduces to ordinary single-controller JAX.

Who writes (`is_writer`) and where processes wait (`barrier`) live in
spft_jax/parallel/coordination.py (re-exported here for the device-side code that imports them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import jax
import numpy as np
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from spft_jax.errors import ConfigError
from spft_jax.parallel.coordination import barrier, is_writer  # noqa: F401  (re-exported)
from spft_jax.parallel.rules import batch_axes, state_shardings

log = logging.getLogger(__name__)


def initialize(coordinator_address: str | None = None, num_processes: int = 1,
               process_id: int = 0, cpu_collectives: str = "gloo") -> bool:
    """Joins this process to a multi-process JAX run; a no-op (returns False) for one process.

    coordinator_address: "host:port" of process 0's coordinator service. cpu_collectives: the
    cross-process collectives CPU devices use ("gloo" or "mpi"); accelerators use their own.
    """
    if num_processes <= 1:
        return False
    if coordinator_address is None:
        raise ConfigError("distributed: 'coordinator_address' is needed for more than one process")
    if not 0 <= process_id < num_processes:
        raise ConfigError(f"distributed: 'process_id' {process_id} is outside 0..{num_processes - 1}")
    jax.config.update("jax_cpu_collectives_implementation", cpu_collectives)
    jax.distributed.initialize(coordinator_address=coordinator_address,
                               num_processes=num_processes, process_id=process_id)
    log.info("process %d of %d joined %s", process_id, num_processes, coordinator_address)
    return True


def initialize_from_config(coordinator_address: str | None, num_processes: int | None,
                           process_id: int | None, cpu_collectives: str = "gloo") -> None:
    """Joins a multi-process run as the pipeline config describes it; a field left as None is
    auto-detected by `jax.distributed.initialize` (Cloud TPU pods, SLURM, Open MPI)."""
    jax.config.update("jax_cpu_collectives_implementation", cpu_collectives)
    given = {"coordinator_address": coordinator_address, "num_processes": num_processes,
             "process_id": process_id}
    jax.distributed.initialize(**{k: v for k, v in given.items() if v is not None})
    log.info("process %d of %d started", jax.process_index(), jax.process_count())


def batch_spec(mesh: Mesh, ndim: int) -> NamedSharding:
    """[micro, batch, ...] arrays: the batch dimension over the data-parallel mesh axes (the
    layout the train step takes its batches in)."""
    return NamedSharding(mesh, PartitionSpec(None, batch_axes(mesh), *([None] * (ndim - 2))))


def host_rows(mesh: Mesh, global_batch: int) -> list[int]:
    """The batch rows (axis 1 of [micro, batch, ...]) this process feeds, in the order
    `jax.make_array_from_process_local_data` expects them (ascending)."""
    sharding = batch_spec(mesh, 2)
    rows: set[int] = set()
    for index in sharding.addressable_devices_indices_map((1, global_batch)).values():
        rows.update(range(*index[1].indices(global_batch)))
    return sorted(rows)


def global_batch(local: Mapping[str, np.ndarray], mesh: Mesh, global_batch_size: int
                 ) -> dict[str, jax.Array]:
    """Global [micro, batch, ...] arrays sharded over the mesh's data axes, from this host's
    rows (`host_rows`) of each field."""
    out = {}
    for name, value in local.items():
        shape = (value.shape[0], global_batch_size, *value.shape[2:])
        out[name] = jax.make_array_from_process_local_data(batch_spec(mesh, value.ndim), value, shape)
    return out


def create_sharded_model(build: Callable[[], nnx.Module], mesh: Mesh) -> nnx.Module:
    """`build()`'s model with every parameter created on its shards by the logical-axis rules
    (the initialiser runs under jit with those output shardings)."""
    abstract = nnx.eval_shape(build)
    graphdef, abstract_state = nnx.split(abstract)
    shardings = state_shardings(abstract_state, mesh)
    state = jax.jit(lambda: nnx.split(build())[1], out_shardings=shardings)()
    return nnx.merge(graphdef, state)


def put_global(value, sharding: jax.sharding.Sharding | None) -> jax.Array:
    """A host value that every process holds in full, placed with `sharding` (each process
    contributes its own devices' pieces, so this works when the sharding spans processes)."""
    value = np.asarray(value)
    if sharding is None:
        return jax.device_put(value)
    return jax.make_array_from_callback(value.shape, sharding, lambda index: value[index])


def to_host(x) -> np.ndarray:
    """The whole of `x` on this host: gathered from the other processes when they hold parts of
    it (every process must call this together), read directly otherwise."""
    if isinstance(x, jax.Array) and not x.is_fully_addressable and not x.is_fully_replicated:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)


def gather_to_host(tree):
    """Every array of `tree` as a full numpy array on every process (a test and export helper;
    it moves whole arrays, so not for large models on many hosts)."""
    from jax.experimental import multihost_utils

    def fetch(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            return np.asarray(multihost_utils.process_allgather(x, tiled=True))
        return np.asarray(x)

    return jax.tree.map(fetch, tree)
