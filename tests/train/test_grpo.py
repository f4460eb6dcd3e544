"""GRPO's loss with hand-computed values, and a tiny model whose mean reward rises under it.

The loss (spft_jax/train/grpo.py): group-normalised advantages, the clipped token-level policy
gradient with the ratio against the sampling policy, the k3 KL estimator, both length
normalisations. The learning test samples with the project's sampler, lays the G completions
of each prompt out with their shared prompt (the prefix-shared layout), and updates through
the jitted train step, on a task whose reward a 2-layer model can learn in a few dozen steps.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from spft_jax.models.config import ModelConfig
from spft_jax.models.decoder import Decoder
from spft_jax.sampling import Sampler, SamplingParams
from spft_jax.train.batches import BatchConfig, Batcher, SftExample
from spft_jax.train.grpo import group_advantages, grpo_loss, k3_kl
from spft_jax.train.optimizer import OptimizerConfig, UpdateRule
from spft_jax.train.step import LossSpec, TrainStep, init_optimizer_state, split_trainable
from tests.sampling.helpers import PieceTokenizer

OPTIONS = {"clip_eps": 0.2, "beta": 0.0, "normalization": "sequence", "max_completion_tokens": 4,
           "on_policy": False}


def test_advantages_are_normalised_within_each_group():
    rewards = np.array([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.5]])
    advantages, zero = group_advantages(rewards, eps=0.0)
    np.testing.assert_allclose(advantages[0], [1, -1, -1, 1])  # mean 0.5, std 0.5
    np.testing.assert_allclose(advantages[1], [0, 0, 0, 0])  # equal rewards: no signal
    std = math.sqrt(3 * 0.125 ** 2 + 0.375 ** 2) / 2  # population std of [0, 0, 0, .5]
    np.testing.assert_allclose(advantages[2], np.array([-0.125] * 3 + [0.375]) / std, rtol=1e-6)
    assert zero.tolist() == [False, True, False]
    centred, _ = group_advantages(rewards, scale=False)  # Dr.GRPO: no division by the std
    np.testing.assert_allclose(centred[0], [0.5, -0.5, -0.5, 0.5])


def _batch(advantages, old, mask=None):
    old = jnp.asarray(old, jnp.float32)
    return {"advantages": jnp.asarray(advantages, jnp.float32), "old_logps": old,
            "ref_logps": jnp.zeros_like(old)}


def test_equal_rewards_give_no_gradient():
    logp = jnp.log(jnp.array([[0.5, 0.25], [0.1, 0.9]]))
    mask = jnp.ones((2, 2), bool)
    advantages, _ = group_advantages(np.array([[1.0, 1.0]]))
    grad = jax.grad(lambda lp: grpo_loss(lp, mask, _batch(advantages[0], lp - 0.1), OPTIONS)[0])(logp)
    np.testing.assert_array_equal(np.asarray(grad), 0.0)


def test_the_first_on_policy_step_is_the_plain_policy_gradient():
    """Ratio 1: the loss is -mean_i(A_i) and d loss / d logp_t = -A_i / (|y_i| N)."""
    logp = jnp.array([[-0.5, -1.0, -2.0], [-0.3, -0.7, 0.0]])
    mask = jnp.array([[1, 1, 1], [1, 1, 0]], bool)
    advantages = jnp.array([0.8, -0.4])
    options = OPTIONS | {"on_policy": True}
    loss, metrics = grpo_loss(logp, mask, _batch(advantages, jnp.zeros_like(logp)), options)
    np.testing.assert_allclose(float(loss), -(0.8 - 0.4) / 2, rtol=1e-6)
    assert float(metrics["ratio/mean"]) == pytest.approx(1.0) and float(metrics["clip_fraction"]) == 0.0
    grad = jax.grad(lambda lp: grpo_loss(lp, mask, _batch(advantages, lp), options)[0])(logp)
    expected = np.array([[-0.8 / 3 / 2] * 3, [0.4 / 2 / 2, 0.4 / 2 / 2, 0.0]])
    np.testing.assert_allclose(np.asarray(grad), expected, rtol=1e-6)


def test_clipping_on_both_sides_removes_the_gradient_there():
    # Token ratios: 1.5 (above 1 + eps), 0.5 (below 1 - eps), 1.1 (inside).
    old = jnp.log(jnp.array([[0.2, 0.4, 0.5]]))
    logp = jnp.log(jnp.array([[0.3, 0.2, 0.55]]))
    mask = jnp.ones((1, 3), bool)

    def loss(lp, advantage):
        return grpo_loss(lp, mask, _batch([advantage], old), OPTIONS)

    # A > 0: the high ratio is clipped (no gradient), the low and the inside ones are not.
    value, metrics = loss(logp, 1.0)
    ratios = np.array([1.5, 0.5, 1.1])
    expected = -np.mean(np.minimum(ratios * 1.0, np.clip(ratios, 0.8, 1.2) * 1.0))
    np.testing.assert_allclose(float(value), expected, rtol=1e-5)
    grad = np.asarray(jax.grad(lambda lp: loss(lp, 1.0)[0])(logp))
    np.testing.assert_allclose(grad[0], [0.0, -0.5 / 3, -1.1 / 3], rtol=1e-5)
    assert float(metrics["clip_fraction"]) == pytest.approx(1 / 3)
    # A < 0: the low ratio is clipped, the high one is not.
    value, metrics = loss(logp, -1.0)
    expected = -np.mean(np.minimum(ratios * -1.0, np.clip(ratios, 0.8, 1.2) * -1.0))
    np.testing.assert_allclose(float(value), expected, rtol=1e-5)
    grad = np.asarray(jax.grad(lambda lp: loss(lp, -1.0)[0])(logp))
    np.testing.assert_allclose(grad[0], [1.5 / 3, 0.0, 1.1 / 3], rtol=1e-5)
    assert float(metrics["clip_fraction"]) == pytest.approx(1 / 3)


def test_the_k3_estimator_and_the_kl_penalty():
    logp, ref = jnp.array([-1.0, -2.0, -0.5]), jnp.array([-2.0, -2.0, -0.1])
    d = np.array([-1.0, 0.0, 0.4])
    np.testing.assert_allclose(np.asarray(k3_kl(logp, ref)), np.exp(d) - d - 1, rtol=1e-6)
    assert float(k3_kl(logp, logp).sum()) == 0.0
    # The penalty adds beta * mean token KL to a zero-advantage loss; its gradient pulls logp
    # towards ref: d/dlogp (e^(ref-logp) - (ref-logp) - 1) = 1 - e^(ref-logp).
    lp, mask = logp[None], jnp.ones((1, 3), bool)
    batch = {"advantages": jnp.zeros(1), "old_logps": lp, "ref_logps": ref[None]}
    options = OPTIONS | {"beta": 0.5}
    value, metrics = grpo_loss(lp, mask, batch, options)
    np.testing.assert_allclose(float(value), 0.5 * np.mean(np.exp(d) - d - 1), rtol=1e-6)
    np.testing.assert_allclose(float(metrics["kl"]), np.mean(np.exp(d) - d - 1), rtol=1e-6)
    grad = np.asarray(jax.grad(lambda x: grpo_loss(x, mask, batch | {"old_logps": x}, options)[0])(lp))
    np.testing.assert_allclose(grad[0], 0.5 * (1 - np.exp(d)) / 3, rtol=1e-5)


def test_constant_normalisation_divides_by_completions_times_the_length_limit():
    logp = jnp.zeros((2, 3))
    mask = jnp.array([[1, 1, 1], [1, 0, 0]], bool)
    batch = _batch([1.0, 1.0], logp)
    value, _ = grpo_loss(logp, mask, batch, OPTIONS | {"normalization": "constant",
                                                      "max_completion_tokens": 5})
    assert float(value) == pytest.approx(-4 / (2 * 5))  # 4 tokens of -A*1, over 2 x 5
    value, _ = grpo_loss(logp, mask, batch, OPTIONS)
    assert float(value) == pytest.approx(-1.0)  # per-sequence means, then their mean


# -- a tiny model learns a learnable reward ------------------------------------------------------
VOCAB = 32
TARGETS = set(range(4, 12))  # a completion whose first token is one of these earns reward 1
EOS = 1


def test_mean_reward_rises_under_grpo():
    config = ModelConfig(architecture="llama", vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_layers=2,
                         num_heads=4, num_kv_heads=2, head_dim=8, max_position_embeddings=64,
                         tie_word_embeddings=True)
    model = Decoder(config, nnx.Rngs(0))
    graphdef, trainable, frozen = split_trainable(model)
    prompts = [[2, 13 + q, 14 + q, 3] for q in range(4)]
    group = 8
    spec = LossSpec("grpo", options=OPTIONS | {"on_policy": True})
    rule = UpdateRule.from_config(OptimizerConfig(learning_rate=3e-2, schedule="constant",
                                                  warmup_steps=0, total_steps=40))
    opt_state = init_optimizer_state(rule, trainable)
    step_fn = TrainStep(graphdef, spec, rule)
    sampler = Sampler(nnx.merge(graphdef, trainable, frozen), PieceTokenizer(), eos_token_ids=(EOS,),
                      pad_token_id=0, max_batch_rows=32)
    batch_config = BatchConfig(batch_size=len(prompts) * group, micro_batches=1, max_length=16,
                               bucket_multiple=16, share_prefix=True, group_size=group)
    means = []
    for step in range(15):
        sampler.set_weights(nnx.merge(graphdef, trainable, frozen))
        samples = sampler.generate(prompts, SamplingParams(max_new_tokens=2, n=group,
                                                           temperature=1.0, seed=step))
        rewards = np.array([[float(s.token_ids[0] in TARGETS) for s in row] for row in samples])
        means.append(rewards.mean())
        advantages, _ = group_advantages(rewards)
        examples = [SftExample(p, s.token_ids, q) for q, (p, row) in enumerate(zip(prompts, samples))
                    for s in row]
        arrays = Batcher(examples, batch_config).arrays_for(np.arange(len(examples))[None])
        assert "prefix_tokens" in arrays and arrays["prefix_tokens"].shape[1] == len(prompts)
        arrays["advantages"] = advantages.reshape(1, -1)
        trainable, opt_state, metrics = step_fn(trainable, frozen, opt_state, arrays, 3e-2)
        assert np.isfinite(float(metrics["loss"]))
    # Before any update a quarter of the vocabulary's mass is on the targets; a few dozen
    # updates later nearly all of it.
    first, last = np.mean(means[:2]), np.mean(means[-5:])
    assert first < 0.5 and last > 0.85, means
