"""`python -m spft_jax.evaluate`: the report it prints and writes, and exit code 2 with one clear
line for each kind of bad input."""

import json
import subprocess
import sys

import pytest

from spft_jax.evaluate import main
from tests.sql.tiny_benchmark import make_benchmark

QUESTIONS = [
    {"db_id": "shop", "question": "How many customers?", "query": "SELECT count(*) FROM customer"},
    {"db_id": "shop", "question": "Names?", "query": "SELECT name FROM customer"},
    {"db_id": "gone", "question": "Anything?", "query": "SELECT 1"},
]


@pytest.fixture
def bench(tmp_path):
    paths = make_benchmark(tmp_path, QUESTIONS)
    pred = tmp_path / "pred.sql"
    pred.write_text("SELECT count(*) FROM customer\n\nSELECT 1\n")
    return paths, pred


def args_for(paths, pred, *extra):
    return [
        "--gold", str(paths["gold"]), "--pred", str(pred), "--tables", str(paths["tables"]),
        "--db-dir", str(paths["db_dir"]), "--workers", "0", "--quiet", *extra,
    ]


def test_report_printed_and_written(bench, tmp_path, capsys):
    paths, pred = bench
    out = tmp_path / "reports" / "report.json"
    assert main(args_for(paths, pred, "--out", str(out))) == 0
    printed = capsys.readouterr().out
    assert "all              2        1    50.0%" in printed
    assert "skipped: 1 questions with a missing database (gone 1)" in printed
    report = json.loads(out.read_text())
    assert report["execution_accuracy"] == 0.5
    assert report["outcomes"]["empty"] == 1
    assert [q["outcome"] for q in report["per_question"]] == [
        "correct", "empty", "skipped_missing_database"
    ]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: ")
    return err[0]


def test_missing_tables_file(bench, tmp_path, capsys):
    paths, pred = bench
    paths["tables"] = tmp_path / "nope" / "tables.json"
    assert main(args_for(paths, pred)) == 2
    assert "tables file not found" in one_line_error(capsys)


def test_malformed_question_file(bench, capsys):
    paths, pred = bench
    paths["gold"].write_text('[{"db_id": "shop", "question": "q"}]')
    assert main(args_for(paths, pred)) == 2
    assert "entry 0 has no string field 'query'" in one_line_error(capsys)


def test_prediction_file_with_wrong_line_count(bench, capsys):
    paths, pred = bench
    pred.write_text("SELECT 1\n")
    assert main(args_for(paths, pred)) == 2
    assert "has 1 lines but the question file has 3" in one_line_error(capsys)


def test_unknown_db_id(bench, capsys):
    paths, pred = bench
    paths["gold"].write_text(json.dumps(QUESTIONS + [{"db_id": "shopp", "question": "q", "query": "SELECT 1"}]))
    pred.write_text("\n" * 4)
    assert main(args_for(paths, pred)) == 2
    assert "db_id 'shopp' is not described in" in one_line_error(capsys)


def test_partial_dataset_arguments_are_refused(bench):
    paths, pred = bench
    with pytest.raises(SystemExit) as exit_:
        main(["--gold", str(paths["gold"]), "--pred", str(pred)])
    assert exit_.value.code == 2


def test_spider_dev_gold_file_as_predictions(spider_dir, tmp_path):
    """The real command on Spider dev, with Spider's own `SQL<TAB>db_id` gold file as input."""
    out = tmp_path / "report.json"
    result = subprocess.run(
        [
            sys.executable, "-m", "spft_jax.evaluate",
            "--gold", str(spider_dir / "dev.json"),
            "--pred", str(spider_dir / "dev_gold.sql"),
            "--tables", str(spider_dir / "tables.json"),
            "--db-dir", str(spider_dir / "database"),
            "--out", str(out), "--workers", "2", "--quiet",
        ],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "all            972      972   100.0%" in result.stdout
    assert "skipped: 62 questions with a missing database (wta_1 62)" in result.stdout
    report = json.loads(out.read_text())
    assert report["execution_accuracy"] == 1.0 and report["questions"] == 1034
