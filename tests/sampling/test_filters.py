"""Token choice on hand-made logits: what greedy, top-k and top-p may and may not pick."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from spft_jax.sampling.filters import TokenChoice, choose_tokens
from spft_jax.sampling.params import SamplingParams

# Probabilities 0.5, 0.25, 0.15, 0.07, 0.03 over tokens 3, 0, 4, 1, 2.
PROBS = np.array([0.25, 0.07, 0.03, 0.5, 0.15])
LOGITS = jnp.asarray(np.log(PROBS), jnp.float32)
DRAWS = 2000


def draw(choice, temperature=1.0, top_p=1.0, logits=LOGITS):
    keys = jax.random.split(jax.random.PRNGKey(0), DRAWS)
    batch = jnp.broadcast_to(logits, (DRAWS, logits.shape[0]))
    tokens, logprobs = jax.jit(choose_tokens, static_argnums=2)(
        keys, batch, choice, jnp.float32(temperature), jnp.float32(top_p))
    return np.asarray(tokens), np.asarray(logprobs)


def test_greedy_takes_the_argmax():
    tokens, logprobs = draw(TokenChoice(greedy=True))
    assert (tokens == 3).all()
    np.testing.assert_allclose(logprobs, np.log(0.5), rtol=1e-5)


def test_plain_sampling_follows_the_distribution():
    tokens, logprobs = draw(TokenChoice(greedy=False))
    frequencies = np.bincount(tokens, minlength=5) / DRAWS
    np.testing.assert_allclose(frequencies, PROBS, atol=0.035)
    np.testing.assert_allclose(logprobs, np.log(PROBS[tokens]), rtol=1e-5)


@pytest.mark.parametrize("top_k, support", [(1, {3}), (2, {3, 0}), (3, {3, 0, 4})])
def test_top_k_keeps_the_k_most_likely(top_k, support):
    tokens, _ = draw(TokenChoice(greedy=False, top_k=top_k), temperature=3.0)
    assert set(tokens.tolist()) == support


@pytest.mark.parametrize("top_p, support", [
    (1e-6, {3}), (0.5, {3}), (0.6, {3, 0}), (0.75, {3, 0}), (0.8, {3, 0, 4}), (0.95, {3, 0, 4, 1}),
])
def test_top_p_keeps_the_smallest_set_reaching_p(top_p, support):
    tokens, logprobs = draw(TokenChoice(greedy=False, top_p=True), top_p=top_p)
    assert set(tokens.tolist()) == support
    # Log-probs are the model's, not the renormalised nucleus distribution's.
    np.testing.assert_allclose(logprobs, np.log(PROBS[tokens]), rtol=1e-5)


def test_top_p_applies_after_temperature_and_top_k():
    # Temperature 0.5 squares and renormalises: 0.5^2 : 0.25^2 : 0.15^2 = 0.74 : 0.18 : 0.07
    # among the top 3, so top_p=0.8 keeps two tokens (at temperature 1 it would keep three).
    tokens, _ = draw(TokenChoice(greedy=False, top_k=3, top_p=True), temperature=0.5, top_p=0.8)
    assert set(tokens.tolist()) == {3, 0}


def test_a_higher_temperature_flattens_the_distribution():
    cold, _ = draw(TokenChoice(greedy=False), temperature=0.3)
    hot, _ = draw(TokenChoice(greedy=False), temperature=3.0)
    assert (cold == 3).mean() > 0.85 and (hot == 3).mean() < 0.4


def test_choice_from_params():
    assert TokenChoice.from_params(SamplingParams(), 100) == TokenChoice(greedy=True)
    assert TokenChoice.from_params(SamplingParams(temperature=1, top_k=5, top_p=0.9), 100) == \
        TokenChoice(greedy=False, top_k=5, top_p=True)
    # top_k at or above the vocabulary, or 0, is no filter at all.
    assert TokenChoice.from_params(SamplingParams(temperature=1, top_k=100), 100).top_k is None
    assert TokenChoice.from_params(SamplingParams(temperature=1, top_k=0), 100).top_k is None
