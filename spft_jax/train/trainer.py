"""The training loop: batches in, optimizer steps, metrics, evaluation hook, checkpoints, resume.

    trainer = Trainer(model, batcher, LossSpec("error_driven", lam=0.1), OptimizerConfig(...),
                      TrainerConfig(epochs=2, checkpoint_every=100, eval_every=500), workdir=...)
    result = trainer.run()          # result.model() is the trained model

Rerunning the same training in the same workdir after it was stopped (a kill, a preemption)
continues from the last checkpoint and ends with the same parameters as a run that was never
stopped: the checkpoint holds the parameters, the optimizer state, the step (the learning rate of
step s is schedule(s - 1), evaluated here and passed to the compiled step), the data position (the per-epoch order is a function of the
batcher's seed) and the run's RNG key. Steps after that checkpoint are run again and their
JSONL/TensorBoard records replaced. Frozen parameters (the base weights under LoRA) are not
checkpointed: they are the model the caller builds, from its own files, on every run.
"""

from __future__ import annotations

import dataclasses
import pathlib
import time
from collections.abc import Callable, Mapping

import jax
import numpy as np
from flax import nnx
from jax.sharding import Mesh
from tqdm.auto import tqdm

from spft_jax.errors import ConfigError
from spft_jax.parallel import coordination, distributed
from spft_jax.parallel.rules import data_parallel_size
from spft_jax.train.batches import Batcher, DataPosition
from spft_jax.train.checkpoint import CheckpointMismatchError, TrainCheckpointer, TrainProgress
from spft_jax.train.metrics_log import MetricsLogger
from spft_jax.train.optimizer import OptimizerConfig, UpdateRule, learning_rate_schedule
from spft_jax.train.step import LossSpec, TrainStep, init_optimizer_state, split_trainable

# eval_fn(model, step, key) -> metrics (logged as "eval/<name>") or None. The model shares its
# arrays with the training state: use it within the call, do not keep it.
EvalFn = Callable[[nnx.Module, int, jax.Array], Mapping[str, float] | None]

CHECKPOINT_DIR = "checkpoints"


@dataclasses.dataclass(frozen=True)
class TrainerConfig:
    epochs: int = 1  # passes over the data (the last partial batch of each is dropped)
    max_steps: int | None = None  # when set, the run's length in optimizer steps instead
    eval_every: int = 0  # call the eval hook every this many steps (0: never)
    checkpoint_every: int = 50  # save every this many steps, and at the end (0: no checkpoints)
    keep_checkpoints: int = 2  # the most recent ones kept on disk
    async_checkpoints: bool = True  # write checkpoint files in the background
    seed: int = 0  # the run's RNG key (handed to the eval hook)
    progress_bar: bool = True
    tensorboard: bool = True  # event files beside metrics.jsonl

    def __post_init__(self):
        for field in ("epochs", "eval_every", "checkpoint_every"):
            if getattr(self, field) < 0:
                raise ConfigError(f"trainer config field {field!r}: must be >= 0, got {getattr(self, field)}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"trainer config field 'max_steps': must be positive, got {self.max_steps}")
        if self.keep_checkpoints < 1:
            raise ConfigError("trainer config field 'keep_checkpoints': must be positive, "
                              f"got {self.keep_checkpoints}")


@dataclasses.dataclass
class TrainResult:
    graphdef: object
    trainable: nnx.State
    frozen: nnx.State
    opt_state: object
    step: int  # optimizer steps done
    position: DataPosition  # the next batch
    key: jax.Array  # the run's RNG key after the last step
    metrics: dict[str, float]  # the last step's metrics ({} when nothing ran)
    resumed_from: int  # the checkpoint step this run started from (0: from scratch)

    def model(self) -> nnx.Module:
        return nnx.merge(self.graphdef, self.trainable, self.frozen)


class Trainer:
    """Trains `model` (already placed on `mesh` when given) on `batcher`'s batches."""

    def __init__(self, model: nnx.Module, batcher: Batcher, loss: LossSpec,
                 optimizer: OptimizerConfig, config: TrainerConfig = TrainerConfig(),
                 workdir: str | pathlib.Path | None = None, mesh: Mesh | None = None,
                 lora: bool = False, eval_fn: EvalFn | None = None):
        if loss.pairwise != batcher.pairwise:
            raise ConfigError(f"loss {loss.kind!r} needs {'pair' if loss.pairwise else 'SFT'} examples, "
                              f"but the batcher holds {'pairs' if batcher.pairwise else 'SFT examples'}")
        if config.eval_every and eval_fn is None:
            raise ConfigError("trainer config field 'eval_every': set, but no eval hook was given")
        self.batcher = batcher
        self.config = config
        self.workdir = None if workdir is None else pathlib.Path(workdir)
        self.mesh = mesh
        self.eval_fn = eval_fn
        self.total_steps = config.max_steps or config.epochs * batcher.batches_per_epoch
        if self.total_steps < 1:
            raise ConfigError("trainer: nothing to train (epochs=0 and no max_steps)")
        batch_size = batcher.config.batch_size
        if mesh is not None:
            shards = data_parallel_size(mesh)
            if batch_size % shards:
                raise ConfigError(f"batch config field 'batch_size': {batch_size} is not divisible by "
                                  f"the {shards} data-parallel shards of the mesh {dict(mesh.shape)}")
            groups = batcher.config.group_multiple
            if batcher.config.share_prefix and groups % shards:
                raise ConfigError(f"batch config field 'group_multiple': {groups} is not a "
                                  f"multiple of the {shards} data-parallel shards of the mesh")
            self._rows = None if batcher.config.share_prefix else distributed.host_rows(
                mesh, batch_size)
        else:
            self._rows = None
        self.graphdef, self.trainable, self.frozen = split_trainable(model, lora=lora)
        self.rule = UpdateRule.from_config(optimizer)
        self.schedule = learning_rate_schedule(optimizer)
        self.opt_state = init_optimizer_state(self.rule, self.trainable, mesh)
        self.step_fn = TrainStep(self.graphdef, loss, self.rule, mesh)
        self.checkpointer = None
        if self.workdir is not None and config.checkpoint_every:
            self.checkpointer = TrainCheckpointer(
                self.workdir / CHECKPOINT_DIR, every=config.checkpoint_every,
                keep=config.keep_checkpoints, async_save=config.async_checkpoints)

    def data_description(self) -> dict:
        """What makes the batch sequence what it is; a resumed run must see the same."""
        bc = self.batcher.config
        return {"examples": len(self.batcher), "pairwise": self.batcher.pairwise,
                "seed": self.batcher.seed, "batch_size": bc.batch_size,
                "micro_batches": bc.micro_batches, "max_length": bc.max_length,
                "bucket_multiple": bc.bucket_multiple}

    def _restore(self):
        """(step, position, key) to start from, restoring the state when a checkpoint exists."""
        key = jax.random.key(self.config.seed)
        if self.checkpointer is None or self.checkpointer.latest_step() is None:
            return 0, DataPosition(), key
        self.trainable, self.opt_state, progress = self.checkpointer.restore(self.trainable, self.opt_state)
        wanted = self.data_description()
        if progress.data != wanted:
            differ = {k: (progress.data.get(k), v) for k, v in wanted.items() if progress.data.get(k) != v}
            raise CheckpointMismatchError(
                f"checkpoint {self.checkpointer.directory / str(progress.step)} was written for other "
                f"data settings (checkpoint, now): {differ}")
        return progress.step, progress.position, progress.key()

    def _device_batch(self, arrays: dict[str, np.ndarray]):
        if self.mesh is None:
            return arrays
        if self.batcher.config.share_prefix:  # built whole on every host (see batches.py)
            return {k: distributed.put_global(v, distributed.batch_spec(self.mesh, v.ndim))
                    for k, v in arrays.items()}
        return distributed.global_batch(arrays, self.mesh, self.batcher.config.batch_size)

    def run(self) -> TrainResult:
        start, position, key = self._restore()
        trainable, opt_state, frozen = self.trainable, self.opt_state, self.frozen
        writer = coordination.is_writer()
        logger = (MetricsLogger(self.workdir, resume_step=start, tensorboard=self.config.tensorboard)
                  if self.workdir is not None and start < self.total_steps else None)
        bar = tqdm(total=self.total_steps, initial=start, unit="step", dynamic_ncols=True,
                   disable=not (writer and self.config.progress_bar))
        metrics: dict[str, float] = {}
        try:
            for step in range(start + 1, self.total_steps + 1):
                began = time.perf_counter()
                batch = self.batcher.batch_at(position, self._rows)
                learning_rate = float(self.schedule(step - 1))
                trainable, opt_state, device_metrics = self.step_fn(
                    trainable, frozen, opt_state, self._device_batch(batch.arrays), learning_rate)
                metrics = {name: float(value) for name, value in jax.device_get(device_metrics).items()}
                seconds = time.perf_counter() - began
                key, eval_key = jax.random.split(key)
                position = self.batcher.advance(position)
                # What TRL logs beside the loss: the rate this update used, the fractional epoch.
                metrics["learning_rate"] = learning_rate
                metrics["epoch"] = step / self.batcher.batches_per_epoch
                every = self.config.eval_every
                if self.eval_fn is not None and every and step % every == 0:
                    evaluated = self.eval_fn(nnx.merge(self.graphdef, trainable, frozen), step, eval_key)
                    metrics.update({f"eval/{k}": float(v) for k, v in (evaluated or {}).items()})
                if logger is not None:
                    logger.log(step, metrics, tokens=batch.num_tokens, seconds=seconds)
                if self.checkpointer is not None:
                    progress = TrainProgress.from_key(step, position, key, self.data_description())
                    self.checkpointer.save(trainable, opt_state, progress, force=step == self.total_steps)
                bar.update(1)
                bar.set_postfix(loss=f"{metrics['loss']:.4f}")
            if self.checkpointer is not None:
                self.checkpointer.wait()
        finally:
            bar.close()
            if logger is not None:
                logger.close()
            if self.checkpointer is not None:
                self.checkpointer.close()
        self.trainable, self.opt_state = trainable, opt_state
        return TrainResult(self.graphdef, trainable, frozen, opt_state, max(start, self.total_steps),
                           position, key, metrics, start)
