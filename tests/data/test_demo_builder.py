"""The demo builder: the packaged benchmark prepared as TFDS reads back as load_dataset gives it."""

from __future__ import annotations

import pytest

from spft_jax.data.source import DataSourceConfig, load_examples
from spft_jax.demo import demo_paths
from spft_jax.sql.dataset import load_dataset


@pytest.mark.parametrize("split, file", [("train", "train"), ("validation", "dev")])
def test_demo_reads_back_as_load_dataset(demo_data_dir, split, file):
    paths = demo_paths()
    raw = load_dataset(getattr(paths, file), paths.tables, paths.db_dir)
    for fmt in ("tfds", "raw"):
        source = DataSourceConfig(dataset="demo", format=fmt, data_dir=str(demo_data_dir))
        dataset = load_examples(source, split, process_index=0, process_count=1)
        assert dataset.examples == raw.examples, fmt
        assert dataset.schemas == raw.schemas
        assert dataset.db_dir == raw.db_dir
        assert dataset.missing_db_ids == raw.missing_db_ids == frozenset()
