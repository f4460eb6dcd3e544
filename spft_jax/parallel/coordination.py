"""Multi-host coordination for host-side code: the one place where processes agree.

Every process of a multi-host run executes the same program, and host-side code (files, logs,
resume decisions, the workdir lock) needs three things from the others, each defined here once:

- `is_writer()`: which process writes the single-copy files (process 0);
- `barrier(name)` / `after_write(name)`: where processes wait for each other;
- `agreed(value, what)` / `process0_sees(path)`: the collective that makes a decision taken from
  files the same on every process (process 0's answer, broadcast).

Each is a no-op (or the local answer) on one process, and none of them imports JAX: a program
that has not imported JAX yet has one process (`jax.distributed.initialize` needs JAX), so the
command-line tools and tests that never touch JAX run these without paying for its import.
Device-side collectives (gathers of sharded arrays) stay in spft_jax/parallel/distributed.py.
"""

from __future__ import annotations

import pathlib
import sys


def _jax():
    """The jax module when this program already uses it, else None (one process)."""
    return sys.modules.get("jax")


def process_count() -> int:
    jax = _jax()
    return 1 if jax is None else jax.process_count()


def is_writer() -> bool:
    """Whether this process writes logs, reports and other single-copy files: process 0.

    Every process computes the same results; writing them once keeps the files whole (no two
    processes rename the same temporary into place) and the logs readable.
    """
    jax = _jax()
    return True if jax is None else jax.process_index() == 0


def barrier(name: str) -> None:
    """Waits until every process reaches the barrier `name` (nothing to wait for on one).

    Every process must call it, in the same order: a barrier that only some processes reach
    hangs the others.
    """
    if process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def after_write(name: str = "spft_jax workdir write") -> None:
    """The barrier after process 0 wrote a file: every process waits for the write, so that all
    of them see the same files from the same point of the program on (a file another process
    reads right after is there)."""
    barrier(name)


def agreed(value: bool, what: str = "") -> bool:
    """Process 0's `value` on every process (a broadcast when there are several; the local
    value on one).

    Decisions that depend on what a process sees on disk ("this file is there, skip the work",
    "the workdir lock is ours") must be the same on all processes: otherwise one process could
    look after process 0 has already written a file, skip what the others run, and leave them
    waiting in a collective it never joins. Every process must call this together. `what` names
    the decision (for readers and debuggers; the broadcast does not use it).
    """
    del what
    if process_count() <= 1:
        return bool(value)
    import numpy as np
    from jax.experimental import multihost_utils

    return bool(multihost_utils.broadcast_one_to_all(np.int32(bool(value))))


def process0_sees(path: str | pathlib.Path) -> bool:
    """Whether `path` exists as process 0 sees it, on every process: the collective of resume
    decisions (`agreed` over `path.exists()`)."""
    return agreed(pathlib.Path(path).exists(), f"exists {path}")
