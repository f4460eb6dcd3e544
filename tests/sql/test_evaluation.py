"""Execution-accuracy evaluation: every outcome, the report, prediction files, Spider dev."""

import pytest

from spft_jax.errors import PredictionFileError
from spft_jax.sql.dataset import load_dataset
from spft_jax.sql.evaluation import (
    OUTCOMES,
    evaluate_predictions,
    read_predictions,
    write_predictions,
)
from spft_jax.sql.executor import SqlExecutor
from spft_jax.sql.sandbox import ExecutionLimits
from tests.sql.tiny_benchmark import make_benchmark

CASES = [  # (gold, prediction, expected outcome)
    ("SELECT name FROM customer WHERE city = 'Paris'", "SELECT name FROM customer WHERE city='Paris'", "correct"),
    ("SELECT count(*) FROM customer", "SELECT count(*) FROM purchase WHERE amount > 6", "wrong_result"),
    ("SELECT name, city FROM customer", "SELECT city, name FROM customer", "correct"),
    ("SELECT name FROM customer ORDER BY name", "SELECT name FROM customer ORDER BY name DESC", "wrong_result"),
    ("SELECT name FROM customer", "SELECT name FROM customer ORDER BY name DESC", "correct"),
    ("SELECT name FROM customer", "SELECT FROM customer", "syntax"),
    ("SELECT name FROM customer", "SELECT nom FROM customer", "schema"),
    ("SELECT name FROM customer", "", "empty"),
    ("SELECT name FROM customer", "DELETE FROM customer", "denied"),
    ("SELECT name FROM customer", "SELECT count(*) FROM numbers a, numbers b, numbers c", "timeout"),
    ("SELECT n FROM numbers", "SELECT n FROM numbers UNION ALL SELECT 1", "too_many_rows"),
    ("SELECT abs(-9223372036854775807 - 1)", "SELECT 1", "skipped_gold_failed"),
]


@pytest.fixture
def tiny(tmp_path):
    questions = [{"db_id": "shop", "question": f"q{i}", "query": gold} for i, (gold, _, _) in enumerate(CASES)]
    questions.append({"db_id": "gone", "question": "q?", "query": "SELECT 1"})
    paths = make_benchmark(tmp_path, questions)
    dataset = load_dataset(paths["gold"], paths["tables"], paths["db_dir"], name="tiny")
    predictions = [pred for _, pred, _ in CASES] + ["SELECT 1"]
    return dataset, predictions


def test_every_question_gets_exactly_one_outcome(tiny):
    dataset, predictions = tiny
    limits = ExecutionLimits(timeout_s=0.5, max_rows=2000)
    with SqlExecutor(limits, workers=0) as executor:
        report = evaluate_predictions(dataset, predictions, executor)
    expected = [outcome for _, _, outcome in CASES] + ["skipped_missing_database"]
    assert [o.outcome for o in report.outcomes] == expected
    summary = report.to_dict()
    assert summary["questions"] == 13 and summary["evaluated"] == 11
    assert summary["outcomes"]["correct"] == 3 and summary["outcomes"]["wrong_result"] == 2
    assert sum(summary["outcomes"].values()) == summary["evaluated"]
    assert summary["execution_accuracy"] == pytest.approx(3 / 11)
    assert summary["skipped"] == {
        "missing_database": {"count": 1, "databases": {"gone": 1}},
        "gold_failed": {"count": 1, "questions": [11]},
    }
    assert summary["by_hardness"]["all"] == {"count": 11, "correct": 3, "execution_accuracy": 3 / 11}
    levels = [level for level in summary["by_hardness"] if level != "all"]
    assert sum(summary["by_hardness"][level]["count"] for level in levels) == 11
    assert summary["per_question"][6]["detail"] == "no such column: nom"
    table = report.format_table()
    assert "all             11        3    27.3%" in table
    assert "skipped: 1 questions with a missing database (gone 1), 1 whose gold query failed" in table
    assert set(OUTCOMES) <= set(summary["outcomes"])


def test_prediction_count_must_match(tiny):
    dataset, predictions = tiny
    with SqlExecutor(workers=0) as executor, pytest.raises(PredictionFileError, match="12 predictions for 13 questions"):
        evaluate_predictions(dataset, predictions[:-1], executor)


def test_read_predictions_keeps_empty_lines_in_place(tiny, tmp_path):
    dataset, _ = tiny
    path = tmp_path / "pred.sql"
    lines = ["SELECT 1"] * 13
    lines[3] = ""
    lines[5] = "SELECT 2\tshop"  # Spider's "SQL<TAB>db_id" form
    lines[12] = "SELECT 3\tgone"
    path.write_text("\r\n".join(lines) + "\r\n")
    predictions = read_predictions(path, dataset)
    assert len(predictions) == 13
    assert predictions[3] == "" and predictions[5] == "SELECT 2" and predictions[12] == "SELECT 3"


def test_wrong_line_count_is_an_error(tiny, tmp_path):
    dataset, _ = tiny
    path = tmp_path / "pred.sql"
    path.write_text("SELECT 1\n" * 12)
    with pytest.raises(PredictionFileError, match="has 12 lines but the question file has 13"):
        read_predictions(path, dataset)
    path.write_text("SELECT 1\n" * 13 + "\n")  # a stray blank line at the end is a 14th line
    with pytest.raises(PredictionFileError, match="has 14 lines"):
        read_predictions(path, dataset)


def test_misaligned_db_ids_are_caught(tiny, tmp_path):
    dataset, _ = tiny
    path = tmp_path / "pred.sql"
    path.write_text("SELECT 1\tshop\n" * 13)  # the last question is on `gone`
    with pytest.raises(PredictionFileError, match="line 13: db_id 'shop' but question 12 is on 'gone'"):
        read_predictions(path, dataset)


def test_written_predictions_read_back_aligned(tiny, tmp_path):
    dataset, _ = tiny
    predictions = ["SELECT\n  name\tFROM customer WHERE name = 'a  b'"] + [""] * 12
    path = tmp_path / "pred.sql"
    write_predictions(path, predictions)
    back = read_predictions(path, dataset)
    assert back[0] == "SELECT name FROM customer WHERE name = 'a  b'"
    assert back[1:] == [""] * 12


def test_spider_dev_gold_as_predictions_scores_100_percent(spider_dir):
    dev = load_dataset(spider_dir / "dev.json", spider_dir / "tables.json", spider_dir / "database")
    with SqlExecutor(workers=2) as executor:
        report = evaluate_predictions(dev, [e.query for e in dev.examples], executor)
    summary = report.to_dict(per_question=False)
    assert summary["execution_accuracy"] == 1.0
    assert summary["evaluated"] == 972
    assert summary["skipped"]["missing_database"] == {"count": 62, "databases": {"wta_1": 62}}
    assert summary["skipped"]["gold_failed"]["count"] == 0
    # Spider's published dev split is 248/446/174/166; wta_1's 62 questions are not evaluated.
    counts = {level: row["count"] for level, row in summary["by_hardness"].items()}
    assert counts == {"easy": 232, "medium": 416, "hard": 160, "extra": 164, "all": 972}
