"""Losses as pure functions returning (loss, metrics).

SFT is token-weighted masked cross-entropy. The pairwise losses compare a chosen answer y (the
gold SQL) with a rejected one y' (the opponent's SQL), through the implicit rewards

    r(y) = lam * (log p_theta(y|x) - log p_ref(y|x)),

with l(t) = log(1 + exp(-t)) and R = 1 when the opponent's SQL executes to a different result
than the gold (the opponent was wrong), 0 when it was right; the paper's exact equation was not
recovered, so each plausible reading is its own objective:

- spin:                 l(r(y) - r(y'))                       every opponent answer is negative
- error_driven:         l(r(y) - R * r(y'))                   SPFT-SQL: only wrong answers pushed down
- exspin:               mean over pairs with R = 1 of l(r(y) - r(y'))   (R = 0 pairs drop out)
- error_driven_positive: R = 1 as spin; R = 0 treats y' as a second positive:
                        (l(r(y)) + l(r(y'))) / 2          (the paper's third plausible reading)
- dpo:                  l(r(y) - r(y')) with a frozen reference and given preference pairs; the
                        same formula as spin, kept under its own name for reporting.
Log-probs are sums over the completion tokens only. Metrics use TRL's names.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

PAIRWISE_LOSSES = ("spin", "error_driven", "exspin", "error_driven_positive", "dpo")


def logistic_loss(t: jax.Array) -> jax.Array:
    """l(t) = log(1 + exp(-t)), computed stably."""
    return jax.nn.softplus(-t)


def sft_loss(token_logprobs: jax.Array, mask: jax.Array) -> tuple[jax.Array, dict]:
    """Mean negative log-likelihood per completion token (tokens, not sequences, weigh equally)."""
    mask = mask.astype(jnp.float32)
    tokens = jnp.maximum(mask.sum(), 1.0)
    nll = -(token_logprobs * mask).sum() / tokens
    return nll, {"loss": nll, "tokens": mask.sum()}


def pairwise_loss(
    kind: str,
    policy_chosen: jax.Array,
    policy_rejected: jax.Array,
    reference_chosen: jax.Array,
    reference_rejected: jax.Array,
    opponent_wrong: jax.Array,
    lam: float,
) -> tuple[jax.Array, dict]:
    """The pairwise loss `kind` (one of PAIRWISE_LOSSES) over a batch of pairs.

    All inputs are [pairs]: summed completion log-probs under the policy and the reference
    (the opponent), and R (1.0 when the opponent's SQL was wrong). Returns (loss, metrics).
    """
    if kind not in PAIRWISE_LOSSES:
        raise ValueError(f"unknown pairwise loss {kind!r}; expected one of {PAIRWISE_LOSSES}")
    r = opponent_wrong.astype(jnp.float32)
    chosen_reward = lam * (policy_chosen - reference_chosen)
    rejected_reward = lam * (policy_rejected - reference_rejected)
    if kind in ("spin", "dpo"):
        per_pair = logistic_loss(chosen_reward - rejected_reward)
        loss = per_pair.mean()
    elif kind == "error_driven":
        per_pair = logistic_loss(chosen_reward - r * rejected_reward)
        loss = per_pair.mean()
    elif kind == "exspin":
        per_pair = r * logistic_loss(chosen_reward - rejected_reward)
        loss = per_pair.sum() / jnp.maximum(r.sum(), 1.0)
    else:  # error_driven_positive
        negative = logistic_loss(chosen_reward - rejected_reward)
        positive = 0.5 * (logistic_loss(chosen_reward) + logistic_loss(rejected_reward))
        per_pair = r * negative + (1.0 - r) * positive
        loss = per_pair.mean()
    metrics = {
        "loss": loss,
        "rewards/chosen": chosen_reward.mean(),
        "rewards/rejected": rejected_reward.mean(),
        "rewards/accuracies": (chosen_reward > rejected_reward).astype(jnp.float32).mean(),
        "rewards/margins": (chosen_reward - rejected_reward).mean(),
        "logps/chosen": policy_chosen.mean(),
        "logps/rejected": policy_rejected.mean(),
        "pairs/opponent_wrong": r.mean(),
    }
    return loss, metrics
