"""Each pipeline stage called in-process on the tiny model (tests/pipeline/conftest.py's
`tiny_context`), and the runner's marker handling.

The stages build on each other through the ONE shared workdir (sft joins the model base, stage 1
picks its verifier from the base and adds its round's model, self-play plays the base's best
against its worst, GRPO starts from the best), so they run once each, in pipeline order:
base_eval, sft, stage1, selfplay, grpo.
Each stage's result is a module-scoped fixture that asks for the one before it, so the order
holds whichever test asks first; the test groups below are also in that order. The runner test
uses a fresh workdir (the same model, data and executor) so that its marker is the only one.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re

import pytest

from spft_jax.errors import ConfigError, DataError
from spft_jax.pipeline import runner
from spft_jax.pipeline.model_base import ModelBase
from spft_jax.pipeline.grpo import GrpoRun, GrpoStage
from spft_jax.pipeline.results import (RESULT_TYPES, BaseEvalResult, GrpoResult, SelfplayResult,
                                       SftResult, Stage1Result, finished_result)
from spft_jax.pipeline.selfplay import SelfplayStage
from spft_jax.pipeline.sft_stage import BaseEvalStage, SftStage
from spft_jax.pipeline.stage1 import Stage1Stage
from spft_jax.pipeline.workdir import Workdir, read_json, read_jsonl, write_json

ROW_KEYS = {"row", "model", "greedy", "self_consistency", "seconds"}


def file_state(path):
    return path.read_bytes(), path.stat().st_mtime_ns


def assert_ex(value, allow_none=False):
    if allow_none and value is None:
        return
    assert isinstance(value, float) and 0.0 <= value <= 1.0, value


def assert_evaluation(evaluation: dict, questions: int) -> None:
    """An evaluation summary (scoring.score_model) over all `questions` of the eval set."""
    greedy = evaluation["greedy"]
    assert_ex(greedy["execution_accuracy"])
    assert greedy["questions"] == questions
    assert greedy["evaluated"] == questions  # the demo databases exist and their gold SQL runs
    assert greedy["skipped_missing_database"] == 0 and greedy["skipped_gold_failed"] == 0
    assert evaluation["self_consistency"] is None  # tiny.py: eval.self_consistency is off


def no_marker(context, name: str) -> bool:
    """A stage writes no marker of its own: the runner alone does."""
    return not context.workdir.path("stages", f"{name}.json").exists()


# -- the stages' results, each run once, in pipeline order ----------------------------------------

@pytest.fixture(scope="module")
def base_eval_result(tiny_context):
    return BaseEvalStage().run(tiny_context)


@pytest.fixture(scope="module")
def sft_result(tiny_context, base_eval_result):
    return SftStage().run(tiny_context)


@pytest.fixture(scope="module")
def stage1_result(tiny_context, sft_result):
    return Stage1Stage().run(tiny_context)


@pytest.fixture(scope="module")
def selfplay_result(tiny_context, stage1_result):
    return SelfplayStage().run(tiny_context)


@pytest.fixture(scope="module")
def grpo_result(tiny_context, selfplay_result):
    return GrpoStage().run(tiny_context)


@pytest.fixture(scope="module")
def all_results(base_eval_result, sft_result, stage1_result, selfplay_result, grpo_result):
    return [base_eval_result, sft_result, stage1_result, selfplay_result, grpo_result]


# -- base_eval --------------------------------------------------------------------------------------

def test_base_eval_scores_the_base_model(tiny_context, base_eval_result):
    questions = len(tiny_context.data.eval.examples)
    assert questions == 4  # the shrunk tiny config
    assert type(base_eval_result) is BaseEvalResult
    assert base_eval_result.seconds is None  # the runner times stages, not the stage
    assert_evaluation(base_eval_result.eval, questions)


def test_base_eval_writes_its_report_and_predictions_but_no_marker(tiny_context, base_eval_result):
    workdir = tiny_context.workdir
    report = read_json(workdir.eval_path("base"))
    assert report["execution_accuracy"] == base_eval_result.eval["greedy"]["execution_accuracy"]
    sql = workdir.eval_path("base", ".sql").read_text().splitlines()
    assert len(sql) == len(tiny_context.data.eval.examples)
    assert no_marker(tiny_context, "base_eval")
    assert tiny_context.model_base.entries() == []  # the base LLM is not a member


# -- sft --------------------------------------------------------------------------------------------

def test_sft_trains_and_joins_the_model_base(tiny_context, sft_result):
    assert type(sft_result) is SftResult
    assert_ex(sft_result.validation_ex)
    assert_evaluation(sft_result.eval, len(tiny_context.data.eval.examples))
    entry = tiny_context.model_base.get("sft")
    assert entry is not None and entry.kind == "sft"
    assert entry.validation_ex == sft_result.validation_ex
    assert entry.info["train"]["questions"] == len(tiny_context.data.train.examples)
    assert entry.info["steps"] > 0
    metrics = read_jsonl(tiny_context.workdir.run_dir("sft") / "metrics.jsonl")
    assert metrics, "runs/sft/metrics.jsonl has no record"
    assert tiny_context.workdir.eval_path("sft").is_file()
    assert no_marker(tiny_context, "sft")


def test_sft_rerun_only_scores_the_registered_model(tiny_context, sft_result):
    metrics = tiny_context.workdir.run_dir("sft") / "metrics.jsonl"
    before = file_state(metrics)
    members = [e.name for e in tiny_context.model_base.entries()]
    again = SftStage().run(tiny_context)
    assert again == sft_result  # greedy decoding of the same weights: the same EX
    assert file_state(metrics) == before, "the second run trained again"
    assert [e.name for e in tiny_context.model_base.entries()] == members


# -- stage1 -----------------------------------------------------------------------------------------

def test_stage1_runs_one_round(tiny_context, stage1_result):
    assert type(stage1_result) is Stage1Result
    assert len(stage1_result.rounds) == tiny_context.config.stage1.rounds == 1
    stats = stage1_result.rounds[0]
    assert stats["round"] == 1
    assert stats["model"] == stage1_result.model == "stage1_round_1"
    assert 0 < stats["candidates"] <= tiny_context.config.stage1.queries_per_round
    # A candidate whose generated question is empty is not asked: it is a failure
    # ("no_question"), so every candidate is either verified or failed.
    assert stats["verified"] + stats["failed"] == stats["candidates"]
    assert sum(stats["failed_reasons"].values()) == stats["failed"]
    assert stats["verified_rate"] == pytest.approx(stats["verified"] / stats["candidates"])
    assert sum(stats["hardness"]["candidates"].values()) == stats["candidates"]
    assert_ex(stats["validation_ex"])
    assert_evaluation(stage1_result.eval, len(tiny_context.data.eval.examples))


def test_stage1_writes_its_round_and_grows_the_model_base(tiny_context, stage1_result):
    workdir, base = tiny_context.workdir, tiny_context.model_base
    stats = stage1_result.rounds[0]
    synth = workdir.synth_dir(1)
    for name in ("candidates.jsonl", "verified.jsonl", "failed.jsonl", "synthesis.json",
                 "stats.json"):
        assert (synth / name).is_file(), f"synth/round_1/{name} is missing"
    assert workdir.path("synth", "templates.json").is_file()
    assert (workdir.path("sql2text", "round_1") / "metadata.json").is_file()
    assert len(read_jsonl(synth / "candidates.jsonl")) == stats["candidates"]
    assert len(read_jsonl(synth / "verified.jsonl")) == stats["verified"]
    failed = read_jsonl(synth / "failed.jsonl")
    assert len(failed) == stats["failed"] and all(r["reason"] for r in failed)
    assert read_json(synth / "stats.json") == stats
    entry = base.get("stage1_round_1")
    assert entry is not None and entry.kind == "stage1"
    assert entry.validation_ex == stats["validation_ex"]
    assert entry.info["verified"]["pairs"] == stats["verified"]
    assert [e.name for e in base.entries()] == ["sft", "stage1_round_1"]
    assert stage1_result.best_model == base.best().name
    assert stage1_result.best_validation_ex == base.best().validation_ex
    assert no_marker(tiny_context, "stage1")


# -- selfplay ---------------------------------------------------------------------------------------

def test_selfplay_runs_one_iteration(tiny_context, selfplay_result):
    assert type(selfplay_result) is SelfplayResult
    assert len(selfplay_result.iterations) == tiny_context.config.selfplay.iterations == 1
    assert selfplay_result.stopped_early is False
    stats = selfplay_result.iterations[0]
    assert stats["iteration"] == 1
    base = tiny_context.model_base
    members = {e.name for e in base.entries()}
    assert stats["main"] in members and stats["opponent"] in members
    assert stats["questions"] == tiny_context.config.selfplay.max_questions
    if stats["trained"]:
        assert selfplay_result.model == stats["model"] == "selfplay_iter_1"
        entry = base.get("selfplay_iter_1")
        assert entry is not None and entry.kind == "selfplay"
        assert entry.validation_ex == stats["validation_ex"]
        assert selfplay_result.eval == stats["eval"]
        assert_evaluation(selfplay_result.eval, len(tiny_context.data.eval.examples))
    else:
        assert selfplay_result.model is None and selfplay_result.eval is None
        assert base.get("selfplay_iter_1") is None
    assert no_marker(tiny_context, "selfplay")


def test_selfplay_pairs_have_reference_logps_and_the_opponents_outcome(tiny_context,
                                                                       selfplay_result):
    stats = selfplay_result.iterations[0]
    directory = tiny_context.workdir.selfplay_dir(1)
    assert (directory / "players.json").is_file() and (directory / "stats.json").is_file()
    records = read_jsonl(directory / "pairs.jsonl")
    assert len(records) == stats["pairs"]
    # error_driven keeps every pair (only dpo drops those with a right opponent); gold SQL of
    # the demo runs, so each question gives samples_per_question pairs.
    assert stats["pairs"] == stats["questions"] * tiny_context.config.selfplay.samples_per_question
    for r in records:
        for key in ("reference_chosen", "reference_rejected"):
            assert isinstance(r[key], float) and math.isfinite(r[key]) and r[key] <= 0.0, r
        assert r["opponent_wrong"] in (0.0, 1.0)
        assert (r["outcome"] == "correct") == (r["opponent_wrong"] == 0.0)
    assert sum(stats["opponent_outcomes"].values()) == len(records)


# -- results ----------------------------------------------------------------------------------------

def test_results_round_trip(all_results, tmp_path):
    for result in all_results:
        cls = type(result)
        assert cls is RESULT_TYPES[cls.stage]
        assert cls.from_json(result.to_json()) == result
        # ... and through a JSON file, as the runner writes and reads markers.
        path = tmp_path / f"{cls.stage}.json"
        timed = dataclasses.replace(result, seconds=12.5)
        write_json(path, timed.to_json())
        assert cls.from_json(read_json(path)) == timed


def test_result_reading_ignores_unknown_keys_and_keeps_seconds(all_results):
    for result in all_results:
        record = dataclasses.replace(result, seconds=3.25).to_json() | {"from_a_newer_version": 1}
        read = type(result).from_json(record)
        assert read.seconds == 3.25
        assert read == dataclasses.replace(result, seconds=3.25)


# What from_json requires: the fields without a plain default. The fields with a
# default_factory (eval, rounds, iterations) count as required there, though the constructor
# fills them in: a marker without its stage's main content is a DataError, not an empty result.
REQUIRED = {"base_eval": {"eval"}, "sft": {"eval"}, "stage1": {"rounds"},
            "selfplay": {"iterations"}, "grpo": {"eval", "time_split"}}


def test_a_result_missing_a_required_field_is_a_data_error(all_results):
    for result in all_results:
        cls, record = type(result), dataclasses.replace(result, seconds=2.0).to_json()
        assert REQUIRED[cls.stage] <= set(record)
        for key in record:
            partial = {k: v for k, v in record.items() if k != key}
            if key in REQUIRED[cls.stage]:
                where = f"stages/{cls.stage}.json"
                with pytest.raises(DataError, match=rf"^{re.escape(where)}: .*'{key}'"):
                    cls.from_json(partial, where=where)
            else:  # an optional field falls back to its default
                assert getattr(cls.from_json(partial), key) == getattr(cls(), key)


def test_table_rows(all_results, tiny_context):
    base_eval, sft, stage1, selfplay, grpo = (dataclasses.replace(r, seconds=float(i + 1))
                                              for i, r in enumerate(all_results))
    for result in (base_eval, sft, stage1, grpo):
        rows = result.table_rows()
        assert len(rows) == 1 and set(rows[0]) == ROW_KEYS
        assert rows[0]["greedy"] == result.eval["greedy"] and rows[0]["seconds"] == result.seconds
    assert (base_eval.table_rows()[0]["row"], base_eval.table_rows()[0]["model"]) == ("base", "base LLM")
    assert (sft.table_rows()[0]["row"], sft.table_rows()[0]["model"]) == ("sft", "sft")
    assert (stage1.table_rows()[0]["row"], stage1.table_rows()[0]["model"]) == ("stage1", "stage1_round_1")
    assert dataclasses.replace(stage1, eval=None).table_rows() == []
    rows = selfplay.table_rows()
    trained = [i for i in selfplay.iterations if i.get("trained")]
    assert len(rows) == len(trained)
    for row, iteration in zip(rows, trained):
        assert set(row) == ROW_KEYS
        assert row["row"] == f"stage2 iter {iteration['iteration']}" and row["model"] == iteration["model"]
    if rows:
        assert rows[-1]["seconds"] == selfplay.seconds
    assert SelfplayResult().table_rows() == []
    # A table row is JSON (the report writes it).
    json.dumps([r for result in (base_eval, sft, stage1, selfplay) for r in result.table_rows()])


# -- the runner -------------------------------------------------------------------------------------

def test_run_stage_writes_a_timed_marker_and_then_skips_the_stage(tiny_context, tmp_path,
                                                                  monkeypatch):
    workdir = Workdir(tmp_path / "fresh")
    context = dataclasses.replace(tiny_context, workdir=workdir,
                                  model_base=ModelBase(workdir, tiny_context.factory))
    first = runner.run_stage(context, "base_eval")
    assert type(first) is BaseEvalResult
    assert isinstance(first.seconds, float) and first.seconds > 0
    marker = workdir.path("stages", "base_eval.json")
    assert read_json(marker)["seconds"] == first.seconds
    assert finished_result(workdir, "base_eval") == first
    assert sorted(p.name for p in workdir.path("stages").iterdir()) == ["base_eval.json"]

    def must_not_run(self, context):
        raise AssertionError("run_stage ran a stage whose marker says it finished")

    monkeypatch.setattr(type(runner.STAGE_BY_NAME["base_eval"]), "run", must_not_run)
    before = file_state(marker)
    assert runner.run_stage(context, "base_eval") == first
    assert file_state(marker) == before


# -- grpo ---------------------------------------------------------------------------------------

GRPO_METRICS = {"loss", "grad_norm", "learning_rate", "kl", "clip_fraction", "entropy",
                "ratio/mean", "reward/mean", "reward/correct", "reward/executes",
                "groups/zero_variance", "completion/length", "completion/truncated",
                "time/rollout", "time/reward", "time/logprobs", "time/update"}


def test_grpo_trains_from_the_best_member_and_joins_the_base(tiny_context, grpo_result):
    config = tiny_context.config.grpo
    assert isinstance(grpo_result, GrpoResult) and grpo_result.model == "grpo"
    assert grpo_result.steps == config.steps
    assert grpo_result.init_from in {e.name for e in tiny_context.model_base.entries()}
    entry = tiny_context.model_base.get("grpo")
    assert entry is not None and entry.kind == "grpo"
    assert entry.validation_ex == grpo_result.validation_ex
    assert_evaluation(grpo_result.eval, 4)
    records = read_jsonl(tiny_context.workdir.run_dir("grpo") / "metrics.jsonl")
    assert [r["step"] for r in records] == list(range(1, config.steps + 1))
    for record in records:
        assert GRPO_METRICS <= set(record), GRPO_METRICS - set(record)
        assert 0.0 <= record["reward/mean"] <= 1.0 and 0.0 <= record["groups/zero_variance"] <= 1.0
        assert record["kl"] >= 0.0 and 0.0 <= record["clip_fraction"] <= 1.0
    assert set(grpo_result.time_split) == {"rollout", "reward", "logprobs", "update"}
    assert grpo_result.reward_first == records[0]["reward/mean"]
    assert (tiny_context.workdir.run_dir("grpo") / "checkpoints").is_dir()
    assert no_marker(tiny_context, "grpo")
    assert [r["row"] for r in grpo_result.table_rows()] == ["grpo"]


def test_grpo_names_a_start_member_the_base_lacks(tiny_context, grpo_result):
    config = tiny_context.config
    wrong = dataclasses.replace(config, grpo=dataclasses.replace(config.grpo, init_from="nope"))
    with pytest.raises(ConfigError, match=r"^config.grpo.init_from: no model-base member 'nope' "):
        GrpoRun(dataclasses.replace(tiny_context, config=wrong))
