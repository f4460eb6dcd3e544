"""The run's summary from hand-written stage markers (the structure base_eval, sft, stage1 and
selfplay record, with the runner's `seconds`): the EX table's rows and cells, and the files."""

import json

import pytest

from spft_jax.pipeline.report import ex_rows, markdown_table, write_report
from spft_jax.pipeline.workdir import Workdir, write_jsonl

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def summary(ex, easy=None, medium=None, hard=None, extra=None):
    """scoring.summary's shape: levels without questions are absent from by_hardness."""
    levels = {"easy": easy, "medium": medium, "hard": hard, "extra": extra}
    return {"execution_accuracy": ex,
            "by_hardness": {"all": ex, **{k: v for k, v in levels.items() if v is not None}},
            "evaluated": 10, "questions": 12, "skipped_missing_database": 1, "skipped_gold_failed": 1}


def evaluation(greedy, sc=None, samples=5):
    return {"greedy": greedy, "self_consistency": None if sc is None else sc | {"samples": samples}}


def iteration(t, trained, ex=None):
    stats = {"iteration": t, "main": "stage1_round_1", "opponent": "sft", "best_validation_ex_before": 0.5,
             "loss": "error_driven", "lam": 0.1, "questions": 64, "pairs": 64 if trained else 0,
             "opponent_correct_share": 0.25 if trained else None, "opponent_outcomes": {}}
    if not trained:
        return stats | {"trained": False}
    return stats | {"final_metrics": {"loss": 0.69314, "rewards/margins": 0.01234}, "trained": True,
                    "model": f"selfplay_iter_{t}", "validation_ex": 0.55, "eval": evaluation(summary(ex, 0.9))}


def write_markers(workdir, self_consistency=False):
    sc = summary(0.625) if self_consistency else None
    workdir.mark_finished("base_eval", {"eval": evaluation(summary(0.5, 0.75, 0.5, 0.25)), "seconds": 60.0})
    workdir.mark_finished("sft", {"validation_ex": 0.4, "eval": evaluation(summary(0.6, 0.8), sc),
                                  "seconds": 120.0})
    workdir.mark_finished("stage1", {
        "rounds": [{"round": 1, "candidates": 48, "verified": 12, "failed": 36, "verified_rate": 0.25,
                    "executable_rate": 0.9, "model": "stage1_round_1", "validation_ex": 0.5}],
        "best_model": "stage1_round_1", "best_validation_ex": 0.5, "model": "stage1_round_1",
        "eval": evaluation(summary(0.7, 0.85)), "seconds": 300.0})
    workdir.mark_finished("selfplay", {
        "iterations": [iteration(1, True, 0.72), iteration(2, False), iteration(3, True, 0.74)],
        "stopped_early": False, "model": "selfplay_iter_3", "eval": evaluation(summary(0.74, 0.9)),
        "seconds": 600.0})


@pytest.fixture
def workdir(tmp_path):
    workdir = Workdir(tmp_path / "run")
    write_markers(workdir)
    return workdir


def table_rows(markdown: str) -> list[list[str]]:
    lines = [line for line in markdown.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def test_a_row_per_scored_model_in_stage_order(workdir):
    rows = ex_rows(workdir)
    assert [(r["row"], r["model"]) for r in rows] == [
        ("base", "base LLM"), ("sft", "sft"), ("stage1", "stage1_round_1"),
        ("stage2 iter 1", "selfplay_iter_1"), ("stage2 iter 3", "selfplay_iter_3")]  # iter 2 trained nothing
    assert [r["greedy"]["execution_accuracy"] for r in rows] == [0.5, 0.6, 0.7, 0.72, 0.74]
    # Self-play's wall time belongs to its last row, not to each iteration.
    assert [r.get("seconds") for r in rows] == [60.0, 120.0, 300.0, None, 600.0]


def test_the_markdown_table(workdir):
    markdown = markdown_table(ex_rows(workdir), "EX on dev")
    assert markdown.startswith("## EX on dev\n")
    header, *body = table_rows(markdown)
    assert header == ["stage", "model", "EX", "EX easy", "EX medium", "EX hard", "EX extra",
                      "stage wall time"]
    assert body == [
        ["base", "base LLM", "50.0", "75.0", "50.0", "25.0", "–", "1.0 min"],
        ["sft", "sft", "60.0", "80.0", "–", "–", "–", "2.0 min"],
        ["stage1", "stage1_round_1", "70.0", "85.0", "–", "–", "–", "5.0 min"],
        ["stage2 iter 1", "selfplay_iter_1", "72.0", "90.0", "–", "–", "–", "–"],
        ["stage2 iter 3", "selfplay_iter_3", "74.0", "90.0", "–", "–", "–", "10.0 min"],
    ]
    assert "|---|---|---:|---:|---:|---:|---:|---:|" in markdown
    assert markdown.endswith("10 of 12 evaluation questions scored (1 skipped for a missing database, "
                             "1 whose gold SQL failed). EX in %.")


def test_the_self_consistency_column_only_when_it_was_run(tmp_path):
    workdir = Workdir(tmp_path)
    write_markers(workdir, self_consistency=True)
    header, *body = table_rows(markdown_table(ex_rows(workdir), "EX"))
    assert header[-2:] == ["EX self-consistency", "stage wall time"]
    assert [row[-2] for row in body] == ["–", "62.5 (n=5)", "–", "–", "–"]


def test_no_execution_accuracy_and_no_rows(tmp_path):
    workdir = Workdir(tmp_path)
    workdir.mark_finished("base_eval", {"eval": evaluation(summary(None))})  # nothing evaluated
    _, row = table_rows(markdown_table(ex_rows(workdir), "EX"))
    assert row == ["base", "base LLM", "–", "–", "–", "–", "–", "–"]
    empty = markdown_table([], "EX")
    assert len(table_rows(empty)) == 1 and "questions scored" not in empty


def test_a_stage1_without_rounds_has_no_row(tmp_path):
    workdir = Workdir(tmp_path)
    workdir.mark_finished("stage1", {"rounds": [], "best_model": "sft", "best_validation_ex": 0.4,
                                     "seconds": 1.0})
    assert ex_rows(workdir) == []


def test_write_report_writes_json_markdown_and_plots(workdir):
    for run, losses in (("sft", [2.0, 1.5, 1.0]), ("selfplay_iter_1", [0.7, 0.6])):
        records = [{"step": i + 1, "time": 0.0, "loss": loss} for i, loss in enumerate(losses)]
        write_jsonl(workdir.run_dir(run) / "metrics.jsonl", records + [{"step": 9, "eval_ex": 0.5}])
    report = write_report(workdir, "demo run", extra={"config": {"seed": 0}})

    on_disk = json.loads(workdir.path("report.json").read_text())
    assert on_disk == json.loads(json.dumps(report))
    assert on_disk["name"] == "demo run" and on_disk["config"] == {"seed": 0}
    assert [r["row"] for r in on_disk["rows"]][0] == "base" and len(on_disk["rows"]) == 5
    assert sorted(on_disk["stages"]) == ["base_eval", "selfplay", "sft", "stage1"]
    plots = [workdir.path("plots", "ex_by_stage.png"), workdir.path("plots", "loss_curves.png")]
    assert on_disk["plots"] == [str(p) for p in plots]
    for path in plots:
        assert path.read_bytes()[:8] == PNG_SIGNATURE

    markdown = workdir.path("report.md").read_text()
    assert markdown.startswith("# demo run\n\n## Execution accuracy on the evaluation set\n")
    assert "| 1 | 48 | 12 | 25.0 | 90.0 | 50.0 |" in markdown  # the stage-1 round
    assert "| 1 | stage1_round_1 | sft | 64 | 25.0 | 0.6931 | 0.0123 | 55.0 |" in markdown
    assert "| 2 | stage1_round_1 | sft | 0 | – | – | – | – |" in markdown  # an untrained iteration
    assert not [p for p in workdir.root.rglob("*.tmp*")]


def test_write_report_with_training_logs_but_no_scored_stage(tmp_path):
    workdir = Workdir(tmp_path)
    write_jsonl(workdir.run_dir("sft") / "metrics.jsonl", [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.0}])
    report = write_report(workdir, "early")
    assert report["rows"] == [] and report["plots"] == [str(workdir.path("plots", "loss_curves.png"))]
    assert workdir.path("plots", "loss_curves.png").read_bytes()[:8] == PNG_SIGNATURE
    assert "| stage | model |" in workdir.path("report.md").read_text()
