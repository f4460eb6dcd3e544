"""The modes of `python -m spft_jax.main`, over one Context.

    pipeline   the configured stages in order (base_eval, sft, stage1, selfplay, grpo), then the
               report
    sft | stage1 | selfplay | grpo    one stage (what it builds on must be in the workdir already)
    evaluate   EX of one model (--model: a model-base member, "base", default the best member)
    predict    Spider-format predictions of one model for the evaluation set (--output)
    export     one model as a Hugging Face directory, LoRA merged (--output)
    check_export   an exported directory (--output) loaded in transformers writes the same greedy
               SQL as eval/<model>.sql (--limit: the first N evaluation questions)

Every stage is skipped when its marker says it finished, so rerunning the same command after a
kill continues where it stopped; a stage that was cut short resumes from its last file or
checkpoint (see the stage modules).
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
import time

from spft_jax.errors import ConfigError, DataError
from spft_jax.pipeline.report import write_report
from spft_jax.pipeline.results import RESULT_TYPES, StageResult, finished_result
from spft_jax.pipeline.run_config import STAGES
from spft_jax.pipeline.scoring import evaluate_on_eval_set
from spft_jax.pipeline.grpo import GrpoStage
from spft_jax.pipeline.selfplay import SelfplayStage
from spft_jax.pipeline.sft_stage import BaseEvalStage, SftStage
from spft_jax.pipeline.stage import Stage
from spft_jax.pipeline.stage1 import Stage1Stage
from spft_jax.pipeline.workdir import is_writer, write_json
from spft_jax.sql.evaluation import write_predictions

log = logging.getLogger(__name__)

STAGE_BY_NAME: dict[str, Stage] = {s.name: s for s in (BaseEvalStage(), SftStage(), Stage1Stage(),
                                                       SelfplayStage(), GrpoStage())}
assert tuple(STAGE_BY_NAME) == STAGES == tuple(RESULT_TYPES), "every stage listed once, in order"


def run_stage(context, name: str) -> StageResult:
    """Runs one stage unless its marker says it finished; the runner alone reads and writes
    markers and times stages."""
    done = finished_result(context.workdir, name)
    if done is not None:
        log.info("%s: finished in an earlier run, skipped", name)
        return done
    log.info("%s: starting", name)
    start = time.perf_counter()
    result = STAGE_BY_NAME[name].run(context)
    result = dataclasses.replace(result, seconds=time.perf_counter() - start)
    context.workdir.mark_finished(name, result.to_json())
    log.info("%s: done in %.1f min", name, result.seconds / 60)
    return result


def _model(context, name: str | None):
    """(label, trainable) of a model-base member, "base" (the base LLM) or the best member."""
    if name == "base":
        return "base", None
    if not name:
        name = context.model_base.best().name
    return name, context.model_base.load(name)


def run_mode(context, mode: str, model_name: str | None = None, output: str | None = None,
             limit: int = 0) -> dict:
    """`output` is there for the modes that need it (validate.check_output, before the context
    was built)."""
    stages = list(context.config.stages)
    if mode == "pipeline":
        results = {stage: run_stage(context, stage) for stage in stages}
        report = write_report(context.workdir, context.config.name)
        if is_writer():
            print(pathlib.Path(context.workdir.path("report.md")).read_text())
        return {"stages": results, "report": report}
    if mode in STAGE_BY_NAME:
        results = run_stage(context, mode)
        write_report(context.workdir, context.config.name)
        return results
    if mode == "check_export":
        return _check_export(context, output, limit)
    label, trainable = _model(context, model_name)
    if mode == "evaluate":
        result = evaluate_on_eval_set(context, label, trainable)
        if is_writer():
            print(f"{label}: EX {result['greedy']['execution_accuracy']} on {context.data.eval.name} "
                  f"(report: {context.workdir.eval_path(label)})")
        return result
    if mode == "predict":
        generator = context.generator
        sql = [s[0] for s in generator.text_to_sql(trainable, context.data.eval, context.data.eval.examples,
                                                   generator.sql_params(), context.data.evidence_field,
                                                   description=f"{label}: predictions")]
        if is_writer():
            write_predictions(output, sql)
            print(f"{len(sql)} predictions of {label} written to {output}")
        return {"predictions": output}
    if mode == "export":
        from spft_jax.models.export import export_hf

        directory = export_hf(context.factory.merged(trainable), context.factory.model_config,
                              context.factory.tokenizer, output)
        write_json(pathlib.Path(directory) / "spft_export.json", {"model": label})
        if is_writer():
            print(f"{label} exported to {directory}")
        return {"export": str(directory)}
    raise ConfigError(f"--mode: {mode!r} is not a mode")


def _check_export(context, output: str | None, limit: int) -> dict:
    from spft_jax.pipeline.export_check import check_export

    check = check_export(context, output, limit)
    if is_writer():
        for m in check.mismatches:
            print(f"question {m['index']}: {m.get('reason', 'different SQL')}\n  ours:         {m['ours']}\n"
                  f"  transformers: {m['transformers']}")
        print(f"{check.model} exported to {output}: transformers' greedy SQL is identical to ours "
              f"on {check.identical} of {check.compared} evaluation questions")
    result = {"model": check.model, "compared": check.compared, "identical": check.identical}
    if check.mismatches:
        raise DataError(f"the export differs from our sampler on {len(check.mismatches)} of "
                        f"{check.compared} questions (listed above)")
    return result
