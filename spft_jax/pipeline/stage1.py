"""Stage 1: verification-based iterative fine-tuning, which builds the model base.

Round k (1..K), each step's output on disk before the next starts (a rerun resumes at the first
missing file):
1. SQL-to-Text model: round 1 fine-tunes the base LLM in the reverse direction (schema + SQL ->
   question) on the seed pairs; round k > 1 continues it on round k-1's verified pairs.
   -> sql2text/round_<k>/
2. Synthesis: templates of the seed SQL filled on the training databases (spft_jax.synthesis.synthesize),
   templates whose pairs failed verification last round up-weighted; a question written for each
   query by the SQL-to-Text model.                                   -> synth/round_<k>/candidates.jsonl
3. Verification: the current Text-to-SQL model (the latest in the base) answers each question;
   a pair is verified when its SQL executes to the synthesized SQL's result.
                                                        -> verified.jsonl, failed.jsonl (with the reason)
4. Fine-tuning: M_k on seed + every round's verified pairs so far, from the base LLM (or from the
   previous model, `stage1.init_from`), scored on the validation set and added to the model base
   as `stage1_round_<k>` with its data counts and hashes.                     -> stats.json
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import random

from spft_jax.errors import DataError
from spft_jax.pipeline.finetune import finetune, sft_examples
from spft_jax.pipeline.results import Stage1Result
from spft_jax.pipeline.scoring import evaluate_on_eval_set, register
from spft_jax.pipeline.workdir import exists, read_json, read_jsonl, write_json, write_jsonl
from spft_jax.sql.compare import execution_match
from spft_jax.sql.database_content import target_databases
from spft_jax.sql.dataset import Example
from spft_jax.sql.evaluation import hardness_or_unknown
from spft_jax.synthesis.synthesize import synthesize
from spft_jax.synthesis.templates import TemplateBank, build_templates
from spft_jax.train.batches import SftExample
from spft_jax.train.step import LossSpec

log = logging.getLogger(__name__)

SQL2TEXT_DIR = "sql2text"


def _hash(records) -> str:
    digest = hashlib.sha256()
    for r in records:
        digest.update(json.dumps([r["db_id"], r["question"], r["sql"]]).encode())
    return digest.hexdigest()[:16]


def _template_report(bank: TemplateBank) -> dict:
    return {"seed_queries": bank.seed_count, "templated": sum(bank.frequency.values()),
            "distinct_templates": len(bank.templates),
            "failed": dict(bank.failure_counts()),
            "failures": [{"db_id": f.db_id, "sql": f.sql, "reason": f.reason, "message": f.message}
                         for f in bank.failures]}


class Stage1:
    def __init__(self, context):
        self.context = context
        self.config = context.config
        self.stage = context.config.stage1
        self.train = context.data.train
        self._bank: TemplateBank | None = None

    # -- pieces shared by the rounds ---------------------------------------------------------
    def templates(self) -> TemplateBank:
        if self._bank is None:
            self._bank = build_templates(self.train.examples, self.train.schemas)
            write_json(self.context.workdir.path("synth", "templates.json"), _template_report(self._bank))
            log.info("stage 1: %d distinct templates from %d seed queries (%d could not be templated)",
                     len(self._bank.templates), self._bank.seed_count, len(self._bank.failures))
            if not self._bank.templates:
                raise DataError("stage 1: no seed query could be turned into a template")
        return self._bank

    def _verified(self, up_to_round: int) -> list[dict]:
        records = []
        for k in range(1, up_to_round + 1):
            path = self.context.workdir.synth_dir(k) / "verified.jsonl"
            if exists(path):
                records += read_jsonl(path)
        return records

    def _reverse_examples(self, pairs) -> list[SftExample]:
        prompts = self.context.prompts
        return [SftExample(prompts.sql_to_text(self.train, p["db_id"], p["sql"]),
                           prompts.completion(p["question"]), p["db_id"]) for p in pairs]

    # -- 1. the SQL-to-Text model ------------------------------------------------------------
    def sql_to_text_model(self, k: int):
        context = self.context
        directory = context.workdir.path(SQL2TEXT_DIR, f"round_{k}")
        marker = directory / "metadata.json"
        if exists(marker):
            return context.factory.load(directory)
        if k == 1:
            init = None
            pairs = [{"db_id": e.db_id, "sql": e.query, "question": e.question}
                     for e in self.train.examples]
        else:
            init = self.sql_to_text_model(k - 1)
            pairs = read_jsonl(context.workdir.synth_dir(k - 1) / "verified.jsonl")
        if pairs:
            result = finetune(context, f"sql2text_round_{k}", init, self._reverse_examples(pairs),
                              self.stage.sql2text, LossSpec("sft"), self.config.seed + 1000 * k)
            trainable, steps = result.trainable, result.steps
        else:  # nothing verified last round: the model stays as it was
            trainable, steps = init, 0
        context.factory.save(trainable, directory)
        write_json(marker, {"round": k, "pairs": len(pairs), "steps": steps})
        return trainable

    # -- 2. synthesis and questions ----------------------------------------------------------
    def candidates(self, k: int, sql2text) -> list[dict]:
        context = self.context
        path = context.workdir.synth_dir(k) / "candidates.jsonl"
        if exists(path):
            return read_jsonl(path)
        bank = self.templates()
        databases, missing = target_databases(self.train.schemas, self.train.db_dir,
                                              {e.db_id for e in self.train.examples})
        if missing:
            log.warning("stage 1: no database file for %s; not synthesizing on them", missing)
        weights = None
        if k > 1:
            failed = {r["template_id"] for r in read_jsonl(context.workdir.synth_dir(k - 1) / "failed.jsonl")}
            weights = {t: self.stage.failed_template_weight for t in failed if t in bank.frequency}
        earlier = {(r["db_id"], r["sql"]) for j in range(1, k)
                   for r in read_jsonl(context.workdir.synth_dir(j) / "candidates.jsonl")}
        result = synthesize(bank, databases, self.stage.queries_per_round, context.executor,
                            random.Random(self.config.seed * 7919 + k), template_weights=weights,
                            require_rows=self.stage.require_rows,
                            max_attempts=self.stage.queries_per_round * self.stage.max_attempts_per_query,
                            exclude=earlier)
        write_json(context.workdir.synth_dir(k) / "synthesis.json", result.stats.to_dict())
        queries = list(result.queries)
        questions = context.generator.sql_to_text(
            sql2text, self.train, [(q.db_id, q.sql) for q in queries],
            self.stage.question_max_new_tokens, description=f"round {k}: questions")
        records = [q.to_dict() | {"question": question} for q, question in zip(queries, questions)]
        write_jsonl(path, records)
        return records

    # -- 3. verification ---------------------------------------------------------------------
    def verify(self, k: int, candidates: list[dict], text_to_sql) -> tuple[list[dict], list[dict]]:
        context = self.context
        directory = context.workdir.synth_dir(k)
        if exists(directory / "verified.jsonl") and exists(directory / "failed.jsonl"):
            return read_jsonl(directory / "verified.jsonl"), read_jsonl(directory / "failed.jsonl")
        asked = [c for c in candidates if c["question"]]
        examples = [Example(i, c["db_id"], c["question"], c["sql"]) for i, c in enumerate(asked)]
        answers = [s[0] for s in context.generator.text_to_sql(
            text_to_sql, self.train, examples, context.generator.sql_params(),
            description=f"round {k}: verification")]
        paths = [str(self.train.db_path(c["db_id"])) for c in asked]
        gold = context.executor.execute_many(list(zip(paths, [c["sql"] for c in asked])), cache=True)
        predicted = context.executor.execute_many(list(zip(paths, answers)))
        verified, failed = [], []
        for candidate, answer, g, p in zip(asked, answers, gold, predicted):
            record = candidate | {"predicted_sql": answer}
            if g.ok and execution_match(candidate["sql"], g, p):
                verified.append(record)
            else:
                reason = ("gold_failed" if not g.ok else
                          f"prediction_{p.error_kind.value}" if not p.ok else "wrong_result")
                failed.append(record | {"reason": reason})
        failed += [c | {"predicted_sql": "", "reason": "no_question"} for c in candidates if not c["question"]]
        write_jsonl(directory / "failed.jsonl", failed)
        write_jsonl(directory / "verified.jsonl", verified)
        return verified, failed

    # -- 4. the round's Text-to-SQL model ----------------------------------------------------
    def round_model(self, k: int, previous):
        context, data = self.context, self.context.data
        name = f"stage1_round_{k}"
        entry = context.model_base.get(name)
        if entry is not None:
            return entry, context.model_base.load(name)
        verified = self._verified(k)
        seed = sft_examples(context.prompts, self.train, self.train.examples, data.evidence_field)
        synthetic = [SftExample(context.prompts.text_to_sql(self.train, r["db_id"], r["question"]),
                                context.prompts.completion(r["sql"]), r["db_id"])
                     for r in verified]
        init = previous if self.stage.init_from == "previous" else None
        result = finetune(context, name, init, seed + synthetic, self.stage.train, LossSpec("sft"),
                          self.config.seed + 100 * k)
        info = {"round": k, "init_from": self.stage.init_from,
                "seed": {"questions": len(seed), "hash": data.summary()["train"]["hash"]},
                "verified": {"pairs": len(synthetic), "hash": _hash(verified)},
                "steps": result.steps, "truncated": result.truncated,
                "final_metrics": result.final_metrics, "config": self.stage.train.to_dict()}
        return register(context, name, "stage1", result.trainable, info), result.trainable

    def run_round(self, k: int) -> dict:
        context = self.context
        stats_path = context.workdir.synth_dir(k) / "stats.json"
        if exists(stats_path):
            return read_json(stats_path)
        latest = context.model_base.entries()
        current = context.model_base.load(latest[-1].name) if latest else None
        sql2text = self.sql_to_text_model(k)
        candidates = self.candidates(k, sql2text)
        verified, failed = self.verify(k, candidates, current)
        entry, _ = self.round_model(k, current)
        synthesis = read_json(context.workdir.synth_dir(k) / "synthesis.json")
        stats = {
            "round": k,
            "candidates": len(candidates),
            "verified": len(verified),
            "failed": len(failed),
            "verified_rate": len(verified) / len(candidates) if candidates else 0.0,
            "failed_reasons": dict(collections.Counter(f["reason"] for f in failed)),
            "templates_used": len({c["template_id"] for c in candidates}),
            "executable_rate": synthesis["executable_rate"],
            "synthesis": synthesis,
            "hardness": {"candidates": dict(collections.Counter(c["hardness"] for c in candidates)),
                         "verified": dict(collections.Counter(c["hardness"] for c in verified)),
                         "seed": dict(collections.Counter(hardness_or_unknown(e.query)
                                                          for e in self.train.examples))},
            "model": entry.name, "validation_ex": entry.validation_ex,
        }
        write_json(stats_path, stats)
        log.info("stage 1 round %d: %d candidates, %d verified, validation EX %.3f", k,
                 len(candidates), len(verified), entry.validation_ex)
        return stats


class Stage1Stage:
    """The configured number of rounds; the result names the last round's model and its EX."""

    name = "stage1"

    def run(self, context) -> Stage1Result:
        rounds = Stage1(context)
        stats = [rounds.run_round(k) for k in range(1, context.config.stage1.rounds + 1)]
        best = context.model_base.best()
        if not stats:
            return Stage1Result(rounds=[], best_model=best.name,
                                best_validation_ex=best.validation_ex)
        # Stage 1's product is its last model (seed + every round's verified data), as in the
        # paper's tables; which model of the base is strongest is recorded beside it.
        last = stats[-1]["model"]
        return Stage1Result(rounds=stats, best_model=best.name,
                            best_validation_ex=best.validation_ex, model=last,
                            eval=evaluate_on_eval_set(context, "stage1",
                                                      context.model_base.load(last)))
