"""Optimizers and learning-rate schedules from config (optax).

AdamW or RMSProp (SPIN's choice), warmup then constant / linear / cosine decay, global-norm
gradient clipping, and weight decay only on matrices (kernels and embeddings), never on norm
scales or biases, as is conventional for transformers.
"""

from __future__ import annotations

import dataclasses

import jax
import optax

from spft_jax.errors import ConfigError

OPTIMIZERS = ("adamw", "rmsprop")
SCHEDULES = ("constant", "linear", "cosine")


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    name: str = "adamw"
    learning_rate: float = 1e-4  # peak
    schedule: str = "cosine"  # after warmup
    warmup_steps: int = 0
    total_steps: int = 1000  # schedule length (decay reaches its end here)
    end_learning_rate_ratio: float = 0.0  # final lr = ratio * learning_rate (linear / cosine)
    weight_decay: float = 0.0
    b1: float = 0.9  # adamw
    b2: float = 0.999  # adamw
    eps: float = 1e-8
    rmsprop_decay: float = 0.9
    clip_grad_norm: float | None = 1.0  # None: no clipping

    def __post_init__(self):
        def need(ok: bool, field: str, message: str):
            if not ok:
                raise ConfigError(f"optimizer config field {field!r}: {message}")

        need(self.name in OPTIMIZERS, "name", f"{self.name!r} is not one of {OPTIMIZERS}")
        need(self.schedule in SCHEDULES, "schedule", f"{self.schedule!r} is not one of {SCHEDULES}")
        need(self.learning_rate > 0, "learning_rate", f"must be positive, got {self.learning_rate}")
        need(self.total_steps > 0, "total_steps", f"must be positive, got {self.total_steps}")
        need(0 <= self.warmup_steps <= self.total_steps, "warmup_steps",
             f"must be in [0, total_steps={self.total_steps}], got {self.warmup_steps}")
        need(self.weight_decay >= 0, "weight_decay", f"must be >= 0, got {self.weight_decay}")
        need(self.clip_grad_norm is None or self.clip_grad_norm > 0, "clip_grad_norm",
             f"must be positive or None, got {self.clip_grad_norm}")


def learning_rate_schedule(config: OptimizerConfig) -> optax.Schedule:
    peak = config.learning_rate
    end = peak * config.end_learning_rate_ratio
    decay_steps = max(config.total_steps - config.warmup_steps, 1)
    if config.schedule == "constant":
        after = optax.constant_schedule(peak)
    elif config.schedule == "linear":
        after = optax.linear_schedule(peak, end, decay_steps)
    else:
        after = optax.cosine_decay_schedule(peak, decay_steps, alpha=config.end_learning_rate_ratio)
    if config.warmup_steps == 0:
        return after
    warmup = optax.linear_schedule(0.0, peak, config.warmup_steps)
    return optax.join_schedules([warmup, after], [config.warmup_steps])


def decay_mask(params):
    """True for parameters weight decay applies to: matrices, not vectors (norms, biases)."""
    return jax.tree.map(lambda p: p.ndim >= 2, params)


@dataclasses.dataclass(frozen=True)
class UpdateRule:
    """The optimizer without its learning rate: clipping, moments, weight decay. Its updates are
    directions; the train step scales them by -learning_rate, which it takes as an input, so one
    compiled step serves every run with the same rule whatever its schedule (the pipeline's SFT,
    SQL-to-Text and stage-1 runs compile once)."""

    name: str = "adamw"
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    rmsprop_decay: float = 0.9
    weight_decay: float = 0.0
    clip_grad_norm: float | None = 1.0

    @classmethod
    def from_config(cls, config: OptimizerConfig) -> "UpdateRule":
        return cls(config.name, config.b1, config.b2, config.eps, config.rmsprop_decay,
                   config.weight_decay, config.clip_grad_norm)

    def transformation(self) -> optax.GradientTransformation:
        # As optax.adamw / optax.rmsprop build them, less the final learning-rate scaling (so
        # weight decay is scaled by the learning rate too, as in optax).
        parts = []
        if self.clip_grad_norm is not None:
            parts.append(optax.clip_by_global_norm(self.clip_grad_norm))
        if self.name == "adamw":
            parts.append(optax.scale_by_adam(b1=self.b1, b2=self.b2, eps=self.eps))
        else:
            parts.append(optax.scale_by_rms(decay=self.rmsprop_decay, eps=self.eps))
        if self.weight_decay:
            parts.append(optax.add_decayed_weights(self.weight_decay, mask=decay_mask))
        return optax.chain(*parts)


def make_optimizer(config: OptimizerConfig) -> optax.GradientTransformation:
    """The whole optimizer with its schedule, as one optax transformation (the train step uses
    `UpdateRule` and the schedule separately; this is the same arithmetic in one piece)."""
    return optax.chain(UpdateRule.from_config(config).transformation(),
                       optax.scale_by_learning_rate(learning_rate_schedule(config)))
