"""Which examples a host reads, and in what order, so a multi-host run can stop and resume.

Host `i` of `n` takes the split's positions i, i+n, i+2n, ...: the shards are disjoint, their
union is the split, and their sizes differ by at most one. A `ShardReader` walks its shard in a
seeded order that changes every epoch; its `ReaderPosition` (epoch, index) is all a checkpoint
needs to continue exactly where it stopped.

The per-epoch order sorts the shard by a keyed hash of (seed, epoch, shard index) rather than
drawing from a NumPy generator, whose streams NumPy may change between releases: a checkpoint
written today resumes in the same order after an upgrade.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from spft_jax.errors import ConfigError, DataError

T = TypeVar("T")


def host_identity(
    process_index: int | None = None, process_count: int | None = None
) -> tuple[int, int]:
    """(process_index, process_count), defaulting to JAX's only when JAX is already imported:
    this module must stay importable, and usable on one host, without JAX."""
    if process_index is None or process_count is None:
        jax = sys.modules.get("jax")
        if process_index is None:
            process_index = jax.process_index() if jax is not None else 0
        if process_count is None:
            process_count = jax.process_count() if jax is not None else 1
    if process_count < 1:
        raise ConfigError(f"process_count must be at least 1, got {process_count}")
    if not 0 <= process_index < process_count:
        raise ConfigError(
            f"process_index must be in 0..{process_count - 1}, got {process_index}"
        )
    return process_index, process_count


def shard_positions(total: int, process_index: int, process_count: int) -> range:
    """The positions of a split of `total` examples that host `process_index` reads."""
    return range(process_index, total, process_count)


@dataclasses.dataclass(frozen=True)
class ReaderPosition:
    """Where a ShardReader continues: the `index`-th example of epoch `epoch`'s order."""

    epoch: int = 0
    index: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "index": self.index}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "ReaderPosition":
        """Reads a position saved by `to_dict`, e.g. from a checkpoint's JSON."""
        try:
            epoch, index = values["epoch"], values["index"]
        except (KeyError, TypeError):
            raise DataError(f"reader position must have epoch and index, got {values!r}") from None
        if not (isinstance(epoch, int) and isinstance(index, int)) or epoch < 0 or index < 0:
            raise DataError(f"reader position needs non-negative integers, got {values!r}")
        return cls(epoch=epoch, index=index)


def epoch_order(size: int, seed: int, epoch: int) -> list[int]:
    """A permutation of range(size), fixed by (seed, epoch)."""

    def key(i: int) -> bytes:
        return hashlib.blake2b(f"{seed}:{epoch}:{i}".encode(), digest_size=8).digest()

    return sorted(range(size), key=key)


class ShardReader(Generic[T]):
    """Yields this host's examples forever, epoch after epoch, each epoch in its own order.

    `epoch_size` (default: the whole shard) caps how many examples an epoch takes; setting it
    to the smallest host's shard size gives every host the same number of steps per epoch,
    and since the order changes per epoch, the examples left out change too.
    """

    def __init__(
        self,
        examples: Sequence[T],
        seed: int,
        position: ReaderPosition = ReaderPosition(),
        epoch_size: int | None = None,
    ):
        if not examples:
            raise DataError("this host's shard is empty: more hosts than examples?")
        self._examples = examples
        self._seed = seed
        self._epoch_size = len(examples) if epoch_size is None else epoch_size
        if not 0 < self._epoch_size <= len(examples):
            raise ConfigError(
                f"epoch_size must be in 1..{len(examples)} (this host's shard), got {epoch_size}"
            )
        if position.index > self._epoch_size:
            raise DataError(
                f"saved reader position {position} is past the end of an epoch of "
                f"{self._epoch_size} examples: did the dataset or the number of hosts change?"
            )
        self._position = position
        self._order = epoch_order(len(examples), seed, position.epoch)
        self._normalise()

    @property
    def position(self) -> ReaderPosition:
        """Where the next example comes from; save it, pass it back to resume."""
        return self._position

    @property
    def epoch_size(self) -> int:
        return self._epoch_size

    def __iter__(self) -> "ShardReader[T]":
        return self

    def __next__(self) -> T:
        example = self._examples[self._order[self._position.index]]
        self._position = dataclasses.replace(self._position, index=self._position.index + 1)
        self._normalise()
        return example

    def take(self, count: int) -> list[T]:
        """The next `count` examples (crossing into the next epoch if need be)."""
        return [next(self) for _ in range(count)]

    def _normalise(self) -> None:
        # A finished epoch is saved as the start of the next one, so a position never points
        # past the end of an epoch.
        if self._position.index == self._epoch_size:
            self._position = ReaderPosition(epoch=self._position.epoch + 1, index=0)
            self._order = epoch_order(len(self._examples), self._seed, self._position.epoch)
