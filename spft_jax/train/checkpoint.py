"""Training checkpoints with Orbax: save every N steps, keep the last K, write in the background.

A checkpoint holds everything a run needs to continue as if it had never stopped: the trainable
parameters and the optimizer state (item "state", arrays), and the step, the data position,
the RNG key and a description of the data (item "progress", JSON). Orbax writes each step into
a temporary directory and renames it when complete, so a step directory that exists is whole;
the debris of a save cut short by a kill is removed when the next run opens the directory.

Restoring reads every array straight onto the sharding of the array it replaces (the "target"
is the current state's abstract shapes, dtypes and shardings), so a sharded run restores sharded
and no host materialises a full copy. Before reading, the checkpoint's array names, shapes and
dtypes are compared with the current state's; a checkpoint of another model, another LoRA
setting or another optimizer is refused with `CheckpointMismatchError` naming what differs.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from spft_jax.errors import SpftError
from spft_jax.train.batches import DataPosition

log = logging.getLogger(__name__)

STATE, PROGRESS = "state", "progress"


class CheckpointError(SpftError):
    """A checkpoint cannot be read or written."""


class CheckpointMismatchError(CheckpointError):
    """A checkpoint does not fit the model, optimizer or data of the run restoring it."""


@dataclasses.dataclass(frozen=True)
class TrainProgress:
    """The host-side part of a checkpoint."""

    step: int  # optimizer updates done
    position: DataPosition  # the next batch to train on
    rng: tuple[int, ...]  # jax.random.key_data of the run's key
    rng_impl: str  # the key's PRNG implementation, e.g. "threefry2x32"
    data: dict[str, Any] = dataclasses.field(default_factory=dict)  # what the data was

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "epoch": self.position.epoch, "index": self.position.index,
                "rng": list(self.rng), "rng_impl": self.rng_impl, "data": dict(self.data)}

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> "TrainProgress":
        return cls(step=int(record["step"]),
                   position=DataPosition(int(record["epoch"]), int(record["index"])),
                   rng=tuple(int(x) for x in record["rng"]), rng_impl=str(record["rng_impl"]),
                   data=dict(record.get("data", {})))

    @classmethod
    def from_key(cls, step: int, position: DataPosition, key: jax.Array,
                 data: dict[str, Any] | None = None) -> "TrainProgress":
        return cls(step, position, tuple(int(x) for x in jax.random.key_data(key).ravel()),
                   str(jax.random.key_impl(key)), dict(data or {}))

    def key(self) -> jax.Array:
        return jax.random.wrap_key_data(np.asarray(self.rng, np.uint32), impl=self.rng_impl)


def _path_name(path) -> str:
    parts = []
    for entry in path:
        for attribute in ("key", "idx", "name"):
            if hasattr(entry, attribute):
                parts.append(str(getattr(entry, attribute)))
                break
        else:
            parts.append(str(entry))
    if parts and parts[-1] == "value":  # nnx.Variable's payload
        parts.pop()
    return ".".join(parts)


def _describe(tree) -> dict[str, tuple[tuple[int, ...], str]]:
    """{array name: (shape, dtype)} of a tree of arrays or of Orbax array metadata."""
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {_path_name(path): (tuple(leaf.shape), str(np.dtype(leaf.dtype))) for path, leaf in leaves}


def _abstract(tree):
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), tree)


class TrainCheckpointer:
    """Saves and restores (trainable, opt_state, TrainProgress) under `directory/<step>`."""

    def __init__(self, directory: str | pathlib.Path, every: int, keep: int = 3,
                 async_save: bool = True):
        if every < 1 or keep < 1:
            raise CheckpointError(f"checkpoint every={every} and keep={keep} must be positive")
        self.directory = pathlib.Path(directory).absolute()
        self.every = every
        options = ocp.CheckpointManagerOptions(
            enable_async_checkpointing=async_save,
            preservation_policy=ocp.checkpoint_managers.LatestN(keep),
            cleanup_tmp_directories=True,  # saves cut short by a kill
            create=True,
        )
        # Handlers named up front, so that a fresh process can read a checkpoint's metadata
        # before it has saved or restored anything itself.
        handlers = {STATE: ocp.StandardCheckpointHandler(), PROGRESS: ocp.JsonCheckpointHandler()}
        self._manager = ocp.CheckpointManager(self.directory, options=options, item_handlers=handlers)
        self._last_saved: int | None = None

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return list(self._manager.all_steps())

    def save(self, trainable, opt_state, progress: TrainProgress, force: bool = False) -> bool:
        """Saves when the step is a multiple of `every` (or `force`); returns whether it did.
        The arrays are copied off the devices before this returns; the files are written in the
        background unless the checkpointer is synchronous."""
        if not force and progress.step % self.every:
            return False
        if progress.step == self._last_saved or progress.step in self._manager.all_steps():
            return False
        self._last_saved = progress.step
        state = {"trainable": trainable, "opt_state": opt_state}
        return self._manager.save(
            progress.step, force=True,
            args=ocp.args.Composite(**{STATE: ocp.args.StandardSave(state),
                                       PROGRESS: ocp.args.JsonSave(progress.to_json())}))

    def restore(self, trainable_like, opt_state_like, step: int | None = None):
        """(trainable, opt_state, TrainProgress) of `step` (default: the latest), each array
        placed like its counterpart in `*_like` (arrays or ShapeDtypeStructs with shardings)."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise CheckpointError(f"no checkpoint in {self.directory}")
        target = _abstract({"trainable": trainable_like, "opt_state": opt_state_like})
        self._check_matches(step, target)
        try:
            restored = self._manager.restore(
                step, args=ocp.args.Composite(**{STATE: ocp.args.StandardRestore(target),
                                                 PROGRESS: ocp.args.JsonRestore()}))
        except (ValueError, KeyError, FileNotFoundError, OSError) as e:
            raise CheckpointError(f"checkpoint {self.directory / str(step)} could not be read: {e}") from e
        state, progress = restored[STATE], TrainProgress.from_json(restored[PROGRESS])
        return state["trainable"], state["opt_state"], progress

    def _check_matches(self, step: int, target):
        where = self.directory / str(step)
        try:
            metadata = self._manager.item_metadata(step)[STATE]
        except (ValueError, KeyError, FileNotFoundError, OSError) as e:
            raise CheckpointError(f"checkpoint {where} has no readable array metadata: {e}") from e
        if metadata is None:
            raise CheckpointError(f"checkpoint {where} has no item {STATE!r}")
        saved, wanted = _describe(metadata), _describe(target)
        order = lambda name: (not name.startswith("trainable."), name)  # noqa: E731  parameters first
        differ = sorted((n for n in saved.keys() & wanted.keys() if saved[n] != wanted[n]), key=order)
        missing = sorted(wanted.keys() - saved.keys(), key=order)
        extra = sorted(saved.keys() - wanted.keys(), key=order)
        problems = []
        if differ:
            shown = "; ".join(f"{n}: checkpoint {saved[n][0]} {saved[n][1]}, "
                              f"model {wanted[n][0]} {wanted[n][1]}" for n in differ[:3])
            problems.append(f"{len(differ)} arrays differ in shape or dtype, e.g. {shown}")
        if missing:
            problems.append(f"missing from the checkpoint: {_some(missing)}")
        if extra:
            problems.append(f"only in the checkpoint: {_some(extra)}")
        if problems:
            raise CheckpointMismatchError(
                f"checkpoint {where} does not match the model/optimizer being trained "
                f"(a checkpoint of another run in this directory?): " + "; ".join(problems))

    def wait(self):
        """Blocks until every background save is on disk."""
        self._manager.wait_until_finished()

    def close(self):
        self._manager.wait_until_finished()
        self._manager.close()


def _some(names: list[str], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" (+{len(names) - limit} more)" if len(names) > limit else "")
