"""Datasets prepared once per test session: preparing is the slow part, reading is cheap."""

from __future__ import annotations

import pathlib

import pytest

from spft_jax.data.catalog import get_spec
from spft_jax.data.prepare import prepare_dataset


@pytest.fixture(scope="session")
def spider_data_dir(spider_dir, tmp_path_factory) -> pathlib.Path:
    """Full Spider from the shared data, prepared as TFDS (a few seconds)."""
    data_dir = tmp_path_factory.mktemp("tfds_spider")
    prepare_dataset(get_spec("spider"), spider_dir, data_dir, show_progress=False)
    return data_dir


@pytest.fixture(scope="session")
def demo_data_dir(tmp_path_factory) -> pathlib.Path:
    data_dir = tmp_path_factory.mktemp("tfds_demo")
    prepare_dataset(get_spec("demo"), None, data_dir, show_progress=False)
    return data_dir
