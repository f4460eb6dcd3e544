"""User mistakes give one clear line (and exit status 2 from the command), never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from spft_jax.data.prepare import main
from spft_jax.data.source import DataSourceConfig, load_examples
from spft_jax.errors import ConfigError, DataError
from tests.conftest import REPO_ROOT
from tests.data.layouts import make_bird_layout, make_spider_layout


def test_missing_dev_json_exits_2_with_one_line(tmp_path):
    manual = make_spider_layout(tmp_path / "spider", with_dev=False)
    result = subprocess.run(
        [sys.executable, "-m", "spft_jax.data.prepare", "--dataset=spider",
         f"--manual_dir={manual}", f"--data_dir={tmp_path / 'out'}", "--quiet"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: spider: dev.json not found in {manual}"]
    assert not (tmp_path / "out" / "spider").exists()  # nothing half-written


def test_missing_bird_tables_file_is_named(tmp_path, capsys):
    manual = make_bird_layout(tmp_path / "bird")
    (manual / "dev" / "dev_tables.json").unlink()
    assert main(["--dataset=bird", f"--manual_dir={manual}", f"--data_dir={tmp_path}/out"]) == 2
    assert capsys.readouterr().err == f"error: bird: dev/dev_tables.json not found in {manual}\n"


def test_alternative_names_are_mentioned(tmp_path, capsys):
    manual = make_spider_layout(tmp_path / "spider")
    (manual / "train_others.json").unlink()
    assert main(["--dataset=spider", f"--manual_dir={manual}", f"--data_dir={tmp_path}/o"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: spider: train_others.json (or train_others.reconstructed.json)")


def test_unknown_dataset(tmp_path, capsys):
    assert main(["--dataset=spiderr", f"--data_dir={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "error: unknown dataset 'spiderr'; known datasets: spider, spider_syn, "
        "spider_realistic, spider_dk, bird, demo"
    ]
    with pytest.raises(ConfigError, match="field 'dataset': unknown dataset 'spiderr'"):
        DataSourceConfig(dataset="spiderr")


def test_manual_dir_is_required_and_must_exist(tmp_path, capsys):
    assert main(["--dataset=spider", f"--data_dir={tmp_path}"]) == 2
    assert "error: spider needs manual_dir" in capsys.readouterr().err
    absent = tmp_path / "none"
    assert main(["--dataset=spider", f"--manual_dir={absent}", f"--data_dir={tmp_path}"]) == 2
    assert capsys.readouterr().err == f"error: spider: manual_dir {absent} is not a directory\n"
    assert main(["--dataset=demo", f"--manual_dir={tmp_path}", f"--data_dir={tmp_path}"]) == 2
    assert "demo ships inside the package" in capsys.readouterr().err


def test_data_dir_without_a_prepared_dataset(tmp_path):
    source = DataSourceConfig(dataset="demo", format="tfds", data_dir=str(tmp_path))
    with pytest.raises(DataError, match="no prepared demo dataset in .*; run python -m "
                       "spft_jax.data.prepare --dataset=demo --data_dir="):
        load_examples(source, "train", 0, 1)
    (tmp_path / "spft_demo" / "demo" / "0.9.0").mkdir(parents=True)
    with pytest.raises(DataError, match=r"\(it holds version 0.9.0\)"):
        load_examples(source, "train", 0, 1)


def test_prepared_dataset_is_reused(demo_data_dir, capsys):
    assert main(["--dataset=demo", f"--data_dir={demo_data_dir}", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("demo: already prepared in ") and "validation (116 questions)" in out


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"format": "parquet"}, "field 'format' must be one of raw, tfds, got 'parquet'"),
        ({"format": "tfds"}, "field 'data_dir' must be set when format is 'tfds'"),
        ({"data_dirr": "x"}, "unknown field\\(s\\) data_dirr"),
    ],
)
def test_config_errors_name_the_field(fields, message):
    with pytest.raises(ConfigError, match=message):
        DataSourceConfig.from_mapping(fields)


def test_from_mapping_treats_empty_strings_as_unset():
    source = DataSourceConfig.from_mapping({"dataset": "demo", "manual_dir": "", "data_dir": ""})
    assert source == DataSourceConfig(dataset="demo")
