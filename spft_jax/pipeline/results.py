"""What each stage returns: a dataclass per stage, written to `stages/<stage>.json` as its marker.

The runner (pipeline/runner.py) writes a result when its stage finishes and reads it back on a
rerun (the stage is then skipped); the report (pipeline/report.py) builds its tables from them.
An evaluation (`eval`) is the summary `scoring.score_model` returns: {"greedy": {...},
"self_consistency": {...} or None}, each with execution_accuracy, by_hardness and the counts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from spft_jax.errors import DataError


@dataclasses.dataclass(frozen=True)
class StageResult:
    """Fields every result has. `seconds` is the stage's wall time, set by the runner."""

    stage: ClassVar[str] = ""
    seconds: float | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, record: Mapping[str, Any], where: str = "") -> "StageResult":
        known = {f.name for f in dataclasses.fields(cls)}
        # A field without a plain default (the result's content: its evaluation, its rounds or
        # iterations) must be in the marker; a marker without it is not this stage's result.
        missing = sorted(f.name for f in dataclasses.fields(cls)
                         if f.default is dataclasses.MISSING and f.name not in record)
        if missing:
            raise DataError(f"{where or cls.stage}: a {cls.stage} result without {missing}; delete "
                            "the file to redo the stage")
        return cls(**{k: v for k, v in record.items() if k in known})

    def table_rows(self) -> list[dict]:
        """Rows of the report's EX table: {"row", "model", "greedy", "self_consistency",
        "seconds"}."""
        return []


def _row(row: str, model: str, evaluation: Mapping[str, Any], seconds: float | None) -> dict:
    return {"row": row, "model": model, **evaluation, "seconds": seconds}


@dataclasses.dataclass(frozen=True)
class BaseEvalResult(StageResult):
    stage: ClassVar[str] = "base_eval"
    eval: dict = dataclasses.field(default_factory=dict)

    def table_rows(self) -> list[dict]:
        return [_row("base", "base LLM", self.eval, self.seconds)]


@dataclasses.dataclass(frozen=True)
class SftResult(StageResult):
    stage: ClassVar[str] = "sft"
    validation_ex: float = 0.0
    eval: dict = dataclasses.field(default_factory=dict)

    def table_rows(self) -> list[dict]:
        return [_row("sft", "sft", self.eval, self.seconds)]


@dataclasses.dataclass(frozen=True)
class Stage1Result(StageResult):
    """`rounds`: each round's stats (stage1.py); `model`/`eval`: the last round's model and its
    EX, absent when no round ran; `best_model`: the strongest member of the base."""
    stage: ClassVar[str] = "stage1"
    rounds: list = dataclasses.field(default_factory=list)
    best_model: str = ""
    best_validation_ex: float = 0.0
    model: str | None = None
    eval: dict | None = None

    def table_rows(self) -> list[dict]:
        return [] if self.eval is None else [_row("stage1", self.model, self.eval, self.seconds)]


@dataclasses.dataclass(frozen=True)
class SelfplayResult(StageResult):
    """`iterations`: each iteration's stats (selfplay.py); `model`/`eval`: the last trained
    iteration's model and EX, absent when none trained."""
    stage: ClassVar[str] = "selfplay"
    iterations: list = dataclasses.field(default_factory=list)
    stopped_early: bool = False
    model: str | None = None
    eval: dict | None = None

    def table_rows(self) -> list[dict]:
        rows = [_row(f"stage2 iter {i['iteration']}", i["model"], i["eval"], None)
                for i in self.iterations if i.get("trained")]
        if rows:
            rows[-1]["seconds"] = self.seconds  # the stage's time, on its last row
        return rows


@dataclasses.dataclass(frozen=True)
class GrpoResult(StageResult):
    """GRPO's trained policy (`model`, a member of the base) and its EX; the reward at the
    first and last step, the mean share of zero-variance groups, and the seconds spent in
    rollout / reward / logprobs / update over the run."""
    stage: ClassVar[str] = "grpo"
    model: str = "grpo"
    init_from: str = ""
    steps: int = 0
    reward_first: float | None = None
    reward_last: float | None = None
    zero_variance_share: float | None = None
    time_split: dict = dataclasses.field(default_factory=dict)
    validation_ex: float = 0.0
    eval: dict = dataclasses.field(default_factory=dict)

    def table_rows(self) -> list[dict]:
        return [_row("grpo", self.model, self.eval, self.seconds)]


RESULT_TYPES: dict[str, type[StageResult]] = {
    cls.stage: cls for cls in (BaseEvalResult, SftResult, Stage1Result, SelfplayResult,
                               GrpoResult)}


def finished_result(workdir, name: str) -> StageResult | None:
    """The result a finished stage recorded in its marker (`stages/<name>.json`), or None."""
    record = workdir.finished(name)
    if record is None:
        return None
    return RESULT_TYPES[name].from_json(record, where=str(workdir.path("stages", f"{name}.json")))
