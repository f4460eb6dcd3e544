"""Optimizer and schedule construction."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from spft_jax.errors import ConfigError
from spft_jax.train.optimizer import OptimizerConfig, decay_mask, learning_rate_schedule, make_optimizer


def test_warmup_then_cosine():
    schedule = learning_rate_schedule(OptimizerConfig(learning_rate=1.0, warmup_steps=10, total_steps=110))
    assert float(schedule(0)) == 0.0 and float(schedule(5)) == pytest.approx(0.5)
    assert float(schedule(10)) == pytest.approx(1.0)
    assert float(schedule(60)) == pytest.approx(0.5, abs=1e-6)  # half-way down the cosine
    assert float(schedule(110)) == pytest.approx(0.0, abs=1e-6)


def test_linear_and_constant():
    linear = learning_rate_schedule(OptimizerConfig(learning_rate=2.0, schedule="linear", total_steps=4))
    assert [float(linear(i)) for i in range(5)] == pytest.approx([2.0, 1.5, 1.0, 0.5, 0.0])
    constant = learning_rate_schedule(OptimizerConfig(learning_rate=3.0, schedule="constant", warmup_steps=2, total_steps=5))
    assert float(constant(1)) == pytest.approx(1.5) and float(constant(4)) == 3.0


def test_decay_mask_skips_vectors():
    params = {"kernel": jnp.ones((2, 3)), "norm": jnp.ones(3), "bias": jnp.ones(3)}
    assert decay_mask(params) == {"kernel": True, "norm": False, "bias": False}


@pytest.mark.parametrize("name", ["adamw", "rmsprop"])
def test_weight_decay_touches_only_matrices(name):
    params = {"kernel": jnp.ones((2, 2)), "norm": jnp.ones(2)}
    zero_grads = jax.tree.map(jnp.zeros_like, params)
    opt = make_optimizer(OptimizerConfig(name=name, learning_rate=0.1, schedule="constant",
                                         weight_decay=0.5, clip_grad_norm=None))
    updates, _ = opt.update(zero_grads, opt.init(params), params)
    new = optax.apply_updates(params, updates)
    assert float(new["kernel"][0, 0]) == pytest.approx(1 - 0.1 * 0.5)  # decoupled decay
    assert float(new["norm"][0]) == 1.0


def test_clipping_bounds_the_update():
    params = {"w": jnp.zeros(4)}
    opt = make_optimizer(OptimizerConfig(name="rmsprop", learning_rate=1.0, schedule="constant", clip_grad_norm=1e-3))
    grads = {"w": jnp.full(4, 100.0)}
    state = opt.init(params)
    clipped, _ = optax.clip_by_global_norm(1e-3).update(grads, optax.clip_by_global_norm(1e-3).init(params))
    assert float(optax.tree.norm(clipped)) == pytest.approx(1e-3, rel=1e-5)
    updates, _ = opt.update(grads, state, params)
    assert np.all(np.isfinite(np.asarray(updates["w"])))


@pytest.mark.parametrize(
    "changes, field",
    [({"name": "sgd"}, "name"), ({"schedule": "step"}, "schedule"), ({"learning_rate": 0}, "learning_rate"),
     ({"warmup_steps": 5, "total_steps": 3}, "warmup_steps"), ({"clip_grad_norm": 0}, "clip_grad_norm")],
)
def test_bad_fields_are_named(changes, field):
    with pytest.raises(ConfigError, match=f"'{field}'"):
        OptimizerConfig(**changes)
