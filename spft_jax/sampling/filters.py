"""Choosing the next token from logits: greedy, or temperature -> top-k -> top-p sampling.

Pure functions of arrays, traced inside the sampler's jitted steps. Which filters exist is static
(`TokenChoice`, part of the compile key); the temperature and the top-p threshold are traced
values, so changing them does not recompile.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class TokenChoice:
    """The static shape of the token choice: greedy, or sampling with optional top-k / top-p."""

    greedy: bool
    top_k: int | None = None  # None: no top-k filter
    top_p: bool = False  # whether a (traced) top-p threshold applies

    @classmethod
    def from_params(cls, params, vocab_size: int) -> "TokenChoice":
        if params.greedy:
            return cls(greedy=True)
        top_k = params.top_k if params.top_k and params.top_k < vocab_size else None
        return cls(greedy=False, top_k=top_k, top_p=params.top_p < 1.0)


def choose_tokens(keys: jax.Array, logits: jax.Array, choice: TokenChoice,
                  temperature: jax.Array, top_p: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Picks one token per row of `logits` [B, V] (float32); row b draws with its own key
    keys[b], so a row's sample does not depend on the other rows of the batch.

    Returns (tokens [B] int32, logprobs [B] float32), where the log-probability is that of the
    chosen token under the model's own distribution: log_softmax of the raw logits, temperature 1,
    no top-k/top-p. That is the quantity self-play and preference losses need, whatever
    distribution the token was drawn from.
    """
    model_logprobs = jax.nn.log_softmax(logits, axis=-1)
    if choice.greedy:
        tokens = jnp.argmax(logits, axis=-1)
    else:
        tokens = _sample(keys, logits / temperature, choice, top_p)
    tokens = tokens.astype(jnp.int32)
    chosen = jnp.take_along_axis(model_logprobs, tokens[:, None], axis=-1)[:, 0]
    return tokens, chosen


def _draw(keys, logits):
    return jax.vmap(lambda key, row: jax.random.categorical(key, row))(keys, logits)


def _sample(keys, logits, choice: TokenChoice, top_p):
    if choice.top_k is None and not choice.top_p:
        return _draw(keys, logits)
    if choice.top_k is not None:
        values, indices = jax.lax.top_k(logits, choice.top_k)  # sorted, most likely first
    else:
        indices = jnp.argsort(logits, axis=-1, descending=True)
        values = jnp.take_along_axis(logits, indices, axis=-1)
    if choice.top_p:
        probs = jax.nn.softmax(values, axis=-1)
        mass_before = jnp.cumsum(probs, axis=-1) - probs
        # A token stays while the more likely ones have not yet reached top_p; the most likely
        # token always stays, so a tiny top_p is greedy.
        keep = mass_before < top_p
        keep = keep.at[:, 0].set(True)
        values = jnp.where(keep, values, -jnp.inf)
    picked = _draw(keys, values)
    return jnp.take_along_axis(indices, picked[:, None], axis=-1)[:, 0]
