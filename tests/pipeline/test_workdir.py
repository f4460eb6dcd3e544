"""The workdir: atomic writes, readable errors for damaged files, stage markers, bad roots."""

import json
import pathlib

import numpy as np
import pytest

from spft_jax.errors import ConfigError, DataError
from spft_jax.pipeline.workdir import (
    Workdir,
    read_json,
    read_jsonl,
    write_json,
    write_jsonl,
    write_text_atomic,
)


def test_atomic_writes_leave_only_the_file(tmp_path):
    write_text_atomic(tmp_path / "a" / "b" / "notes.txt", "first")
    write_text_atomic(tmp_path / "a" / "b" / "notes.txt", "second")
    write_json(tmp_path / "a" / "value.json", {"x": 1})
    write_jsonl(tmp_path / "a" / "rows.jsonl", [{"i": 1}, {"i": 2}])
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["a/b/notes.txt", "a/rows.jsonl", "a/value.json"]  # no temporary left over
    assert (tmp_path / "a" / "b" / "notes.txt").read_text() == "second"


def test_a_failed_write_keeps_the_previous_file(tmp_path):
    path = tmp_path / "value.json"
    write_json(path, {"x": 1})
    with pytest.raises(TypeError, match="not JSON serialisable: object"):
        write_json(path, {"x": object()})
    with pytest.raises(TypeError):
        write_jsonl(tmp_path / "rows.jsonl", [{"x": 1}, {"x": object()}])
    assert read_json(path) == {"x": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["value.json"]


def test_json_round_trips_numpy_scalars_and_paths(tmp_path):
    value = {"ex": np.float32(0.25), "n": np.int64(7), "where": pathlib.Path("/a/b"), "list": [1, None]}
    write_json(tmp_path / "v.json", value)
    assert read_json(tmp_path / "v.json") == {"ex": 0.25, "n": 7, "where": "/a/b", "list": [1, None]}
    write_jsonl(tmp_path / "v.jsonl", [value, {"k": "v"}])
    assert read_jsonl(tmp_path / "v.jsonl") == [{"ex": 0.25, "n": 7, "where": "/a/b", "list": [1, None]},
                                                 {"k": "v"}]


def test_read_json_of_a_damaged_file_says_which_and_what_to_do(tmp_path):
    path = tmp_path / "stages" / "sft.json"
    path.parent.mkdir()
    path.write_text('{"eval": {"greedy"')
    with pytest.raises(DataError) as caught:
        read_json(path)
    message = str(caught.value)
    assert str(path) in message and "not valid JSON" in message and "delete it" in message


def test_read_jsonl_names_the_bad_line(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2}\n{"a": 3\n{"a": 4}\n')
    with pytest.raises(DataError, match=r"pairs\.jsonl, line 4: not valid JSON"):
        read_jsonl(path)


def test_read_jsonl_skips_blank_lines(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n   \n\n{"a": 2}')
    assert read_jsonl(path) == [{"a": 1}, {"a": 2}]
    write_jsonl(path, [])
    assert path.read_text() == "" and read_jsonl(path) == []


def test_stage_markers(tmp_path):
    workdir = Workdir(tmp_path / "run")
    assert workdir.finished("sft") is None
    workdir.mark_finished("sft", {"validation_ex": 0.5, "seconds": np.float64(12.0)})
    assert workdir.finished("sft") == {"validation_ex": 0.5, "seconds": 12.0}
    assert json.loads((tmp_path / "run" / "stages" / "sft.json").read_text())["validation_ex"] == 0.5
    assert workdir.finished("stage1") is None
    workdir.mark_finished("sft", {"validation_ex": 0.75})  # a rerun's marker replaces the old one
    assert workdir.finished("sft") == {"validation_ex": 0.75}
    # A fresh Workdir over the same folder sees what the first one marked (a resumed run).
    assert Workdir(tmp_path / "run").finished("sft") == {"validation_ex": 0.75}


def test_a_damaged_marker_is_a_data_error(tmp_path):
    workdir = Workdir(tmp_path)
    workdir.path("stages").mkdir()
    workdir.path("stages", "base_eval.json").write_text("")
    with pytest.raises(DataError, match="base_eval.json is not valid JSON"):
        workdir.finished("base_eval")


def test_layout_paths(tmp_path):
    workdir = Workdir(tmp_path / "new" / "run")
    root = (tmp_path / "new" / "run").absolute()
    assert root.is_dir() and workdir.root == root
    assert workdir.run_dir("sft") == root / "runs" / "sft"
    assert workdir.model_dir("stage1_round_1") == root / "model_base" / "stage1_round_1"
    assert workdir.synth_dir(2) == root / "synth" / "round_2"
    assert workdir.selfplay_dir(1) == root / "selfplay" / "iter_1"
    assert workdir.eval_path("sft") == root / "eval" / "sft.json"
    assert workdir.eval_path("sft_sc", ".sql") == root / "eval" / "sft_sc.sql"


def test_a_workdir_that_is_a_file_is_a_config_error(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(ConfigError, match="^--workdir: .*file exists and is not a folder"):
        Workdir(path)


def test_an_empty_workdir_is_a_config_error():
    with pytest.raises(ConfigError, match="^--workdir: needed"):
        Workdir("")


def test_is_writer_is_one_function_and_needs_no_jax():
    import subprocess
    import sys

    from spft_jax.parallel import coordination, distributed
    from spft_jax.pipeline import workdir

    assert workdir.is_writer is coordination.is_writer is distributed.is_writer
    assert distributed.barrier is coordination.barrier
    # Host-side code that never imported JAX is one process, and writes without importing it.
    script = ("import sys; from spft_jax.pipeline.workdir import exists, is_writer; "
              "assert is_writer() and not exists('/no/such/file'); assert 'jax' not in sys.modules")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)


def test_resume_decisions_and_writes_go_through_the_coordination_module(tmp_path, monkeypatch):
    """`exists` is process 0's answer (coordination.agreed), and every write ends in the barrier
    after process 0's write: the collectives are explicit and in one place."""
    from spft_jax.parallel import coordination

    calls = []
    monkeypatch.setattr(coordination, "agreed", lambda value, what="": calls.append(("agreed", value, what))
                        or value)
    monkeypatch.setattr(coordination, "barrier", lambda name: calls.append(("barrier", name)))
    workdir = Workdir(tmp_path)
    assert calls == [("barrier", "spft_jax workdir root")]
    calls.clear()
    assert workdir.finished("sft") is None
    workdir.mark_finished("sft", {"ex": 1})
    assert workdir.finished("sft") == {"ex": 1}
    marker = str(workdir.path("stages", "sft.json"))
    assert calls == [("agreed", False, f"exists {marker}"), ("barrier", "spft_jax workdir write"),
                     ("agreed", True, f"exists {marker}")]
    # On another process the write is left to process 0; the barrier is still every process's.
    monkeypatch.setattr(coordination, "is_writer", lambda: False)
    calls.clear()
    write_json(tmp_path / "not_here.json", {})
    assert not (tmp_path / "not_here.json").exists() and calls == [("barrier", "spft_jax workdir write")]
