"""The whole pipeline on the demo benchmark with a tiny random model (configs/tiny.py), through
`python -m spft_jax.main` as a user runs it: killed in the middle of stage 1, rerun to the end
without redoing what had finished, and rerun once more with nothing left to do. Plus the
invalid configs that must fail fast with one line and exit status 2."""

from __future__ import annotations

import json
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import cpu_subprocess_env

ROOT = pathlib.Path(__file__).resolve().parents[2]
TINY = str(ROOT / "configs" / "tiny.py")
TIMEOUT = 600


def main_command(workdir, *extra) -> list[str]:
    return [sys.executable, "-m", "spft_jax.main", f"--config={TINY}", f"--workdir={workdir}",
            "--noprogress", *extra]


def environment() -> dict:
    return cpu_subprocess_env()


def run_main(workdir, *extra, timeout=TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(main_command(workdir, *extra), cwd=ROOT, env=environment(),
                          capture_output=True, text=True, timeout=timeout)


def wait_for(path: pathlib.Path, process: subprocess.Popen, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"the run ended (status {process.returncode}) before {path} appeared:\n"
                                 + process.stdout.read()[-4000:])
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear in {timeout} s")
        time.sleep(0.2)


def snapshot(paths: list[pathlib.Path]) -> dict:
    return {str(p): (p.read_bytes(), p.stat().st_mtime_ns) for p in paths}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """(workdir, outputs): a run killed during stage 1's SQL-to-Text training, then rerun."""
    workdir = tmp_path_factory.mktemp("tiny_pipeline")
    first = subprocess.Popen(main_command(workdir), cwd=ROOT, env=environment(),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # The SQL-to-Text run checkpoints every step: kill it right after its first checkpoint.
        wait_for(workdir / "runs" / "sql2text_round_1" / "checkpoints" / "1", first)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    done_before = {p.name for p in (workdir / "stages").glob("*.json")}
    lock_left = (workdir / ".lock").exists()  # the killed run could not release its lock
    finished_files = [workdir / "stages" / "sft.json", workdir / "model_base" / "sft" / "metadata.json",
                      workdir / "runs" / "sft" / "metrics.jsonl", workdir / "eval" / "sft.json"]
    before = snapshot(finished_files)
    second = run_main(workdir)
    third = run_main(workdir)
    return workdir, {"done_before": done_before, "lock_left": lock_left, "before": before,
                     "after": snapshot(finished_files),
                     "second": second, "third": third}


def test_killed_run_resumes_without_redoing_finished_stages(finished_run):
    workdir, out = finished_run
    assert out["done_before"] == {"base_eval.json", "sft.json"}
    assert out["second"].returncode == 0, out["second"].stderr[-4000:]
    assert out["after"] == out["before"]  # sft: same files, not rewritten
    assert "sft: finished in an earlier run, skipped" in out["second"].stderr
    # The rerun took the dead run's lock over and released its own at the end.
    assert out["lock_left"] and "took over the stale lock" in out["second"].stderr
    assert not (workdir / ".lock").exists()
    # The SQL-to-Text run resumed from its checkpoint: each step is logged exactly once.
    steps = [json.loads(line)["step"] for line in
             (workdir / "runs" / "sql2text_round_1" / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[0] == 1


def test_a_finished_run_has_nothing_left_to_do(finished_run):
    _, out = finished_run
    third = out["third"]
    assert third.returncode == 0, third.stderr[-4000:]
    for stage in ("base_eval", "sft", "stage1", "selfplay"):
        assert f"{stage}: finished in an earlier run, skipped" in third.stderr
    assert "starting" not in third.stderr


def test_the_workdir_holds_every_result(finished_run):
    workdir, out = finished_run
    for relative in ("config.json", "report.json", "report.md", "plots/ex_by_stage.png",
                     "plots/loss_curves.png", "synth/templates.json",
                     "synth/round_1/candidates.jsonl", "synth/round_1/verified.jsonl",
                     "synth/round_1/failed.jsonl", "synth/round_1/stats.json",
                     "selfplay/iter_1/pairs.jsonl", "selfplay/iter_1/stats.json",
                     "eval/base.sql", "eval/sft.sql", "eval/stage1.sql", "eval/selfplay_iter_1.sql"):
        assert (workdir / relative).is_file(), relative
    report = json.loads((workdir / "report.json").read_text())
    assert [row["row"] for row in report["rows"]] == ["base", "sft", "stage1", "stage2 iter 1"]
    for row in report["rows"]:
        assert row["greedy"]["evaluated"] == 6 and 0 <= row["greedy"]["execution_accuracy"] <= 1
    # The final table is printed by the run that finishes the pipeline.
    assert "| stage2 iter 1 | selfplay_iter_1 |" in out["second"].stdout
    # Prediction files hold one line per evaluation question.
    assert len((workdir / "eval" / "stage1.sql").read_text().splitlines()) == 6


def test_model_base_and_selfplay_records(finished_run):
    workdir, _ = finished_run
    members = sorted(p.name for p in (workdir / "model_base").iterdir())
    assert members == ["selfplay_iter_1", "sft", "stage1_round_1"]
    sft = json.loads((workdir / "model_base" / "sft" / "metadata.json").read_text())
    assert sft["kind"] == "sft" and 0 <= sft["validation_ex"] <= 1
    assert sft["info"]["train"]["questions"] == 8
    stats = json.loads((workdir / "selfplay" / "iter_1" / "stats.json").read_text())
    assert stats["loss"] == "error_driven" and stats["trained"]
    assert {stats["main"], stats["opponent"]} <= {"sft", "stage1_round_1"}
    pairs = [json.loads(line) for line in
             (workdir / "selfplay" / "iter_1" / "pairs.jsonl").read_text().splitlines()]
    assert len(pairs) == stats["pairs"] == 4  # 4 questions x 1 sample
    for pair in pairs:
        assert pair["opponent_wrong"] in (0.0, 1.0)
        assert pair["reference_chosen"] < 0 and pair["reference_rejected"] < 0
    round_stats = json.loads((workdir / "synth" / "round_1" / "stats.json").read_text())
    assert round_stats["candidates"] == round_stats["verified"] + round_stats["failed"]


@pytest.mark.parametrize("override, field", [
    ("--config.selfplay.loss=hinge", "config.selfplay.loss"),
    ("--config.data.source.manual_dir=/no/such/folder", "config.data.source.manual_dir"),
    ("--config.mesh.data=3", "config.mesh"),
    ("--config.selfplay.nonexistent=1", "unknown field 'nonexistent'"),
    ("--config.sft.learning_rate=-1", "config.sft.learning_rate"),
])
def test_invalid_configs_fail_fast_with_one_line(tmp_path, override, field):
    result = run_main(tmp_path / "work", override, timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and field in lines[0], result.stderr
    assert not (tmp_path / "work" / "stages").exists()  # nothing heavy started


def test_two_processes_reach_the_single_process_table(finished_run, tmp_path):
    """The local multi-process launcher runs the same pipeline as 2 JAX processes (CPU gloo
    collectives, a 2-device data axis): each feeds its half of every training batch, only
    process 0 writes, checkpoints and the model base are written and read by both."""
    from launch.local_multiprocess import launch

    single, _ = finished_run
    workdir = tmp_path / "two_processes"
    log = tmp_path / "launch.log"
    with log.open("w") as out:
        status = launch([sys.executable, "-m", "spft_jax.main", f"--config={TINY}",
                         f"--workdir={workdir}", "--noprogress"], num_processes=2,
                        devices_per_process=1, output=out, env=environment())
    text = log.read_text()
    assert status == 0, text[-4000:]
    # The final table is printed once, by process 0.
    assert "[p0] | stage2 iter 1 |" in text and "[p1] | stage2 iter 1 |" not in text
    mine = json.loads((workdir / "report.json").read_text())
    theirs = json.loads((single / "report.json").read_text())
    table = lambda report: [(r["row"], r["model"], r["greedy"]["execution_accuracy"],  # noqa: E731
                             r["greedy"]["by_hardness"], r["greedy"]["evaluated"]) for r in report["rows"]]
    assert table(mine) == table(theirs)
    for relative in ("synth/round_1/stats.json", "selfplay/iter_1/stats.json"):
        a, b = (json.loads((w / relative).read_text()) for w in (workdir, single))
        for key in ("candidates", "pairs", "questions"):
            assert a.get(key) == b.get(key), (relative, key)
    # The training runs saw the global batch: the same number of steps as one process.
    for run in ("sft", "stage1_round_1", "selfplay_iter_1"):
        steps = lambda w: [json.loads(l)["step"] for l in (w / "runs" / run / "metrics.jsonl").read_text().splitlines()]  # noqa: E731,E741
        assert steps(workdir) == steps(single)


def test_exported_model_generates_the_same_greedy_sql_in_transformers(finished_run, tmp_path):
    """--mode=export writes the stage-1 model (LoRA merged) as a Hugging Face directory;
    --mode=check_export loads it in transformers and compares its greedy SQL, question by
    question, with what our sampler wrote for the evaluation set."""
    workdir, _ = finished_run
    out = tmp_path / "exported"
    result = run_main(workdir, "--mode=export", "--model=stage1_round_1", f"--output={out}")
    assert result.returncode == 0, result.stderr[-4000:]
    assert json.loads((out / "spft_export.json").read_text()) == {"model": "stage1_round_1"}
    result = run_main(workdir, "--mode=check_export", f"--output={out}")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert "identical to ours on 6 of 6 evaluation questions" in result.stdout
    # A folder that is not an export is named (in-process: a run costs a model load).
    from spft_jax.errors import DataError
    from spft_jax.pipeline.export_check import exported_model_name

    with pytest.raises(DataError, match="not a --mode=export folder"):
        exported_model_name(tmp_path)


def test_evaluate_and_predict_modes(finished_run, tmp_path):
    workdir, _ = finished_run
    # evaluate, with self-consistency over 2 samples (majority vote by execution result)
    result = run_main(workdir, "--mode=evaluate", "--model=sft", "--config.eval.self_consistency=2")
    assert result.returncode == 0, result.stderr[-4000:]
    assert "sft: EX" in result.stdout
    report = json.loads((workdir / "eval" / "sft_sc.json").read_text())
    assert report["evaluated"] == 6 and len(report["per_question"]) == 6
    # the config differs from the run's: said, by section, and kept apart
    assert "sections: eval" in result.stderr and (workdir / "config.1.json").is_file()
    # predict: the best model of the base by default, one line per evaluation question
    out = tmp_path / "pred.sql"
    result = run_main(workdir, "--mode=predict", f"--output={out}")
    assert result.returncode == 0, result.stderr[-4000:]
    assert len(out.read_text().splitlines()) == 6
    # a model that is not in the base: named with the members there are (in-process)
    from spft_jax.errors import DataError
    from spft_jax.pipeline.model_base import ModelBase
    from spft_jax.pipeline.workdir import Workdir

    with pytest.raises(DataError, match="has no model 'nonexistent' .members: sft, stage1_round_1, selfplay_iter_1"):
        ModelBase(Workdir(workdir), factory=None).load("nonexistent")
