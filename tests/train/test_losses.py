"""Each loss against values computed by hand, including R = 0 and R = 1 pairs (through
`pairwise_loss`, which calls the objectives registered in spft_jax/train/objectives.py)."""

import math

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from spft_jax.models.config import ModelConfig
from spft_jax.models.decoder import Decoder
from spft_jax.train.logprobs import completion_logprobs, token_logprobs
from spft_jax.train.losses import pairwise_loss, sft_loss


def l(t):  # log(1 + e^-t), by hand
    return math.log(1 + math.exp(-t))


# Two pairs: the first opponent answer was wrong (R = 1), the second right (R = 0).
PC = jnp.array([-10.0, -4.0])  # policy log p(y|x)
PR = jnp.array([-12.0, -5.0])  # policy log p(y'|x)
RC = jnp.array([-11.0, -4.5])  # reference log p(y|x)
RR = jnp.array([-11.0, -6.0])  # reference log p(y'|x)
R = jnp.array([1.0, 0.0])
LAM = 0.5
# Implicit rewards: chosen = lam*(PC-RC) = [0.5, 0.25]; rejected = lam*(PR-RR) = [-0.5, 0.5]
CHOSEN = [0.5, 0.25]
REJECTED = [-0.5, 0.5]


def loss(kind, r=R):
    value, metrics = pairwise_loss(kind, PC, PR, RC, RR, r, LAM)
    return float(value), metrics


def test_spin_by_hand():
    expected = (l(0.5 - -0.5) + l(0.25 - 0.5)) / 2
    assert loss("spin")[0] == pytest.approx(expected, rel=1e-6)


def test_error_driven_by_hand():
    # R = 1: full margin; R = 0: the rejected term is dropped, only the chosen reward counts.
    expected = (l(0.5 - 1 * -0.5) + l(0.25 - 0 * 0.5)) / 2
    assert loss("error_driven")[0] == pytest.approx(expected, rel=1e-6)


def test_exspin_drops_pairs_with_a_correct_opponent():
    assert loss("exspin")[0] == pytest.approx(l(1.0), rel=1e-6)  # only the R = 1 pair, mean over 1
    assert loss("exspin", r=jnp.zeros(2))[0] == 0.0  # no wrong answers: nothing to learn from


def test_error_driven_positive_by_hand():
    expected = (l(1.0) + 0.5 * (l(0.25) + l(0.5))) / 2
    assert loss("error_driven_positive")[0] == pytest.approx(expected, rel=1e-6)


def test_dpo_is_the_spin_formula():
    assert loss("dpo")[0] == pytest.approx(loss("spin")[0], rel=1e-7)


def test_spin_equals_error_driven_when_every_opponent_is_wrong():
    ones = jnp.ones(2)
    assert loss("spin", ones)[0] == pytest.approx(loss("error_driven", ones)[0], rel=1e-7)
    assert loss("spin", ones)[0] == pytest.approx(loss("exspin", ones)[0], rel=1e-7)


def test_metrics_use_trl_names_and_values():
    _, m = loss("spin")
    assert float(m["rewards/chosen"]) == pytest.approx(np.mean(CHOSEN))
    assert float(m["rewards/rejected"]) == pytest.approx(np.mean(REJECTED))
    assert float(m["rewards/accuracies"]) == pytest.approx(0.5)  # pair 1 yes, pair 2 no
    assert float(m["rewards/margins"]) == pytest.approx(np.mean([1.0, -0.25]))
    assert float(m["logps/chosen"]) == pytest.approx(-7.0)
    assert float(m["logps/rejected"]) == pytest.approx(-8.5)


def test_unknown_loss_name():
    with pytest.raises(ValueError, match="unknown objective 'ppo'"):
        loss("ppo")
    with pytest.raises(ValueError, match="'sft' is not pairwise"):
        loss("sft")


def test_sft_is_token_weighted():
    lp = jnp.array([[-1.0, -2.0, -3.0], [-4.0, 0.0, 0.0]])
    mask = jnp.array([[1, 1, 1], [1, 0, 0]])
    value, metrics = sft_loss(lp, mask)
    assert float(value) == pytest.approx((1 + 2 + 3 + 4) / 4)  # per token, not per sequence
    assert float(metrics["tokens"]) == 4


def test_chunked_token_logprobs_equal_full_log_softmax():
    config = ModelConfig(architecture="llama", vocab_size=50, hidden_size=16, intermediate_size=32,
                         num_layers=1, num_heads=2, num_kv_heads=1, head_dim=8)
    model = Decoder(config, nnx.Rngs(0))
    tokens = jnp.asarray(np.random.default_rng(1).integers(0, 50, (2, 11)), jnp.int32)
    valid = jnp.ones_like(tokens, bool)
    logits, _ = model(tokens)
    full = np.take_along_axis(np.asarray(jax_log_softmax(logits[:, :-1])), np.asarray(tokens[:, 1:, None]), -1)[..., 0]
    hidden, _ = model.hidden_states(tokens, jnp.broadcast_to(jnp.arange(11), (2, 11)), valid)
    for chunk in (1, 3, 10, 64):  # 10 positions: uneven chunks are padded and cut back
        np.testing.assert_allclose(token_logprobs(hidden[:, :-1], tokens[:, 1:], model.logits_from_hidden, chunk), full, atol=1e-5)
    completion = jnp.arange(11)[None, :] >= jnp.array([[6], [3]])  # prompt lengths 6 and 3
    per_token, per_sequence = completion_logprobs(model, tokens, valid, completion, chunk=4)
    expected = np.where(np.asarray(completion[:, 1:]), full, 0.0)
    np.testing.assert_allclose(per_token, expected, atol=1e-5)
    np.testing.assert_allclose(per_sequence, expected.sum(1), atol=1e-4)


def jax_log_softmax(x):
    import jax
    return jax.nn.log_softmax(x, axis=-1)
