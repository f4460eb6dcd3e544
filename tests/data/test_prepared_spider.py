"""Full Spider prepared as TFDS reads back as exactly the raw loader's examples."""

from __future__ import annotations

import sys
from collections import Counter

import pytest
import tensorflow_datasets as tfds

from spft_jax.data.catalog import get_spec
from spft_jax.data.prepared import decode_text, open_prepared_split, prepared_dir
from spft_jax.data.schema_prompts import database_schema_prompt
from spft_jax.data.source import DataSourceConfig, load_examples
from spft_jax.sql.dataset import load_dataset

RAW_FILES = {
    "train": ("train_spider.reconstructed.json", "train_others.reconstructed.json"),
    "validation": ("dev.json",),
}


def raw_parts(spider_dir, split):
    """The raw loader on each of the split's question files, in order."""
    return [
        (name, load_dataset(spider_dir / name, spider_dir / "tables.json", spider_dir / "database"))
        for name in RAW_FILES[split]
    ]


@pytest.mark.parametrize("split, count", [("train", 8659), ("validation", 1034)])
def test_prepared_split_is_the_raw_loaders_examples(spider_dir, spider_data_dir, split, count):
    parts = raw_parts(spider_dir, split)
    raw_examples = [e for _, part in parts for e in part.examples]
    source = DataSourceConfig(
        dataset="spider", format="tfds", manual_dir=str(spider_dir), data_dir=str(spider_data_dir)
    )
    prepared = load_examples(source, split, process_index=0, process_count=1)
    assert len(prepared.examples) == len(raw_examples) == count
    # Example equality covers index, db_id, question, query and every extra field.
    assert list(prepared.examples) == raw_examples
    assert prepared.missing == sum((part.missing for _, part in parts), Counter())

    # One to one by (source file, index): every raw example is found, exactly once.
    by_key = {(name, e.index): e for name, part in parts for e in part.examples}
    records = open_prepared_split(get_spec("spider"), spider_data_dir, split)
    keys = set()
    for record, example in zip(records, prepared.examples):
        key = (decode_text(record["source_file"]), int(record["index"]))
        assert by_key[key] == example
        keys.add(key)
    assert keys == set(by_key)


def test_raw_source_is_the_raw_loader(spider_dir):
    source = DataSourceConfig(dataset="spider", format="raw", manual_dir=str(spider_dir))
    dev = load_examples(source, "validation", process_index=0, process_count=1)
    ((_, raw),) = raw_parts(spider_dir, "validation")
    assert dev.examples == raw.examples
    assert dev.missing == raw.missing == {"wta_1": 62}
    assert dev.db_dir == raw.db_dir and dev.schemas.keys() == raw.schemas.keys()


def test_schema_prompts_and_missing_databases(spider_dir, spider_data_dir):
    ((_, raw),) = raw_parts(spider_dir, "validation")
    records = open_prepared_split(get_spec("spider"), spider_data_dir, "validation")
    prompts = {}
    for record in records:
        db_id = decode_text(record["db_id"])
        prompts.setdefault(db_id, (decode_text(record["schema"]), bool(record["has_database"])))
    for db_id, (prompt, has_database) in prompts.items():
        assert prompt == database_schema_prompt(raw, db_id)
        assert has_database == (db_id not in raw.missing_db_ids)
    # The missing database keeps its schema from tables.json, without sample values.
    wta_prompt, wta_present = prompts["wta_1"]
    assert not wta_present and "CREATE TABLE" in wta_prompt and "-- e.g." not in wta_prompt
    assert "-- e.g." in prompts["concert_singer"][0]


def test_info_has_version_citation_and_license(spider_data_dir):
    path = prepared_dir(get_spec("spider"), spider_data_dir)
    assert path.name == "1.0.0"
    info = tfds.builder_from_directory(path).info
    assert "Spider: A Large-Scale Human-Labeled Dataset" in info.citation
    assert info.redistribution_info.license.startswith("CC BY-SA 4.0")
    assert info.splits["train"].num_examples == 8659
    assert "3 sample values per column" in info.description
    assert "tensorflow" not in sys.modules  # this session prepared and read Spider without it
