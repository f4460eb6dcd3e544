"""The training objectives, one registered `Objective` each: the single place that knows them.

Everything else asks the registry, never compares names: `LossSpec` (train/step.py) validates its
`kind` with `get`, the train step calls `get(kind).loss`, self-play (pipeline/selfplay.py) reads
which model is the reference and which pairs an objective trains on from the attributes, and the
config check (pipeline/validate.py) accepts `pairwise_names()`. A new objective is one loss
function plus one `register(Objective(...))` call, here or anywhere imported before it is used.

The pairwise objectives compare a chosen answer y (the gold SQL) with a rejected one y' (the
opponent's SQL), through the implicit rewards

    r(y) = lam * (log p_theta(y|x) - log p_ref(y|x)),

with l(t) = log(1 + exp(-t)) and R = 1 when the opponent's SQL executes to a different result
than the gold (the opponent was wrong), 0 when it was right; the paper's exact equation was not
recovered, so each plausible reading is its own objective:

- spin:                 l(r(y) - r(y'))                       every opponent answer is negative
- error_driven:         l(r(y) - R * r(y'))                   SPFT-SQL: only wrong answers pushed down
- exspin:               mean over pairs with R = 1 of l(r(y) - r(y'))   (R = 0 pairs drop out)
- error_driven_positive: R = 1 as spin; R = 0 treats y' as a second positive:
                        (l(r(y)) + l(r(y'))) / 2          (the paper's third plausible reading)
- dpo:                  l(r(y) - r(y')) with a frozen reference (the main model) and given
                        preference pairs (only those with a wrong opponent answer); the same
                        formula as spin, kept under its own name for reporting.

and `sft` is the non-pairwise objective: token-weighted masked cross-entropy.

A pairwise objective's loss takes (policy_chosen, policy_rejected, reference_chosen,
reference_rejected, opponent_wrong, lam), all arrays [pairs] of summed completion log-probs and R,
and returns (loss, metrics) with TRL's metric names (`losses.pairwise_metrics`); a non-pairwise
one's takes (token_logprobs, mask) as `losses.sft_loss`. Losses are traced inside the jitted train
step, whose compile cache is keyed by the objective's name: registering a different loss under a
name already compiled in this process does not recompile.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp

from spft_jax.train.grpo import grpo_loss
from spft_jax.train.losses import implicit_rewards, logistic_loss, pairwise_metrics, sft_loss

REFERENCES = ("opponent", "main")


@dataclasses.dataclass(frozen=True)
class Objective:
    """A training objective.

    name: how configs and `LossSpec` call it.
    loss: (policy_chosen, policy_rejected, reference_chosen, reference_rejected, opponent_wrong,
        lam) -> (loss, metrics) when pairwise, else (token_logprobs, mask) -> (loss, metrics).
    pairwise: trains on (chosen, rejected) pairs, not on single completions.
    reference: whose log-probs are the pairs' reference: "opponent" (the self-play losses) or
        "main" (the frozen model being trained from: DPO).
    only_wrong_opponent: keep only the pairs whose opponent answer was wrong (R = 1) when
        building them (DPO: a preference needs a dispreferred answer).
    needs_wrong_opponent: the loss has nothing to learn from a pair set without a wrong opponent
        answer, so such a set is not trained on (exspin: R = 0 pairs drop out of the loss).
    """

    name: str
    loss: Callable[..., tuple[jax.Array, dict]]
    pairwise: bool = True
    reference: str = "opponent"
    only_wrong_opponent: bool = False
    needs_wrong_opponent: bool = False
    # Trains on sampled rollouts (GRPO): the loss takes (token_logprobs, mask, batch, options),
    # the batch carrying per-sequence advantages and per-token old/reference log-probs.
    rollout: bool = False

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"an objective's name must be a non-empty string, got {self.name!r}")
        if self.reference not in REFERENCES:
            raise ValueError(f"objective {self.name!r}: reference must be one of {REFERENCES}, "
                             f"got {self.reference!r}")
        if self.rollout and self.pairwise:
            raise ValueError(f"objective {self.name!r}: a rollout objective is not pairwise")
        if not self.pairwise and (self.only_wrong_opponent or self.needs_wrong_opponent):
            raise ValueError(f"objective {self.name!r}: only pairwise objectives select pairs")


_REGISTRY: dict[str, Objective] = {}


def register(objective: Objective) -> Objective:
    """Add `objective` under its name (a name is registered once); returns it."""
    if objective.name in _REGISTRY:
        raise ValueError(f"objective {objective.name!r} is already registered")
    _REGISTRY[objective.name] = objective
    return objective


def unregister(name: str) -> None:
    """Remove the objective `name` (for tests registering throwaway objectives)."""
    get(name)
    del _REGISTRY[name]


def get(name: str) -> Objective:
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown objective {name!r}; expected one of {names()}") from None


def names() -> tuple[str, ...]:
    """Every registered objective's name, in registration order."""
    return tuple(_REGISTRY)


def pairwise_names() -> tuple[str, ...]:
    """The names of the pairwise objectives (the ones self-play can train with)."""
    return tuple(name for name, objective in _REGISTRY.items() if objective.pairwise)


# -- the objectives ----------------------------------------------------------------------------

def spin_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected,
              opponent_wrong, lam):
    """l(r(y) - r(y')): every opponent answer is a negative."""
    chosen, rejected = implicit_rewards(policy_chosen, policy_rejected, reference_chosen,
                                        reference_rejected, lam)
    loss = logistic_loss(chosen - rejected).mean()
    return loss, pairwise_metrics(loss, chosen, rejected, policy_chosen, policy_rejected,
                                  opponent_wrong)


def error_driven_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected,
                      opponent_wrong, lam):
    """l(r(y) - R * r(y')): only wrong opponent answers are pushed down."""
    r = opponent_wrong.astype(jnp.float32)
    chosen, rejected = implicit_rewards(policy_chosen, policy_rejected, reference_chosen,
                                        reference_rejected, lam)
    loss = logistic_loss(chosen - r * rejected).mean()
    return loss, pairwise_metrics(loss, chosen, rejected, policy_chosen, policy_rejected,
                                  opponent_wrong)


def exspin_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected,
                opponent_wrong, lam):
    """The mean of l(r(y) - r(y')) over the pairs with R = 1 (0 when there are none)."""
    r = opponent_wrong.astype(jnp.float32)
    chosen, rejected = implicit_rewards(policy_chosen, policy_rejected, reference_chosen,
                                        reference_rejected, lam)
    loss = (r * logistic_loss(chosen - rejected)).sum() / jnp.maximum(r.sum(), 1.0)
    return loss, pairwise_metrics(loss, chosen, rejected, policy_chosen, policy_rejected,
                                  opponent_wrong)


def error_driven_positive_loss(policy_chosen, policy_rejected, reference_chosen,
                               reference_rejected, opponent_wrong, lam):
    """R = 1: l(r(y) - r(y')); R = 0: y' is a second positive, (l(r(y)) + l(r(y'))) / 2."""
    r = opponent_wrong.astype(jnp.float32)
    chosen, rejected = implicit_rewards(policy_chosen, policy_rejected, reference_chosen,
                                        reference_rejected, lam)
    negative = logistic_loss(chosen - rejected)
    positive = 0.5 * (logistic_loss(chosen) + logistic_loss(rejected))
    loss = (r * negative + (1.0 - r) * positive).mean()
    return loss, pairwise_metrics(loss, chosen, rejected, policy_chosen, policy_rejected,
                                  opponent_wrong)


register(Objective("sft", sft_loss, pairwise=False))
register(Objective("spin", spin_loss))
register(Objective("error_driven", error_driven_loss))
register(Objective("exspin", exspin_loss, needs_wrong_opponent=True))
register(Objective("error_driven_positive", error_driven_positive_loss))
register(Objective("dpo", spin_loss, reference="main", only_wrong_opponent=True))

# GRPO (train/grpo.py): a clipped policy gradient on sampled completions with group-normalised
# execution rewards; the baseline the open Text-to-SQL recipes train with after SFT.
register(Objective("grpo", grpo_loss, pairwise=False, rollout=True))
