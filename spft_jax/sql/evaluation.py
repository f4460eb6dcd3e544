"""Execution-accuracy evaluation of predicted SQL against a Spider-format dataset.

Every question ends in exactly one outcome, so the numbers always add up:
- `correct` / `wrong_result`: the prediction ran and did / did not match the gold result;
- an `ErrorKind` value (`syntax`, `schema`, `runtime`, `timeout`, `too_many_rows`, `denied`,
  `empty`, `crashed`): the prediction failed to run, which counts as wrong;
- `skipped_missing_database`: the database file is absent, so the question cannot be scored;
- `skipped_gold_failed`: the gold query itself failed, so there is nothing to compare against.
Execution accuracy (EX) is correct / evaluated, where evaluated excludes the skipped; the report
always states how many were skipped and why.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
from collections import Counter
from collections.abc import Callable, Sequence

from spft_jax.errors import PredictionFileError
from spft_jax.sql.compare import execution_match
from spft_jax.sql.dataset import Dataset
from spft_jax.sql.executor import SqlExecutor
from spft_jax.sql.hardness import HARDNESS_LEVELS, UnparseableSqlError, sql_hardness
from spft_jax.sql.sandbox import ErrorKind

CORRECT = "correct"
WRONG_RESULT = "wrong_result"
SKIPPED_MISSING_DATABASE = "skipped_missing_database"
SKIPPED_GOLD_FAILED = "skipped_gold_failed"
OUTCOMES = (CORRECT, WRONG_RESULT, *(k.value for k in ErrorKind))
UNKNOWN_HARDNESS = "unknown"  # gold SQL our hardness parser cannot read
_LINE_BREAKS = re.compile(r"\s*[\r\n\t]\s*")


@dataclasses.dataclass(frozen=True)
class QuestionOutcome:
    index: int
    db_id: str
    hardness: str
    outcome: str
    prediction: str
    detail: str = ""  # the prediction's (or the gold's) error message

    @property
    def evaluated(self) -> bool:
        return not self.outcome.startswith("skipped_")


def _ex(correct: int, count: int) -> float | None:
    return correct / count if count else None


@dataclasses.dataclass(frozen=True)
class EvaluationReport:
    dataset: str
    outcomes: tuple[QuestionOutcome, ...]

    @property
    def evaluated(self) -> list[QuestionOutcome]:
        return [o for o in self.outcomes if o.evaluated]

    @property
    def execution_accuracy(self) -> float | None:
        evaluated = self.evaluated
        return _ex(sum(o.outcome == CORRECT for o in evaluated), len(evaluated))

    def by_hardness(self) -> dict[str, dict]:
        levels = list(HARDNESS_LEVELS)
        if any(o.hardness == UNKNOWN_HARDNESS for o in self.evaluated):
            levels.append(UNKNOWN_HARDNESS)
        table = {}
        for level in [*levels, "all"]:
            rows = [o for o in self.evaluated if level in ("all", o.hardness)]
            correct = sum(o.outcome == CORRECT for o in rows)
            table[level] = {
                "count": len(rows),
                "correct": correct,
                "execution_accuracy": _ex(correct, len(rows)),
            }
        return table

    def to_dict(self, per_question: bool = True) -> dict:
        counts = Counter(o.outcome for o in self.outcomes)
        missing = Counter(o.db_id for o in self.outcomes if o.outcome == SKIPPED_MISSING_DATABASE)
        report = {
            "dataset": self.dataset,
            "questions": len(self.outcomes),
            "evaluated": len(self.evaluated),
            "execution_accuracy": self.execution_accuracy,
            "by_hardness": self.by_hardness(),
            "outcomes": {name: counts.get(name, 0) for name in OUTCOMES},
            "skipped": {
                "missing_database": {
                    "count": sum(missing.values()),
                    "databases": dict(sorted(missing.items())),
                },
                "gold_failed": {
                    "count": counts.get(SKIPPED_GOLD_FAILED, 0),
                    "questions": [
                        o.index for o in self.outcomes if o.outcome == SKIPPED_GOLD_FAILED
                    ],
                },
            },
        }
        if per_question:
            report["per_question"] = [dataclasses.asdict(o) for o in self.outcomes]
        return report

    def format_table(self) -> str:
        """A plain-text table for the terminal: EX by hardness, outcomes, skipped questions."""

        def percent(value: float | None) -> str:
            return "-" if value is None else f"{100 * value:.1f}%"

        lines = [f"Execution accuracy on {self.dataset} ({len(self.outcomes)} questions)", ""]
        lines.append(f"{'hardness':<10}{'count':>8}{'correct':>9}{'EX':>9}")
        for level, row in self.by_hardness().items():
            lines.append(
                f"{level:<10}{row['count']:>8}{row['correct']:>9}"
                f"{percent(row['execution_accuracy']):>9}"
            )
        summary = self.to_dict(per_question=False)
        lines += ["", f"{'outcome':<16}{'count':>8}"]
        for name, count in summary["outcomes"].items():
            lines.append(f"{name:<16}{count:>8}")
        missing = summary["skipped"]["missing_database"]
        gold_failed = summary["skipped"]["gold_failed"]
        detail = ", ".join(f"{db} {n}" for db, n in missing["databases"].items())
        lines += [
            "",
            f"skipped: {missing['count']} questions with a missing database"
            + (f" ({detail})" if detail else "")
            + f", {gold_failed['count']} whose gold query failed",
        ]
        return "\n".join(lines)


def hardness_or_unknown(sql: str) -> str:
    try:
        return sql_hardness(sql)
    except UnparseableSqlError:
        return UNKNOWN_HARDNESS


def evaluate_predictions(
    dataset: Dataset,
    predictions: Sequence[str],
    executor: SqlExecutor,
    on_result: Callable[[], None] | None = None,
) -> EvaluationReport:
    """Scores one predicted SQL per question of `dataset` (aligned by position).

    `on_result()` is called once per executed statement (gold and predicted), for progress.
    """
    if len(predictions) != len(dataset.examples):
        raise PredictionFileError(
            f"{len(predictions)} predictions for {len(dataset.examples)} questions of "
            f"{dataset.name}"
        )
    available = dataset.available
    notify = (lambda i, r: on_result()) if on_result else None
    gold_jobs = [(dataset.db_path(e.db_id), e.query) for e in available]
    pred_jobs = [(dataset.db_path(e.db_id), predictions[e.index]) for e in available]
    gold_results = executor.execute_many(gold_jobs, cache=True, on_result=notify)
    pred_results = executor.execute_many(pred_jobs, on_result=notify)
    scored = {}
    for example, gold, pred in zip(available, gold_results, pred_results):
        if not gold.ok:
            outcome, detail = SKIPPED_GOLD_FAILED, f"gold {gold.error_kind.value}: {gold.error}"
        elif not pred.ok:
            outcome, detail = pred.error_kind.value, pred.error
        elif execution_match(example.query, gold, pred):
            outcome, detail = CORRECT, ""
        else:
            outcome, detail = WRONG_RESULT, ""
        scored[example.index] = (outcome, detail)
    outcomes = []
    for example in dataset.examples:
        outcome, detail = scored.get(example.index, (SKIPPED_MISSING_DATABASE, ""))
        outcomes.append(
            QuestionOutcome(
                index=example.index,
                db_id=example.db_id,
                hardness=hardness_or_unknown(example.query),
                outcome=outcome,
                prediction=predictions[example.index],
                detail=detail,
            )
        )
    return EvaluationReport(dataset=dataset.name, outcomes=tuple(outcomes))


def read_predictions(path: str | pathlib.Path, dataset: Dataset) -> list[str]:
    """Reads a Spider-style prediction file: one SQL per line, aligned with the questions.

    An empty line is an empty prediction (it keeps its place). A line may end in a tab and the
    question's db_id, as Spider's gold files do; a db_id that disagrees with the question's
    reveals a misaligned file and is an error.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise PredictionFileError(f"prediction file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise PredictionFileError(f"prediction file {path} is not UTF-8 text: {e}") from e
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line does not start another
    if len(lines) != len(dataset.examples):
        raise PredictionFileError(
            f"prediction file {path} has {len(lines)} lines but the question file has "
            f"{len(dataset.examples)} questions; each question needs exactly one line "
            "(an empty line for no prediction)"
        )
    predictions = []
    for number, (line, example) in enumerate(zip(lines, dataset.examples), start=1):
        line = line.rstrip("\r")
        sql, tab, db_id = line.rpartition("\t")
        if tab and db_id.strip() in dataset.schemas:
            if db_id.strip() != example.db_id:
                raise PredictionFileError(
                    f"prediction file {path}, line {number}: db_id {db_id.strip()!r} but "
                    f"question {example.index} is on {example.db_id!r}; the file is misaligned"
                )
            line = sql
        predictions.append(line.strip())
    return predictions


def predictions_text(predictions: Sequence[str]) -> str:
    """One prediction per line; line breaks and tabs inside a prediction become spaces so the
    file stays aligned with its questions (other spacing, inside literals too, is kept)."""
    flattened = [_LINE_BREAKS.sub(" ", p).strip() for p in predictions]
    return "".join(p + "\n" for p in flattened)


def write_predictions(path: str | pathlib.Path, predictions: Sequence[str]) -> None:
    """Writes a Spider-format prediction file (see `predictions_text`)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(predictions_text(predictions), encoding="utf-8")


def report_summary(report: EvaluationReport) -> dict:
    """The headline numbers of a report: EX overall and by hardness, counts, skipped."""
    full = report.to_dict(per_question=False)
    return {"execution_accuracy": full["execution_accuracy"],
            "by_hardness": {level: row["execution_accuracy"] for level, row in full["by_hardness"].items()},
            "evaluated": full["evaluated"], "questions": full["questions"],
            "skipped_missing_database": full["skipped"]["missing_database"]["count"],
            "skipped_gold_failed": full["skipped"]["gold_failed"]["count"]}
