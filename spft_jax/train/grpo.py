"""GRPO's pieces on the device side: group-normalised advantages and the clipped token-level loss.

For a question x, G completions y_1..y_G are sampled from the policy that was current when the
rollout started (pi_old) and rewarded r_1..r_G. Each completion's advantage is its reward against
its group's:

    A_i = (r_i - mean(r)) / (std(r) + eps)      (scale_rewards; Dr.GRPO: r_i - mean(r))

so a group whose rewards are all equal has A = 0 and contributes no gradient. Every completion
token t of y_i gets the clipped policy-gradient term of PPO, with the ratio against pi_old,

    rho = exp(log pi(y_t) - log pi_old(y_t))
    l_t = -min(rho * A_i, clip(rho, 1 - eps, 1 + eps) * A_i) + beta * KL_t,

and, with beta > 0, the k3 estimator of the KL divergence to the reference (the stage's starting
model), KL_t = exp(ref_t - logp_t) - (ref_t - logp_t) - 1 (>= 0, unbiased for KL(pi || ref)).
Token terms are averaged per completion and then over completions ("sequence", GRPO), or summed
and divided by a constant, completions x the longest completion allowed ("constant", Dr.GRPO,
which does not favour short wrong answers or long right ones).

Batch fields (besides the layout's, see train/layout.py): advantages [N], old_logps [N, K] and
ref_logps [N, K], aligned with the layout's predict positions (K completion tokens per row). With
`on_policy` the rollout is trained on once, right after it was sampled, so pi_old is the current
policy itself: old_logps are then stop_gradient(log pi), the ratio is exactly 1 and the gradient
is the plain policy gradient.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

NORMALIZATIONS = ("sequence", "constant")


def group_advantages(rewards: np.ndarray, scale: bool = True, eps: float = 1e-4
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(advantages [Q, G], zero_variance [Q]) for rewards [Q, G]: each group against its own
    mean (and standard deviation when `scale`); a group of equal rewards gets zeros."""
    rewards = np.asarray(rewards, np.float64)
    centred = rewards - rewards.mean(axis=1, keepdims=True)
    spread = rewards.std(axis=1, keepdims=True)
    zero_variance = spread[:, 0] < 1e-12
    advantages = centred / np.where(zero_variance[:, None], 1.0, spread + eps) if scale else centred
    advantages[zero_variance] = 0.0
    return advantages.astype(np.float32), zero_variance


def k3_kl(logp: jax.Array, ref: jax.Array) -> jax.Array:
    """The k3 estimate of KL(pi || ref) per token: exp(d) - d - 1 with d = ref - logp."""
    d = ref - logp
    return jnp.exp(d) - d - 1.0


def grpo_loss(token_logprobs: jax.Array, mask: jax.Array, batch, options) -> tuple[jax.Array, dict]:
    """The GRPO objective over one micro-batch (see the module docstring). `options`: clip_eps,
    beta, normalization ("sequence" | "constant"), max_completion_tokens (the constant's
    length), on_policy (bool)."""
    mask = mask.astype(jnp.float32)
    logp = token_logprobs
    old = jax.lax.stop_gradient(logp) if options["on_policy"] else batch["old_logps"]
    advantages = batch["advantages"].astype(jnp.float32)[:, None]
    ratio = jnp.exp(logp - old)
    eps = options["clip_eps"]
    clipped_ratio = jnp.clip(ratio, 1.0 - eps, 1.0 + eps)
    objective = jnp.minimum(ratio * advantages, clipped_ratio * advantages)
    per_token = -objective
    kl = jnp.zeros_like(logp)
    if options["beta"]:
        kl = k3_kl(logp, batch["ref_logps"])
        per_token = per_token + options["beta"] * kl
    tokens = jnp.maximum(mask.sum(), 1.0)
    lengths = mask.sum(axis=1)
    if options["normalization"] == "sequence":
        loss = ((per_token * mask).sum(axis=1) / jnp.maximum(lengths, 1.0)).mean()
    else:
        loss = (per_token * mask).sum() / (mask.shape[0] * options["max_completion_tokens"])
    # Tokens where the clipped branch is the smaller one, i.e. where clipping removed the
    # gradient (TRL's clip_ratio).
    clipped = ((ratio < 1.0 - eps) & (advantages < 0)) | ((ratio > 1.0 + eps) & (advantages > 0))
    metrics = {
        "loss": loss,
        "kl": (kl * mask).sum() / tokens,
        "clip_fraction": (clipped * mask).sum() / tokens,
        "ratio/mean": (ratio * mask).sum() / tokens,
        # The sampled tokens' negative log-likelihood: a one-sample estimate of the policy's
        # entropy on its own completions.
        "entropy": -(logp * mask).sum() / tokens,
        "tokens": mask.sum(),
    }
    return loss, metrics


def rollout_logprobs_fn(graphdef, chunk: int = 128):
    """A jitted (trainable, frozen, micro_batch) -> per-token log-probs [N, K] of a rollout's
    completions under that model, no gradient: pi_old before a rollout's later updates, and
    the reference model's for the KL penalty. The same layout code as the loss, so the
    numbers line up token for token."""
    from flax import nnx

    from spft_jax.train.logprobs import batch_logprobs

    def run(trainable, frozen, batch):
        per_token, _ = batch_logprobs(nnx.merge(graphdef, trainable, frozen), batch, chunk)
        return per_token

    return jax.jit(run)
