"""Run by test_step.py with 8 simulated CPU devices: k training steps on a mesh give the same
parameters as on one device."""

import json
import sys

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from spft_jax.models.config import ModelConfig
from spft_jax.models.decoder import Decoder
from spft_jax.parallel.mesh import make_mesh
from spft_jax.parallel.rules import shard_model
from spft_jax.train.optimizer import UpdateRule
from spft_jax.train.step import LossSpec, TrainStep, init_optimizer_state, split_trainable

CONFIG = ModelConfig(architecture="qwen2", vocab_size=64, hidden_size=32, intermediate_size=64,
                     num_layers=2, num_heads=4, num_kv_heads=2, head_dim=8, attention_bias=True)


def batch():
    rng = np.random.default_rng(0)
    tokens = jnp.asarray(rng.integers(0, 64, (2, 8, 2, 10)), jnp.int32)
    return {
        "tokens": tokens,
        "valid": jnp.asarray(np.arange(10) >= rng.integers(0, 3, (2, 8, 2, 1))),
        "completion_mask": jnp.broadcast_to(jnp.arange(10) >= 5, tokens.shape),
        "reference_logps": jnp.asarray(rng.normal(-20, 2, (2, 8, 2)), jnp.float32),
        "opponent_wrong": jnp.asarray(rng.integers(0, 2, (2, 8)), jnp.float32),
    }


def train(mesh, steps=3):
    model = Decoder(CONFIG, nnx.Rngs(0))
    if mesh is not None:
        model = shard_model(model, mesh)
    graphdef, trainable, frozen = split_trainable(model)
    rule = UpdateRule()
    opt_state = init_optimizer_state(rule, trainable, mesh)
    step = TrainStep(graphdef, LossSpec("error_driven", lam=0.5), rule, mesh)
    for _ in range(steps):
        trainable, opt_state, metrics = step(trainable, frozen, opt_state, batch(), 1e-2)
    return trainable, metrics


def main():
    assert len(jax.devices()) == 8
    with jax.default_device(jax.devices()[0]):
        reference, reference_metrics = train(None)
    reference = [np.asarray(x) for x in jax.tree.leaves(reference)]
    out = {}
    for name, sizes in {"fsdp4_tensor2": (1, 4, 2), "data2_fsdp4": (2, 4, 1)}.items():
        params, metrics = train(make_mesh(*sizes))
        leaves = [np.asarray(x) for x in jax.tree.leaves(params)]
        out[name] = {
            "max_param_diff": max(float(np.abs(a - b).max()) for a, b in zip(leaves, reference)),
            "max_param_change": max(float(np.abs(a - b).max()) for a, b in zip(
                leaves, [np.asarray(x) for x in jax.tree.leaves(split_trainable(Decoder(CONFIG, nnx.Rngs(0)))[1])])),
            "loss_diff": abs(float(metrics["loss"]) - float(reference_metrics["loss"])),
            "sharded_kernel": str(params["layers"][0]["self_attn"]["q_proj"]["kernel"].get_value().sharding.spec)
            if hasattr(params["layers"][0]["self_attn"]["q_proj"]["kernel"], "get_value") else
            str(params["layers"][0]["self_attn"]["q_proj"]["kernel"].sharding.spec),
        }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
