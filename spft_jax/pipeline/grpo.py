"""The GRPO stage: reinforcement learning with an execution reward, the baseline to SPFT-SQL.

Starting from a model-base member (`grpo.init_from`, default the best by validation EX), each
step t (1..steps), all in memory (the sampler gets the updated weights directly):
1. Rollout: `questions_per_step` training questions (a seeded order, cycling), `group_size`
   SQL sampled for each from the current policy (temperature, top_p).
2. Reward, through the sandboxed executor: 1 when the SQL's result matches the gold's by the
   evaluator's rules, `execution_reward` when it runs but differs, 0 when it fails.
3. Advantages normalised within each question's group (train/grpo.py); a group whose rewards
   are all equal carries no gradient and is counted (groups/zero_variance).
4. Log-probs without gradient where needed: pi_old when a rollout is trained on more than once,
   the starting model's when beta > 0 (KL penalty).
5. `updates_per_rollout` optimizer steps on the rollout, each on a share of whole groups. The
   G completions of a question share its prompt in the step (`train.share_prefix`, on by
   default).
Per step, metrics.jsonl / TensorBoard in runs/grpo/: reward, zero-variance share, KL, clip
fraction, entropy, completion length, and the time split (rollout / reward / logprobs /
update). Checkpoints (policy, optimizer, step) every `train.checkpoint_every` steps: a killed
run resumes at its last one and ends where an uninterrupted run ends, since each step's
questions and sampling seed follow from the step number. At the end the policy joins the model
base as `grpo` and is scored on the evaluation set.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import jax
import numpy as np
from tqdm.auto import tqdm

from spft_jax.data.prompts import example_evidence
from spft_jax.data.sql_text import extract_sql
from spft_jax.errors import ConfigError, DataError
from spft_jax.parallel.coordination import is_writer
from spft_jax.parallel.distributed import put_global
from spft_jax.parallel.rules import batch_sharding, data_parallel_size
from spft_jax.pipeline.results import GrpoResult
from spft_jax.pipeline.scoring import evaluate_on_eval_set, register
from spft_jax.sampling import SamplingParams
from spft_jax.sql.compare import execution_match
from spft_jax.train.batches import Batcher, DataPosition, SftExample
from spft_jax.train.checkpoint import CheckpointMismatchError, TrainCheckpointer, TrainProgress
from spft_jax.train.grpo import group_advantages, rollout_logprobs_fn
from spft_jax.train.metrics_log import MetricsLogger
from spft_jax.train.optimizer import UpdateRule, learning_rate_schedule
from spft_jax.train.step import LossSpec, TrainStep, init_optimizer_state, split_trainable

log = logging.getLogger(__name__)

RUN = "grpo"  # runs/grpo/ and the model-base member's name
TIMES = ("rollout", "reward", "logprobs", "update")


@dataclasses.dataclass
class Rollout:
    """One step's samples: completions[q][g] token ids, rewards [Q, G] and what they were."""

    questions: list
    completions: list[list]
    rewards: np.ndarray
    correct: np.ndarray
    executed: np.ndarray


class GrpoRun:
    """The stage's training loop (see the module docstring)."""

    def __init__(self, context):
        self.context = context
        self.config = context.config.grpo
        self.section = self.config.train
        train = context.data.train
        limit = self.config.max_questions
        self.questions = list(train.examples[:limit] if limit else train.examples)
        if len(self.questions) < self.config.questions_per_step:
            raise DataError(f"grpo: {len(self.questions)} training questions are fewer than "
                            f"questions_per_step={self.config.questions_per_step}")
        self.start_member = self._start_member()
        self.max_new_tokens = (self.config.max_new_tokens
                               or context.config.sampling.max_new_tokens)
        self.order = np.random.default_rng([context.config.seed, 1021]).permutation(
            len(self.questions))
        self.updates_total = self.config.steps * self.config.updates_per_rollout

    def _start_member(self) -> str:
        base = self.context.model_base
        name = self.config.init_from
        if name == "best":
            return base.best().name
        if base.get(name) is None:
            members = ", ".join(e.name for e in base.entries()) or "none"
            raise ConfigError(f"config.grpo.init_from: no model-base member {name!r} in this "
                              f"workdir (members: {members})")
        return name

    def description(self) -> dict:
        """What makes the run what it is; a resumed run must match it."""
        c = self.config
        return {"init_from": self.start_member, "questions": len(self.questions),
                "questions_per_step": c.questions_per_step, "group_size": c.group_size,
                "updates_per_rollout": c.updates_per_rollout, "seed": self.context.config.seed}

    # -- 1-2. rollout and reward -----------------------------------------------------------------
    def step_questions(self, step: int) -> list:
        q = self.config.questions_per_step
        positions = [(step - 1) * q + i for i in range(q)]
        return [self.questions[self.order[p % len(self.order)]] for p in positions]

    def rollout(self, step: int, trainable, times: dict) -> Rollout:
        context, c = self.context, self.config
        train = context.data.train
        questions = self.step_questions(step)
        began = time.perf_counter()
        prompts = [self._prompt(e) for e in questions]
        params = SamplingParams(max_new_tokens=self.max_new_tokens, n=c.group_size,
                                temperature=c.temperature, top_p=c.top_p,
                                seed=context.config.seed * 1009 + step)
        completions = context.generator.generate(trainable, prompts, params,
                                                 description=f"grpo step {step}: rollout",
                                                 families=[e.db_id for e in questions])
        times["rollout"] = time.perf_counter() - began
        began = time.perf_counter()
        paths = [str(train.db_path(e.db_id)) for e in questions]
        gold = context.executor.execute_many([(p, e.query) for p, e in zip(paths, questions)],
                                             cache=True)
        jobs = [(p, extract_sql(c.text)) for p, group in zip(paths, completions) for c in group]
        predicted = iter(context.executor.execute_many(jobs))
        shape = (len(questions), c.group_size)
        rewards, correct, executed = np.zeros(shape), np.zeros(shape, bool), np.zeros(shape, bool)
        for q, (example, g) in enumerate(zip(questions, gold)):
            for j in range(c.group_size):
                p = next(predicted)
                executed[q, j] = p.ok
                # A gold query that fails cannot tell right from wrong: the group gets 0s.
                correct[q, j] = g.ok and execution_match(example.query, g, p)
                if g.ok:
                    rewards[q, j] = 1.0 if correct[q, j] else (c.execution_reward if p.ok else 0.0)
        times["reward"] = time.perf_counter() - began
        return Rollout(questions, completions, rewards, correct, executed)

    def _prompt(self, example) -> list[int]:
        context = self.context
        return context.prompts.text_to_sql(context.data.train, example.db_id, example.question,
                                           example_evidence(example, context.data.evidence_field))

    # -- 3-5. the update ---------------------------------------------------------------------------
    def batches(self, rollout: Rollout, advantages: np.ndarray) -> list[dict[str, np.ndarray]]:
        """One [micro, N, ...] batch per update, each a share of whole groups in rollout order."""
        c, factory = self.config, self.context.factory
        examples = [SftExample(self._prompt(e), list(sample.token_ids), ("question", e.index))
                    for e, group in zip(rollout.questions, rollout.completions) for sample in group]
        micro = self.section.micro_batches
        per_update = len(examples) // c.updates_per_rollout
        config = self.section.batch_config(factory.tokenizer.pad_id, batch_size=per_update // micro,
                                           group_multiple=data_parallel_size(factory.mesh))
        config = dataclasses.replace(config, group_size=c.group_size)
        batcher = Batcher(examples, config)
        flat = advantages.reshape(-1)
        out = []
        for u in range(c.updates_per_rollout):
            indices = np.arange(u * per_update, (u + 1) * per_update).reshape(micro, -1)
            arrays = batcher.arrays_for(indices)
            arrays["advantages"] = flat[indices].astype(np.float32)
            out.append(arrays)
        return out

    def _device(self, arrays: dict[str, np.ndarray]) -> dict:
        mesh = self.context.factory.mesh
        return {k: put_global(v, None if mesh is None else batch_sharding(mesh, v.ndim))
                for k, v in arrays.items()}

    def _logprobs(self, fn, trainable, frozen, arrays) -> np.ndarray:
        """Per-token log-probs [micro, N, K] of a batch, micro-batch by micro-batch."""
        micro = arrays["tokens"].shape[0]
        parts = [np.asarray(jax.device_get(fn(trainable, frozen, self._device(
            {k: v[m] for k, v in arrays.items() if k != "advantages"}))))
            for m in range(micro)]
        return np.stack(parts).reshape(*arrays["predict_index"].shape[:2], -1)

    def loss_spec(self) -> LossSpec:
        c = self.config
        return LossSpec("grpo", options={
            "clip_eps": c.clip_eps, "beta": c.beta, "normalization": c.normalization,
            "max_completion_tokens": self.max_new_tokens,
            "on_policy": c.updates_per_rollout == 1})

    # -- the loop ------------------------------------------------------------------------------
    def train(self):
        """(trainable, per-step records) after `steps` steps, resuming from a checkpoint."""
        context, c, section = self.context, self.config, self.section
        factory, base = context.factory, context.model_base
        run_dir = context.workdir.run_dir(RUN)
        initial = base.load(self.start_member)
        graphdef, trainable, frozen = split_trainable(factory.model(initial), lora=factory.lora)
        reference = factory.copy(initial) if c.beta else None
        optimizer = section.optimizer_config(self.updates_total)
        rule, schedule = UpdateRule.from_config(optimizer), learning_rate_schedule(optimizer)
        opt_state = init_optimizer_state(rule, trainable, factory.mesh)
        step_fn = TrainStep(graphdef, self.loss_spec(), rule, factory.mesh)
        logprobs = rollout_logprobs_fn(graphdef)
        checkpointer = None
        if section.checkpoint_every:
            checkpointer = TrainCheckpointer(run_dir / "checkpoints", every=section.checkpoint_every,
                                             keep=section.keep_checkpoints)
        start = 0
        if checkpointer is not None and checkpointer.latest_step() is not None:
            trainable, opt_state, progress = checkpointer.restore(trainable, opt_state)
            if progress.data != self.description():
                raise CheckpointMismatchError(
                    f"checkpoint {checkpointer.directory / str(progress.step)} was written for "
                    f"another GRPO run (checkpoint, now): {progress.data} vs {self.description()}")
            start = progress.step
            log.info("grpo: resuming after step %d", start)
        logger = MetricsLogger(run_dir, resume_step=start)
        bar = tqdm(total=c.steps, initial=start, unit="step", dynamic_ncols=True,
                   disable=not (context.progress and is_writer()))
        key = jax.random.key(context.config.seed)
        try:
            for step in range(start + 1, c.steps + 1):
                metrics = self.one_step(step, trainable, frozen, reference, opt_state, step_fn,
                                        logprobs, schedule)
                trainable, opt_state = metrics.pop("_trainable"), metrics.pop("_opt_state")
                logger.log(step, metrics, seconds=sum(metrics[f"time/{t}"] for t in TIMES))
                if checkpointer is not None:
                    progress = TrainProgress.from_key(step, DataPosition(0, step), key,
                                                      self.description())
                    checkpointer.save(trainable, opt_state, progress, force=step == c.steps)
                bar.update(1)
                bar.set_postfix(reward=f"{metrics['reward/mean']:.3f}",
                                loss=f"{metrics['loss']:.4f}")
            if checkpointer is not None:
                checkpointer.wait()
        finally:
            bar.close()
            logger.close()
            if checkpointer is not None:
                checkpointer.close()
        return trainable

    def one_step(self, step, trainable, frozen, reference, opt_state, step_fn, logprobs, schedule):
        c = self.config
        times: dict[str, float] = {}
        rollout = self.rollout(step, trainable, times)
        advantages, zero_variance = group_advantages(rollout.rewards, scale=c.scale_rewards)
        batches = self.batches(rollout, advantages)
        began = time.perf_counter()
        for arrays in batches:
            width = arrays["predict_index"].shape[-1]
            if c.updates_per_rollout > 1:  # later updates see a policy that has moved
                arrays["old_logps"] = self._logprobs(logprobs, trainable, frozen, arrays)
            if c.beta:
                arrays["ref_logps"] = self._logprobs(logprobs, reference, frozen, arrays)
            del width
        times["logprobs"] = time.perf_counter() - began
        began = time.perf_counter()
        device_metrics = []
        for u, arrays in enumerate(batches):
            update = (step - 1) * c.updates_per_rollout + u
            trainable, opt_state, metrics = step_fn(trainable, frozen, opt_state,
                                                    self._device(arrays), float(schedule(update)))
            device_metrics.append({k: float(v) for k, v in jax.device_get(metrics).items()})
        times["update"] = time.perf_counter() - began
        lengths = [len(s.token_ids) for group in rollout.completions for s in group]
        truncated = [s.finish_reason == "length" for group in rollout.completions for s in group]
        record = {k: float(np.mean([m[k] for m in device_metrics])) for k in device_metrics[0]}
        record |= {
            "reward/mean": float(rollout.rewards.mean()),
            "reward/correct": float(rollout.correct.mean()),
            "reward/executes": float(rollout.executed.mean()),
            "groups/zero_variance": float(zero_variance.mean()),
            "completion/length": float(np.mean(lengths)),
            "completion/truncated": float(np.mean(truncated)),
            "learning_rate": float(schedule((step - 1) * c.updates_per_rollout)),
            **{f"time/{t}": times[t] for t in TIMES},
            "_trainable": trainable, "_opt_state": opt_state,
        }
        return record


class GrpoStage:
    """GRPO from a model-base member; the trained policy joins the base as `grpo`."""

    name = "grpo"

    def run(self, context) -> GrpoResult:
        base = context.model_base
        grpo = GrpoRun(context)
        entry = base.get(RUN)
        if entry is None:
            trainable = grpo.train()
            records = _records(context.workdir.run_dir(RUN))
            info = {"init_from": grpo.start_member, "steps": context.config.grpo.steps,
                    "config": context.config.grpo.to_dict(), "final_metrics": records[-1]}
            entry = register(context, RUN, "grpo", trainable, info)
        else:
            trainable = base.load(RUN)
        records = _records(context.workdir.run_dir(RUN))
        rewards = [r["reward/mean"] for r in records]
        times = {t: sum(r[f"time/{t}"] for r in records) for t in TIMES}
        return GrpoResult(model=RUN, init_from=entry.info.get("init_from", grpo.start_member),
                          steps=len(records), reward_first=rewards[0] if rewards else None,
                          reward_last=rewards[-1] if rewards else None,
                          zero_variance_share=float(np.mean([r["groups/zero_variance"]
                                                             for r in records])) if records else None,
                          time_split=times, validation_ex=entry.validation_ex,
                          eval=evaluate_on_eval_set(context, RUN, trainable))


def _records(run_dir) -> list[dict]:
    from spft_jax.pipeline.workdir import read_jsonl

    path = run_dir / "metrics.jsonl"
    return read_jsonl(path, skip_bad_lines=True) if path.exists() else []
