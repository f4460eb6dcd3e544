"""Run by test_step.py with 8 simulated CPU devices: k training steps on a mesh give the same
parameters as on one device, with padded batches and with the prefix-shared layout."""

import json
import sys

import jax
import numpy as np
import optax
from flax import nnx

from spft_jax.models.config import ModelConfig
from spft_jax.models.decoder import Decoder
from spft_jax.parallel.mesh import make_mesh
from spft_jax.parallel.rules import shard_model
from spft_jax.train.batches import BatchConfig, Batcher, DataPosition, PairExample
from spft_jax.train.optimizer import UpdateRule
from spft_jax.train.step import LossSpec, TrainStep, init_optimizer_state, split_trainable

CONFIG = ModelConfig(architecture="qwen2", vocab_size=64, hidden_size=32, intermediate_size=64,
                     num_layers=2, num_heads=4, num_kv_heads=2, head_dim=8, attention_bias=True)


# Batches are host (numpy) arrays, as the Batcher gives them: placing them on the mesh then
# copies host memory instead of compiling a slicing function per field and layout.
def batch():
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 64, (2, 8, 2, 10)).astype(np.int32)
    return {
        "tokens": tokens,
        "valid": np.arange(10) >= rng.integers(0, 3, (2, 8, 2, 1)),
        "completion_mask": np.broadcast_to(np.arange(10) >= 5, tokens.shape),
        "reference_logps": rng.normal(-20, 2, (2, 8, 2)).astype(np.float32),
        "opponent_wrong": rng.integers(0, 2, (2, 8)).astype(np.float32),
    }


def grouped_batch():
    """Pairs on three databases in the prefix-shared layout (groups padded to the 8 shards)."""
    rng = np.random.default_rng(1)
    ids = lambda n: [int(t) for t in rng.integers(1, 64, n)]  # noqa: E731
    schemas = [ids(12), ids(9), ids(15)]
    pairs = [PairExample(schemas[k % 3] + ids(3), ids(3), ids(4), float(rng.normal(-20, 2)),
                         float(rng.normal(-20, 2)), float(rng.integers(0, 2)), k % 3)
             for k in range(16)]
    config = BatchConfig(batch_size=8, micro_batches=2, max_length=32, bucket_multiple=16,
                         share_prefix=True, group_multiple=8)
    return Batcher(pairs, config, seed=2).batch_at(DataPosition()).arrays


def train(mesh, steps=3, make_batch=batch, rule=None):
    model = Decoder(CONFIG, nnx.Rngs(0))
    if mesh is not None:
        model = shard_model(model, mesh)
    graphdef, trainable, frozen = split_trainable(model)
    rule = rule or UpdateRule()
    opt_state = init_optimizer_state(rule, trainable, mesh)
    step = TrainStep(graphdef, LossSpec("error_driven", lam=0.5), rule, mesh)
    for _ in range(steps):
        trainable, opt_state, metrics = step(trainable, frozen, opt_state, make_batch(), 1e-2)
    return trainable, metrics


def main():
    assert len(jax.devices()) == 8
    out = {}
    # The shared layout with plain gradient steps: Adam's first steps are nearly sign descent, so
    # a gradient entry that is ~0 on both sides can move by +-lr on one and -+lr on the other;
    # plain steps make the parameter difference the gradient difference (times lr).
    for layout, make_batch, rule in (("padded", batch, None),
                                     ("shared", grouped_batch, optax.identity())):
        with jax.default_device(jax.devices()[0]):
            reference, reference_metrics = train(None, make_batch=make_batch, rule=rule)
        out.update(compare(reference, reference_metrics, make_batch, layout, rule))
    json.dump(out, sys.stdout)


def compare(reference, reference_metrics, make_batch, layout, rule):
    reference = [np.asarray(x) for x in jax.tree.leaves(reference)]
    out = {}
    for name, sizes in {"fsdp4_tensor2": (1, 4, 2), "data2_fsdp4": (2, 4, 1)}.items():
        name = f"{layout}_{name}"
        params, metrics = train(make_mesh(*sizes), make_batch=make_batch, rule=rule)
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
    return out


if __name__ == "__main__":
    main()
