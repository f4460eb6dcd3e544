"""The workdir: one stable layout for everything a run produces, written so a kill loses nothing.

    config.json                      the config the run was started with
    stages/<stage>.json              a finished stage and its results (the resume marker)
    runs/<run>/                      one fine-tuning run: checkpoints/, metrics.jsonl, tensorboard/
    model_base/<name>/               a Text-to-SQL model of the base: weights/ + metadata.json
    sql2text/round_<k>/              the SQL-to-Text model of stage-1 round k
    synth/round_<k>/                 candidates / verified / failed .jsonl and stats.json
    selfplay/iter_<t>/               pairs.jsonl and stats.json
    eval/<name>.json, eval/<name>.sql    evaluation reports and Spider-format predictions
    report.json, report.md, plots/   the summary of the whole run
    cache/value_index/               each database's text values, for matched values in prompts

    .lock                            the running command's lock (spft_jax/pipeline/workdir_lock.py)

This module is the layout's paths and its atomic writes. Files are written to a temporary name
and renamed into place, so a file that exists is whole; a JSON marker is written last, after what
it vouches for. Only process 0 writes (every process computes the same results in a multi-host
run); the value index cache is the exception: any process that builds an index writes it
(spft_jax/data/value_index.py), the same bytes, renamed into place.

The multi-host coordination these files need is spelled out in spft_jax/parallel/coordination.py
and only used here: `is_writer` (process 0 writes), a barrier after each write (`after_write`: all
processes see the file from then on) and `exists`, the collective of resume decisions (process 0's
answer on every process). Every process must therefore call the writers and `exists` together.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Iterable, Mapping
from typing import Any

from spft_jax.errors import ConfigError, DataError
from spft_jax.parallel import coordination

is_writer = coordination.is_writer  # process 0 writes (re-exported for the pipeline's modules)


def exists(path: str | pathlib.Path) -> bool:
    """Whether `path` exists, as process 0 sees it, on every process: a resume decision ("this
    file is there, skip the work") and so a collective (`coordination.process0_sees`), which
    every process must call together. Use `pathlib.Path.exists` for a look that decides nothing."""
    return coordination.process0_sees(path)


def write_text_atomic(path: str | pathlib.Path, text: str) -> None:
    if coordination.is_writer():
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp{os.getpid()}")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    coordination.after_write("spft_jax workdir write")


def write_json(path: str | pathlib.Path, value: Any) -> None:
    write_text_atomic(path, json.dumps(value, indent=2, sort_keys=False, default=_plain) + "\n")


def read_json(path: str | pathlib.Path) -> Any:
    path = pathlib.Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path} is not valid JSON ({e}); delete it to redo what wrote it") from e


def write_jsonl(path: str | pathlib.Path, records: Iterable[Mapping[str, Any]]) -> None:
    lines = "".join(json.dumps(dict(r), default=_plain) + "\n" for r in records)
    write_text_atomic(path, lines)


def read_jsonl(path: str | pathlib.Path, skip_bad_lines: bool = False) -> list[dict[str, Any]]:
    """The records of a JSONL file. skip_bad_lines: drop unreadable lines (a log whose last line
    a kill cut short) instead of failing."""
    path = pathlib.Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path} is not UTF-8 text ({e}); delete it to redo what wrote it") from e
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                if skip_bad_lines:
                    continue
                raise DataError(f"{path}, line {number}: not valid JSON ({e}); delete the file "
                                "to redo what wrote it") from e
    return records


def _plain(value):
    """JSON for numpy scalars and paths."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, pathlib.Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class Workdir:
    """Paths of the layout above, and the stage markers."""

    def __init__(self, root: str | pathlib.Path):
        if not str(root):
            raise ConfigError("--workdir: needed (the folder every result is written to)")
        self.root = pathlib.Path(root).expanduser().absolute()
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(f"--workdir: {self.root} exists and is not a folder")
        if coordination.is_writer():
            self.root.mkdir(parents=True, exist_ok=True)
        coordination.after_write("spft_jax workdir root")

    def path(self, *parts: str) -> pathlib.Path:
        return self.root.joinpath(*parts)

    def run_dir(self, run: str) -> pathlib.Path:
        return self.path("runs", run)

    def model_dir(self, name: str) -> pathlib.Path:
        return self.path("model_base", name)

    def synth_dir(self, round_index: int) -> pathlib.Path:
        return self.path("synth", f"round_{round_index}")

    def selfplay_dir(self, iteration: int) -> pathlib.Path:
        return self.path("selfplay", f"iter_{iteration}")

    def eval_path(self, name: str, suffix: str = ".json") -> pathlib.Path:
        return self.path("eval", f"{name}{suffix}")

    # -- stage markers -------------------------------------------------------------------------
    def _marker(self, stage: str) -> pathlib.Path:
        return self.path("stages", f"{stage}.json")

    def finished(self, stage: str) -> dict | None:
        """The results a finished stage recorded, or None when it has not finished."""
        marker = self._marker(stage)
        return read_json(marker) if exists(marker) else None

    def mark_finished(self, stage: str, results: Mapping[str, Any]) -> None:
        write_json(self._marker(stage), dict(results))
