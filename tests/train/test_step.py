"""The jitted train step: it learns (SFT overfits, self-play widens the margin), accumulates
gradients exactly, trains only LoRA adapters when asked, and gives the same parameters sharded
over 8 simulated devices as on one."""

import json
import os
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from spft_jax.models.config import ModelConfig
from spft_jax.models.decoder import Decoder
from spft_jax.models.lora import add_lora
from spft_jax.train.logprobs import completion_logprobs
from spft_jax.train.optimizer import UpdateRule
from spft_jax.train.step import LossSpec, TrainStep, init_optimizer_state, split_trainable

CONFIG = ModelConfig(architecture="llama", vocab_size=64, hidden_size=32, intermediate_size=64,
                     num_layers=2, num_heads=4, num_kv_heads=2, head_dim=8)
SCRIPT = pathlib.Path(__file__).with_name("step_script.py")


def sft_batch(micro=1, batch=8, length=12, seed=0):
    tokens = jnp.asarray(np.random.default_rng(seed).integers(0, 64, (micro, batch, length)), jnp.int32)
    return {"tokens": tokens, "valid": jnp.ones_like(tokens, bool),
            "completion_mask": jnp.broadcast_to(jnp.arange(length) >= 4, tokens.shape)}


def setup(lora=False):
    model = Decoder(CONFIG, nnx.Rngs(0))
    if lora:
        add_lora(model, rank=4, alpha=8, rngs=nnx.Rngs(1))
    graphdef, trainable, frozen = split_trainable(model, lora=lora)
    rule = UpdateRule()
    return graphdef, trainable, frozen, rule, init_optimizer_state(rule, trainable)


def test_tiny_model_overfits_eight_examples():
    graphdef, trainable, frozen, rule, opt_state = setup()
    step = TrainStep(graphdef, LossSpec("sft"), rule)
    batch = sft_batch()
    losses = []
    for _ in range(80):
        trainable, opt_state, metrics = step(trainable, frozen, opt_state, batch, 3e-3)
        losses.append(float(metrics["loss"]))
    assert losses[0] > 3.5 and losses[-1] < 0.05, losses[::10]


def test_self_play_widens_the_margin_on_its_pairs():
    graphdef, trainable, frozen, rule, opt_state = setup()
    rng = np.random.default_rng(3)
    tokens = jnp.asarray(rng.integers(0, 64, (1, 8, 2, 12)), jnp.int32)
    valid = jnp.ones_like(tokens, bool)
    mask = jnp.broadcast_to(jnp.arange(12) >= 5, tokens.shape)
    # The reference (the opponent) is the starting model; its log-probs are computed once.
    start = nnx.merge(graphdef, trainable, frozen)
    _, reference = jax.jit(lambda *arrays: completion_logprobs(start, *arrays))(
        tokens.reshape(16, 12), valid.reshape(16, 12), mask.reshape(16, 12))
    batch = {"tokens": tokens, "valid": valid, "completion_mask": mask,
             "reference_logps": reference.reshape(1, 8, 2),
             "opponent_wrong": jnp.asarray([[1, 1, 0, 1, 1, 0, 1, 1]], jnp.float32)}
    step = TrainStep(graphdef, LossSpec("error_driven", lam=0.5), rule)
    margins = []
    for _ in range(15):
        trainable, opt_state, metrics = step(trainable, frozen, opt_state, batch, 1e-3)
        margins.append(float(metrics["rewards/margins"]))
    assert margins[0] == pytest.approx(0.0, abs=1e-5)  # policy == reference at the start
    assert margins[-1] > 1.0 and float(metrics["rewards/accuracies"]) == 1.0, margins


def test_gradient_accumulation_equals_one_big_batch():
    results = []
    for micro, batch in ((1, 8), (4, 2)):
        graphdef, trainable, frozen, _, _ = setup()
        # Plain SGD (the gradient as the direction), so parameter differences are gradient
        # differences (Adam's first step is lr * sign(g), which turns reduction-order noise in
        # near-zero gradients into lr).
        sgd = optax.scale(1.0)
        data = {k: v.reshape(micro, batch, 12) for k, v in sft_batch().items()}
        trainable, _, _ = TrainStep(graphdef, LossSpec("sft"), sgd)(
            trainable, frozen, sgd.init(trainable), data, 1.0)
        results.append([np.asarray(x) for x in jax.tree.leaves(trainable)])
    start = [np.asarray(x) for x in jax.tree.leaves(setup()[1])]
    assert max(np.abs(a - s).max() for a, s in zip(results[0], start)) > 0.1  # it did move
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, atol=1e-5)  # fp32 summation-order noise only


def test_lora_step_changes_only_adapters():
    graphdef, trainable, frozen, rule, opt_state = setup(lora=True)
    frozen_before = [np.asarray(x) for x in jax.tree.leaves(frozen)]
    lora_before = [np.asarray(x) for x in jax.tree.leaves(trainable)]
    step = TrainStep(graphdef, LossSpec("sft"), rule)
    for _ in range(3):
        trainable, opt_state, _ = step(trainable, frozen, opt_state, sft_batch(), 3e-3)
    for a, b in zip(jax.tree.leaves(frozen), frozen_before):
        np.testing.assert_array_equal(np.asarray(a), b)
    assert any(np.abs(np.asarray(a) - b).max() > 0 for a, b in zip(jax.tree.leaves(trainable), lora_before))


def test_sharded_steps_equal_single_device_steps():
    # Compiling is most of this run (6 train steps, 4 of them on 8-device meshes); XLA's CPU
    # backend without LLVM optimisations compiles them in about 60% of the time (as the GPU
    # check's --cpu run does). It changes how the code is generated, not what it computes:
    # both sides of every comparison are compiled alike.
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_force_host_platform_device_count=8"
               " --xla_backend_optimization_level=0")
    out = subprocess.run([sys.executable, "-W", "ignore", str(SCRIPT)], capture_output=True,
                         text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    results = json.loads(out.stdout)
    for name, result in results.items():
        # Adam divides by the root of tiny second moments, so fp32 reduction-order noise grows to
        # ~1e-5 in 3 steps; that is still a thousand times smaller than what the steps changed.
        assert result["max_param_diff"] < 1e-4, (name, result)
        assert result["max_param_diff"] < 1e-2 * result["max_param_change"], (name, result)
        assert result["loss_diff"] < 1e-5, (name, result)
    assert sorted(results) == ["padded_data2_fsdp4", "padded_fsdp4_tensor2",
                               "shared_data2_fsdp4", "shared_fsdp4_tensor2"]
    assert results["padded_fsdp4_tensor2"]["sharded_kernel"] == "P('fsdp', 'tensor')"


def test_steps_with_the_same_rule_share_one_compiled_function():
    # Runs that differ only in their learning rate (schedule) must not compile again.
    graphdef, trainable, frozen, rule, opt_state = setup()
    first = TrainStep(graphdef, LossSpec("sft"), rule)
    trainable, opt_state, _ = first(trainable, frozen, opt_state, sft_batch(), 1e-3)
    second = TrainStep(graphdef, LossSpec("sft"), UpdateRule())
    second(trainable, frozen, opt_state, sft_batch(), 5e-4)
    assert second._compiled is first._compiled
    other = TrainStep(graphdef, LossSpec("sft"), UpdateRule(name="rmsprop"))
    other(*setup()[1:3], init_optimizer_state(UpdateRule(name="rmsprop"), setup()[1]), sft_batch(), 1e-3)
    assert other._compiled is not first._compiled


@pytest.mark.parametrize("remat", ["full", "dots_saveable"])
def test_remat_trains_exactly_like_no_remat(remat):
    # Activation checkpointing changes what is stored for the backward pass, not the gradients.
    results = []
    for policy in ("none", remat):
        model = Decoder(CONFIG.replace(remat=policy), nnx.Rngs(0))
        add_lora(model, rank=4, alpha=8, rngs=nnx.Rngs(1))
        graphdef, trainable, frozen = split_trainable(model, lora=True)
        rule = UpdateRule()
        trainable, _, metrics = TrainStep(graphdef, LossSpec("sft"), rule)(
            trainable, frozen, init_optimizer_state(rule, trainable), sft_batch(), 1e-2)
        results.append(([np.asarray(x) for x in jax.tree.leaves(trainable)], float(metrics["loss"])))
    (a, loss_a), (b, loss_b) = results
    assert loss_a == pytest.approx(loss_b, abs=1e-6)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, atol=1e-6)
