"""Stage 2: self-play fine-tuning of the main model against an opponent, with an error-driven loss.

Iteration t (1..T), each step's output on disk before the next starts:
1. Main = the model base's best model by validation EX, opponent = its worst (the same model when
   the base has one member: SPIN's setting, the opponent is the current model).
2. The opponent samples `samples_per_question` SQL per training question; each is executed
   against the gold result: R = 1 when it is wrong (a different result, or an error), 0 when right.
3. Pairs (gold SQL = chosen, opponent SQL = rejected, R) with their reference log-probs, computed
   once without gradient: under the opponent for the self-play losses (spin, error_driven, exspin,
   error_driven_positive), under the frozen main model for dpo, which also keeps only the pairs
   with a wrong opponent answer (a preference needs one).          -> selfplay/iter_<t>/pairs.jsonl
4. The main model trains on the pairs with the configured loss; the result, scored on the
   validation set, joins the base as `selfplay_iter_<t>` and is scored on the evaluation set.
                                                                   -> selfplay/iter_<t>/stats.json
Stop after T iterations, or earlier when `patience` iterations in a row did not beat the best
validation EX the base had before them.
"""

from __future__ import annotations

import logging

from tqdm.auto import tqdm

from spft_jax.data.prompts import example_evidence
from spft_jax.pipeline.finetune import batch_config, finetune
from spft_jax.pipeline.results import SelfplayResult
from spft_jax.pipeline.scoring import evaluate_on_eval_set, register
from spft_jax.pipeline.workdir import exists, is_writer, read_json, read_jsonl, write_json, write_jsonl
from spft_jax.sql.compare import execution_match
from spft_jax.train import objectives
from spft_jax.train.batches import PairExample
from spft_jax.train.reference import PairText, pair_reference_logps
from spft_jax.train.step import LossSpec

log = logging.getLogger(__name__)


class SelfPlay:
    def __init__(self, context):
        self.context = context
        self.config = context.config
        self.stage = context.config.selfplay
        train = context.data.train
        limit = self.stage.max_questions
        self.questions = list(train.examples[:limit] if limit else train.examples)

    def _prompt(self, example) -> list[int]:
        return self.context.prompts.text_to_sql(self.context.data.train, example.db_id, example.question,
                                                example_evidence(example, self.context.data.evidence_field))

    # -- 2. opponent answers and R ---------------------------------------------------------------
    def opponent_answers(self, t: int, opponent) -> list[dict]:
        context, train = self.context, self.context.data.train
        params = context.generator.sql_params(
            n=self.stage.samples_per_question, temperature=self.stage.temperature,
            top_p=self.stage.top_p, seed=self.config.seed * 31 + t)
        samples = context.generator.text_to_sql(opponent, train, self.questions, params,
                                                context.data.evidence_field,
                                                description=f"iteration {t}: opponent")
        paths = [str(train.db_path(e.db_id)) for e in self.questions]
        gold = context.executor.execute_many([(p, e.query) for p, e in zip(paths, self.questions)],
                                             cache=True)
        jobs = [(p, sql) for p, options in zip(paths, samples) for sql in options]
        predicted = iter(context.executor.execute_many(jobs))
        answers = []
        for example, options, g in zip(self.questions, samples, gold):
            for sql in options:
                p = next(predicted)
                if not g.ok:  # a gold query that fails cannot tell right from wrong
                    continue
                correct = execution_match(example.query, g, p)
                answers.append({"index": example.index, "db_id": example.db_id,
                                "question": example.question, "gold_sql": example.query,
                                "opponent_sql": sql, "opponent_wrong": 0.0 if correct else 1.0,
                                "outcome": "correct" if correct else
                                ("wrong_result" if p.ok else p.error_kind.value)})
        return answers

    # -- 3. pairs with reference log-probs --------------------------------------------------
    def pairs(self, t: int, main, opponent) -> list[dict]:
        context = self.context
        path = context.workdir.selfplay_dir(t) / "pairs.jsonl"
        if exists(path):
            return read_jsonl(path)
        answers = self.opponent_answers(t, opponent)
        if objectives.get(self.stage.loss).only_wrong_opponent:
            answers = [a for a in answers if a["opponent_wrong"] == 1.0]
        if not answers:
            write_jsonl(path, [])
            return []
        by_index = {e.index: e for e in self.questions}
        prompts = context.prompts
        texts = [PairText(self._prompt(by_index[a["index"]]), prompts.completion(a["gold_sql"]),
                          prompts.completion(a["opponent_sql"]), by_index[a["index"]].db_id)
                 for a in answers]
        reference = {"main": main, "opponent": opponent}[objectives.get(self.stage.loss).reference]
        config = batch_config(self.stage.train, context.factory.tokenizer.pad_id, len(texts),
                              context.factory.mesh)
        with tqdm(total=len(texts), desc=f"iteration {t}: reference log-probs", unit="pair",
                  disable=not (context.progress and is_writer())) as bar:
            logps = pair_reference_logps(context.factory.view(reference), texts, config,
                                         mesh=context.factory.mesh, on_batch=bar.update)
        records = [a | {"reference_chosen": float(c), "reference_rejected": float(r)}
                   for a, (c, r) in zip(answers, logps)]
        write_jsonl(path, records)
        return records

    def pair_examples(self, records: list[dict]) -> list[PairExample]:
        by_index = {e.index: e for e in self.questions}
        prompts = self.context.prompts
        return [PairExample(self._prompt(by_index[r["index"]]), prompts.completion(r["gold_sql"]),
                            prompts.completion(r["opponent_sql"]), r["reference_chosen"],
                            r["reference_rejected"], r["opponent_wrong"],
                            by_index[r["index"]].db_id) for r in records]

    # -- one iteration --------------------------------------------------------------------------
    def run_iteration(self, t: int) -> dict:
        context, base = self.context, self.context.model_base
        stats_path = context.workdir.selfplay_dir(t) / "stats.json"
        if exists(stats_path):
            return read_json(stats_path)
        name = f"selfplay_iter_{t}"
        chosen = context.workdir.selfplay_dir(t) / "players.json"
        if exists(chosen):  # a resumed iteration keeps the players it started with
            players = read_json(chosen)
        else:
            players = {"main": base.best().name, "opponent": base.worst().name,
                       "best_validation_ex_before": base.best().validation_ex}
            write_json(chosen, players)
        main, opponent = base.load(players["main"]), base.load(players["opponent"])
        records = self.pairs(t, main, opponent)
        wrong = sum(r["opponent_wrong"] for r in records)
        stats = {"iteration": t, **players, "loss": self.stage.loss, "lam": self.stage.lam,
                 "questions": len(self.questions), "pairs": len(records),
                 "opponent_correct_share": (1 - wrong / len(records)) if records else None,
                 "opponent_outcomes": _count(r["outcome"] for r in records)}
        if objectives.get(self.stage.loss).needs_wrong_opponent and not wrong:
            records = []  # every pair would drop out of the gated loss
        if not records:
            log.warning("self-play iteration %d: no usable pairs; the main model is kept", t)
            stats |= {"trained": False}
            write_json(stats_path, stats)
            return stats
        entry = base.get(name)
        if entry is None:
            result = finetune(context, name, main, self.pair_examples(records), self.stage.train,
                              LossSpec(self.stage.loss, lam=self.stage.lam), self.config.seed + 10_000 * t)
            info = {"iteration": t, **players, "pairs": len(records), "steps": result.steps,
                    "final_metrics": result.final_metrics, "config": self.stage.to_dict()}
            entry = register(context, name, "selfplay", result.trainable, info)
            trained = result.trainable
            stats["final_metrics"] = result.final_metrics
        else:
            trained = base.load(name)
            stats["final_metrics"] = entry.info.get("final_metrics", {})
        stats |= {"trained": True, "model": name, "validation_ex": entry.validation_ex,
                  "eval": evaluate_on_eval_set(context, name, trained)}
        write_json(stats_path, stats)
        return stats


def _count(values) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return counts


class SelfplayStage:
    """Iterations until `selfplay.iterations`, or until `patience` of them in a row did not
    beat the best validation EX the base had before them."""

    name = "selfplay"

    def run(self, context) -> SelfplayResult:
        stage = context.config.selfplay
        selfplay = SelfPlay(context)
        iterations, stale = [], 0
        for t in range(1, stage.iterations + 1):
            stats = selfplay.run_iteration(t)
            iterations.append(stats)
            improved = stats.get("trained") and stats["validation_ex"] > stats["best_validation_ex_before"]
            stale = 0 if improved else stale + 1
            if stage.patience and stale >= stage.patience and t < stage.iterations:
                log.info("self-play: stopping after iteration %d (%d without a better validation "
                         "EX)", t, stale)
                break
        trained = [s for s in iterations if s.get("trained")]
        last = trained[-1] if trained else {}
        return SelfplayResult(iterations=iterations, stopped_early=len(iterations) < stage.iterations,
                              model=last.get("model"), eval=last.get("eval"))
