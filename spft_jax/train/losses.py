"""Loss building blocks as pure functions returning (loss, metrics).

The objectives themselves (SFT and the pairwise self-play family: spin, error_driven, exspin,
error_driven_positive, dpo), their formulas and which pairs and reference each uses, live in
`spft_jax.train.objectives`, one registered `Objective` each; this module holds what they share:

- sft_loss: token-weighted masked cross-entropy (the `sft` objective's loss);
- logistic_loss: l(t) = log(1 + exp(-t));
- implicit_rewards: r(y) = lam * (log p_theta(y|x) - log p_ref(y|x)) for chosen and rejected;
- pairwise_metrics: the metrics every pairwise objective reports, under TRL's names;
- pairwise_loss(kind, ...): a pairwise objective's loss by name (a thin wrapper over the registry).

Log-probs are sums over the completion tokens only.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def logistic_loss(t: jax.Array) -> jax.Array:
    """l(t) = log(1 + exp(-t)), computed stably."""
    return jax.nn.softplus(-t)


def sft_loss(token_logprobs: jax.Array, mask: jax.Array) -> tuple[jax.Array, dict]:
    """Mean negative log-likelihood per completion token (tokens, not sequences, weigh equally)."""
    mask = mask.astype(jnp.float32)
    tokens = jnp.maximum(mask.sum(), 1.0)
    nll = -(token_logprobs * mask).sum() / tokens
    return nll, {"loss": nll, "tokens": mask.sum()}


def implicit_rewards(policy_chosen: jax.Array, policy_rejected: jax.Array,
                     reference_chosen: jax.Array, reference_rejected: jax.Array,
                     lam: float) -> tuple[jax.Array, jax.Array]:
    """(r(y), r(y')) with r = lam * (policy log-prob - reference log-prob), per pair."""
    return lam * (policy_chosen - reference_chosen), lam * (policy_rejected - reference_rejected)


def pairwise_metrics(loss: jax.Array, chosen_reward: jax.Array, rejected_reward: jax.Array,
                     policy_chosen: jax.Array, policy_rejected: jax.Array,
                     opponent_wrong: jax.Array) -> dict:
    """The metrics of a pairwise objective over a batch of pairs, under TRL's names."""
    return {
        "loss": loss,
        "rewards/chosen": chosen_reward.mean(),
        "rewards/rejected": rejected_reward.mean(),
        "rewards/accuracies": (chosen_reward > rejected_reward).astype(jnp.float32).mean(),
        "rewards/margins": (chosen_reward - rejected_reward).mean(),
        "logps/chosen": policy_chosen.mean(),
        "logps/rejected": policy_rejected.mean(),
        "pairs/opponent_wrong": opponent_wrong.astype(jnp.float32).mean(),
    }


def pairwise_loss(
    kind: str,
    policy_chosen: jax.Array,
    policy_rejected: jax.Array,
    reference_chosen: jax.Array,
    reference_rejected: jax.Array,
    opponent_wrong: jax.Array,
    lam: float,
) -> tuple[jax.Array, dict]:
    """The loss of the registered pairwise objective `kind` over a batch of pairs.

    All inputs are [pairs]: summed completion log-probs under the policy and the reference, and
    R (1.0 when the opponent's SQL was wrong). Returns (loss, metrics).
    """
    from spft_jax.train import objectives  # objectives imports this module's building blocks

    objective = objectives.get(kind)
    if not objective.pairwise:
        raise ValueError(f"objective {kind!r} is not pairwise; expected one of "
                         f"{objectives.pairwise_names()}")
    return objective.loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected,
                          opponent_wrong, lam)
