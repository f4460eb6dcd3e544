"""Spider-Syn's question field and BIRD's layout (SQL, evidence, SQLite column types), on small
folders in their layouts made from the demo benchmark."""

from __future__ import annotations

import json

import pytest

from spft_jax.data.catalog import get_spec
from spft_jax.data.prepare import prepare_dataset
from spft_jax.data.prepared import decode_text, open_prepared_split
from spft_jax.data.raw import coarse_column_type
from spft_jax.data.source import DataSourceConfig, load_examples
from spft_jax.demo import demo_paths
from spft_jax.errors import ConfigError
from spft_jax.sql.dataset import load_dataset
from tests.data.layouts import make_bird_layout, make_dev_only_layout, make_syn_layout


def read_both(name, manual_dir, data_dir, split):
    raw = load_examples(DataSourceConfig(dataset=name, manual_dir=str(manual_dir)), split, 0, 1)
    source = DataSourceConfig(
        dataset=name, format="tfds", manual_dir=str(manual_dir), data_dir=str(data_dir)
    )
    return raw, load_examples(source, split, 0, 1)


def test_spider_syn_reads_the_paraphrased_question(tmp_path):
    manual = make_syn_layout(tmp_path / "syn")
    prepare_dataset(get_spec("spider_syn"), manual, tmp_path / "out", show_progress=False)
    for split, demo_file in (("train", demo_paths().train), ("validation", demo_paths().dev)):
        raw, prepared = read_both("spider_syn", manual, tmp_path / "out", split)
        assert prepared.examples == raw.examples
        originals = json.loads(demo_file.read_text())
        assert len(raw.examples) == len(originals)
        first = raw.examples[0]
        assert first.question == "Paraphrased: " + originals[0]["question"]
        assert first.extra == {"SpiderQuestion": originals[0]["question"]}


@pytest.mark.parametrize(
    "name, question_file",
    [("spider_realistic", "spider-realistic.json"), ("spider_dk", "Spider-DK.json")],
)
def test_dev_only_variants(tmp_path, name, question_file):
    manual = make_dev_only_layout(tmp_path / name, question_file)
    result = prepare_dataset(get_spec(name), manual, tmp_path / "out", show_progress=False)
    assert result.split_sizes == {"validation": 116}
    assert result.path.endswith(f"spider/{get_spec(name).config}/1.0.0")
    raw, prepared = read_both(name, manual, tmp_path / "out", "validation")
    paths = demo_paths()
    demo_dev = load_dataset(paths.dev, paths.tables, paths.db_dir)
    assert prepared.examples == raw.examples == demo_dev.examples


def test_bird_keeps_evidence_and_maps_column_types(tmp_path):
    manual = make_bird_layout(tmp_path / "bird", missing_dev_db="real_estate")
    result = prepare_dataset(get_spec("bird"), manual, tmp_path / "out", show_progress=False)
    assert result.split_sizes == {"train": 326, "validation": 116}
    for split, file in (("train", "train/train.json"), ("validation", "dev/dev.json")):
        raw, prepared = read_both("bird", manual, tmp_path / "out", split)
        entries = json.loads((manual / file).read_text())
        assert prepared.examples == raw.examples
        assert [e.query for e in raw.examples] == [e["SQL"] for e in entries]
        assert [e.extra["evidence"] for e in raw.examples] == [e["evidence"] for e in entries]
    assert prepared.missing["real_estate"] > 0
    # BIRD's integer/date types became Spider's number/time (its booleans were integers).
    demo = load_dataset(demo_paths().dev, demo_paths().tables, demo_paths().db_dir)
    expected = {"boolean": "number"}
    demo_types = [expected.get(c.type, c.type) for c in demo.schemas["football_league"].columns]
    assert [c.type for c in raw.schemas["football_league"].columns] == demo_types
    records = open_prepared_split(get_spec("bird"), tmp_path / "out", "validation")
    assert [decode_text(r["evidence"]) for r in records] == [e["evidence"] for e in entries]


@pytest.mark.parametrize(
    "declared, coarse",
    [("INTEGER", "number"), ("real", "number"), ("NUMERIC(10,2)", "number"),
     ("date", "time"), ("datetime", "time"), ("BOOLEAN", "boolean"),
     ("varchar(20)", "text"), ("text", "text"), ("blob", "others"), ("number", "number")],
)
def test_coarse_column_types(declared, coarse):
    assert coarse_column_type(declared) == coarse


def test_a_split_the_dataset_does_not_have(tmp_path):
    source = DataSourceConfig(dataset="spider_realistic", manual_dir=str(tmp_path))
    with pytest.raises(ConfigError, match="spider_realistic has no split 'train'"):
        load_examples(source, "train", 0, 1)
