"""TFDS is installed, TensorFlow is not, and preparing and reading never import it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap

from tests.conftest import REPO_ROOT


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )


def test_tensorflow_is_absent_and_tfds_present():
    assert importlib.util.find_spec("tensorflow") is None
    assert importlib.util.find_spec("tensorflow_datasets") is not None
    assert importlib.util.find_spec("array_record") is not None


def test_prepare_and_read_do_not_import_tensorflow(tmp_path):
    result = run_python(
        f"""
        import sys
        from spft_jax.data.prepare import main
        from spft_jax.data.source import DataSourceConfig, load_examples
        assert main(["--dataset=demo", "--data_dir={tmp_path}", "--quiet"]) == 0
        source = DataSourceConfig(dataset="demo", format="tfds", data_dir="{tmp_path}")
        assert len(load_examples(source, "validation", 0, 1).examples) == 116
        assert "tensorflow_datasets" in sys.modules
        assert "tensorflow" not in sys.modules, "tensorflow was imported"
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "ok"


def test_the_raw_path_imports_neither_tfds_nor_jax():
    result = run_python(
        """
        import sys
        from spft_jax.data.source import DataSourceConfig, load_examples
        load_examples(DataSourceConfig(dataset="demo"), "train")
        assert "tensorflow_datasets" not in sys.modules
        assert "jax" not in sys.modules
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "ok"
