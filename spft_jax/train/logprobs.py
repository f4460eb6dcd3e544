"""Per-token and per-sequence log-probabilities of given completion tokens.

The vocabulary is the largest axis in the model (SmolLM2: 49k, Qwen2.5: 152k). Rather than
materialising float32 logits for every position at once ([batch, T, vocab]), the projection to
the vocabulary is done a chunk of positions at a time inside a `lax.map`, keeping only each
position's log-sum-exp and the logit of its target token. Peak memory for the output layer is
then [batch, chunk, vocab] instead of [batch, T, vocab], in the backward pass too (each chunk's
logits are recomputed there rather than stored).

Training batches (`batch_logprobs`) go further: the output head runs only at the positions
whose next token is a completion token (`predict_index`), gathered from the hidden states,
never at prompt positions, which are most of a Text-to-SQL sequence.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from spft_jax.models.decoder import valid_positions


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
    hidden, _ = model.hidden_states(tokens, valid_positions(valid), valid)
    per_token = token_logprobs(hidden[:, :-1], tokens[:, 1:], model.logits_from_hidden, chunk)
    mask = completion_mask[:, 1:] & valid[:, 1:]
    per_token = jnp.where(mask, per_token, 0.0)
    return per_token, per_token.sum(axis=1)


def batch_logprobs(model, batch, chunk: int = 128) -> tuple[jax.Array, jax.Array]:
    """(per_token [N, K], mask [N, K]): log p of each completion token of the N sequences of
    one micro-batch in either layout of `spft_jax.train.layout` (pairs: sequence 2b + side).

    Padded layout: tokens/valid [B, T] or [B, 2, T]; shared layout: prefix_tokens/prefix_valid
    [G, P], tokens/valid [N, L], group [N]. Both: predict_index/predict_mask [N, K] (or
    [B, 2, K]).
    """
    tokens, valid = batch["tokens"], batch["valid"]
    length = tokens.shape[-1]
    tokens, valid = tokens.reshape(-1, length), valid.reshape(-1, length)
    if "predict_index" not in batch:  # a hand-made padded batch: every position, masked
        completion = batch["completion_mask"].reshape(-1, length)
        per_token, _ = completion_logprobs(model, tokens, valid, completion, chunk)
        return per_token, completion[:, 1:] & valid[:, 1:]
    index, mask = batch["predict_index"], batch["predict_mask"]
    index, mask = index.reshape(tokens.shape[0], -1), mask.reshape(tokens.shape[0], -1)
    if "prefix_tokens" in batch:
        hidden = model.grouped_hidden_states(batch["prefix_tokens"], batch["prefix_valid"],
                                             tokens, valid, batch["group"])
    else:
        hidden, _ = model.hidden_states(tokens, valid_positions(valid), valid)
    picked = jnp.take_along_axis(hidden, index[..., None], axis=1)
    targets = jnp.take_along_axis(tokens, jnp.minimum(index + 1, length - 1), axis=1)
    per_token = token_logprobs(picked, targets, model.logits_from_hidden, chunk)
    return jnp.where(mask, per_token, 0.0), mask

