"""Reading a prepared TFDS dataset back as the raw loader's examples, one host's shard at a time.

The questions come from the array_record files through `tfds.data_source` (random access,
NumPy decoding, no TensorFlow), and only the records at this host's positions are read. Schemas
and databases still come from the dataset's own folder (the manual dir): the pipeline needs
them to execute SQL, and they are the same files the dataset was prepared from.
"""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

import tensorflow_datasets as tfds
from etils import epath

from spft_jax.data.catalog import DatasetSpec, check_split, split_files
from spft_jax.data.host_shard import shard_positions
from spft_jax.data.raw import dataset_from_examples, load_split_schemas
from spft_jax.data.tfds_builders import BUILDERS
from spft_jax.errors import DataError
from spft_jax.sql.dataset import Dataset, Example


def prepared_dir(spec: DatasetSpec, data_dir: str | pathlib.Path) -> epath.Path:
    """Where `prepare` writes `spec` under `data_dir`: <builder>/<config>/<version>."""
    version = str(BUILDERS[spec.builder].VERSION)
    return epath.Path(data_dir) / spec.builder / spec.config / version


def open_prepared_split(spec: DatasetSpec, data_dir: str | pathlib.Path, split: str):
    """The `tfds.data_source` of `split`, or an error that says how to prepare it."""
    check_split(spec, split)
    path = prepared_dir(spec, data_dir)
    if not (path / "dataset_info.json").exists():
        raise DataError(_not_prepared_message(spec, data_dir, path))
    builder = tfds.builder_from_directory(path)
    if split not in builder.info.splits:
        raise DataError(f"prepared {spec.name} in {path} has no split {split!r}: prepare it again")
    return builder.as_data_source(split=split)


def load_prepared_split(
    spec: DatasetSpec,
    data_dir: str | pathlib.Path,
    manual_dir: str | pathlib.Path | None,
    split: str,
    process_index: int = 0,
    process_count: int = 1,
) -> Dataset:
    """Host `process_index`'s shard of the prepared split (see `host_shard`), with the schemas
    and database folder of the dataset's own files."""
    source = open_prepared_split(spec, data_dir, split)
    files = split_files(spec, manual_dir, split, need_questions=False)
    positions = list(shard_positions(len(source), process_index, process_count))
    records = source.__getitems__(positions) if positions else []
    return dataset_from_examples(
        f"{spec.name} {split}",
        [record_to_example(record) for record in records],
        load_split_schemas(spec, files.tables),
        files.db_dir,
        tables=files.tables,
    )


def record_to_example(record: dict[str, Any]) -> Example:
    """A decoded TFDS record as the raw loader's Example (extra fields restored from JSON)."""
    return Example(
        index=int(record["index"]),
        db_id=decode_text(record["db_id"]),
        question=decode_text(record["question"]),
        query=decode_text(record["query"]),
        extra=json.loads(decode_text(record["extra"])),
    )


def decode_text(value: bytes | str) -> str:
    """TFDS's NumPy decoding gives Text features as UTF-8 bytes."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _not_prepared_message(
    spec: DatasetSpec, data_dir: str | pathlib.Path, expected: epath.Path
) -> str:
    config_dir = expected.parent
    entries = config_dir.iterdir() if config_dir.is_dir() else []
    # Only finished versions: an interrupted prepare leaves "incomplete.*" folders beside them.
    versions = sorted(p.name for p in entries if re.fullmatch(r"\d+\.\d+\.\d+", p.name))
    found = f" (it holds version {', '.join(versions)})" if versions else ""
    manual = "" if spec.packaged_root is not None else " --manual_dir=<its files>"
    return (
        f"no prepared {spec.name} dataset in {data_dir}: expected {expected}{found}; run "
        f"python -m spft_jax.data.prepare --dataset={spec.name}{manual} --data_dir={data_dir}"
    )
