"""Training metrics to `metrics.jsonl` (one line per logged step) and TensorBoard event files.

Only process 0 writes; on the other processes a `MetricsLogger` accepts calls and does nothing.
A run that resumes from a checkpoint at step s re-runs the steps after s, so opening the logger
with `resume_step=s` first drops the JSONL lines after s and tells TensorBoard to discard its
events from s+1 on (the "purge step"): the files then hold each step exactly once.
"""

from __future__ import annotations

import json
import math
import pathlib
import struct
import time
from collections.abc import Mapping

import numpy as np

from spft_jax.parallel import coordination

JSONL_NAME = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"


def _plain(value):
    """A JSON-ready Python number from a scalar array or number (NaN/inf become strings)."""
    value = np.asarray(value).item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


class MetricsLogger:
    """Appends one record per step: step, wall time, tokens/s and every metric given."""

    def __init__(self, workdir: str | pathlib.Path, resume_step: int = 0, tensorboard: bool = True,
                 enabled: bool | None = None):
        self.enabled = coordination.is_writer() if enabled is None else enabled
        self.jsonl_path = pathlib.Path(workdir) / JSONL_NAME
        self.tensorboard_dir = pathlib.Path(workdir) / TENSORBOARD_DIR
        self._file = None
        self._writer = None
        if not self.enabled:
            return
        self.jsonl_path.parent.mkdir(parents=True, exist_ok=True)
        self._drop_lines_after(resume_step)
        self._file = self.jsonl_path.open("a", encoding="utf-8")
        if tensorboard:
            from tensorboardX import SummaryWriter  # only the writing process needs it

            self._writer = SummaryWriter(str(self.tensorboard_dir),
                                         purge_step=resume_step + 1 if resume_step else None)

    def _drop_lines_after(self, step: int):
        if not self.jsonl_path.exists():
            return
        kept = []
        for line in self.jsonl_path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by a kill
                continue
            if record.get("step", 0) <= step:
                kept.append(line)
        self.jsonl_path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")

    def log(self, step: int, metrics: Mapping[str, object], tokens: int | None = None,
            seconds: float | None = None):
        """Records `metrics` of `step`; `tokens` processed in `seconds` give tokens/s."""
        if not self.enabled:
            return
        record = {"step": int(step), "time": time.time()}
        if tokens is not None and seconds:
            record["tokens_per_second"] = tokens / seconds
        record.update({name: _plain(value) for name, value in metrics.items()})
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self._writer is not None:
            for name, value in record.items():
                if name not in ("step", "time") and isinstance(value, (int, float)):
                    self._writer.add_scalar(name, value, global_step=step, walltime=record["time"])

    def flush(self):
        if self._file is not None:
            self._file.flush()
        if self._writer is not None:
            self._writer.flush()

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> "MetricsLogger":
        return self

    def __exit__(self, *exc):
        self.close()


def read_tensorboard_scalars(directory: str | pathlib.Path) -> list[tuple[str, int, float]]:
    """(tag, step, value) of every scalar in the event files under `directory`, file by file
    (for plots and tests; TensorBoard itself applies purge steps when it reads)."""
    from tensorboardX.proto import event_pb2

    scalars = []
    for path in sorted(pathlib.Path(directory).glob("events.out.tfevents.*")):
        data = path.read_bytes()
        offset = 0
        while offset + 12 <= len(data):  # a record: length, its CRC, the Event proto, its CRC
            (length,) = struct.unpack("<Q", data[offset:offset + 8])
            event = event_pb2.Event.FromString(data[offset + 12:offset + 12 + length])
            offset += 12 + length + 4
            scalars += [(v.tag, int(event.step), float(v.simple_value)) for v in event.summary.value]
    return scalars
