"""Per-token and per-sequence log-probabilities of given completion tokens.

The vocabulary is the largest axis in the model (SmolLM2: 49k, Qwen2.5: 152k). Rather than
materialising float32 logits for every position at once ([batch, T, vocab]), the projection to
the vocabulary is done a chunk of positions at a time inside a `lax.map`, keeping only each
position's log-sum-exp and the logit of its target token. Peak memory for the output layer is
then [batch, chunk, vocab] instead of [batch, T, vocab], in the backward pass too (each chunk's
logits are recomputed there rather than stored).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp


def token_logprobs(
    hidden: jax.Array,
    targets: jax.Array,
    logits_fn: Callable[[jax.Array], jax.Array],
    chunk: int = 128,
) -> jax.Array:
    """log p(targets[:, t] | prefix) from hidden states [B, T, H] that predict them.

    `logits_fn` maps hidden states [B, c, H] to float32 logits [B, c, V] (the model's output
    layer). Returns [B, T] float32.
    """
    batch, length, width = hidden.shape
    chunk = max(1, min(chunk, length))
    padded = -(-length // chunk) * chunk
    if padded != length:
        hidden = jnp.pad(hidden, ((0, 0), (0, padded - length), (0, 0)))
        targets = jnp.pad(targets, ((0, 0), (0, padded - length)))
    hidden_chunks = hidden.reshape(batch, padded // chunk, chunk, width).swapaxes(0, 1)
    target_chunks = targets.reshape(batch, padded // chunk, chunk).swapaxes(0, 1)

    # Rematerialised: the backward pass recomputes a chunk's logits from its hidden states
    # instead of keeping every chunk's [B, chunk, vocab] logits from the forward pass, which
    # would add up to the full [B, T, vocab] again.
    @jax.checkpoint
    def one_chunk(args):
        h, t = args
        logits = logits_fn(h).astype(jnp.float32)
        picked = jnp.take_along_axis(logits, t[..., None], axis=-1)[..., 0]
        return picked - jax.nn.logsumexp(logits, axis=-1)

    per_token = jax.lax.map(one_chunk, (hidden_chunks, target_chunks))  # [chunks, B, chunk]
    return per_token.swapaxes(0, 1).reshape(batch, padded)[:, :length]


def completion_logprobs(model, tokens, valid, completion_mask, chunk: int = 128):
    """Per-token log-probs of each sequence's own next tokens, under `model`.

    tokens, valid, completion_mask: [B, T]. completion_mask marks the tokens whose probability
    counts (the completion, not the prompt or padding). Returns (per_token [B, T-1] with zeros
    outside the mask, per_sequence [B]): position t holds log p(tokens[t+1] | tokens[:t+1]).
    """
    hidden, _ = model.hidden_states(tokens, _positions(valid), valid)
    per_token = token_logprobs(hidden[:, :-1], tokens[:, 1:], model.logits_from_hidden, chunk)
    mask = completion_mask[:, 1:] & valid[:, 1:]
    per_token = jnp.where(mask, per_token, 0.0)
    return per_token, per_token.sum(axis=1)


def _positions(valid: jax.Array) -> jax.Array:
    return jnp.maximum(jnp.cumsum(valid, axis=1) - 1, 0).astype(jnp.int32)
