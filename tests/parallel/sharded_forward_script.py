"""Run by test_sharded_forward.py in a fresh process with 8 simulated CPU devices: forward
logits of a sharded model must equal the single-device logits."""

import json
import sys

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from spft_jax.models.config import ModelConfig
from spft_jax.models.decoder import Decoder
from spft_jax.parallel.mesh import make_mesh
from spft_jax.parallel.rules import batch_sharding, shard_model


def forward(graphdef, state, tokens, valid):
    model = nnx.merge(graphdef, state)
    return model(tokens, None, valid)[0]


def main() -> None:
    assert len(jax.devices()) == 8, jax.devices()
    config = ModelConfig(
        architecture="qwen2", vocab_size=256, hidden_size=64, intermediate_size=128,
        num_layers=2, num_heads=4, num_kv_heads=2, head_dim=16, attention_bias=True,
    )
    rng = np.random.default_rng(0)
    tokens = jnp.asarray(rng.integers(0, 256, (8, 12)), jnp.int32)
    padding = np.array([[0], [3], [0], [5], [1], [0], [11], [2]])  # left padding per row
    valid = jnp.asarray(np.arange(12)[None, :] >= padding)
    reference_model = Decoder(config, nnx.Rngs(0))
    with jax.default_device(jax.devices()[0]):
        reference = np.asarray(reference_model(tokens, None, valid)[0])
    results = {}
    for name, sizes in {"fsdp4_tensor2": (1, 4, 2), "data2_fsdp2_tensor2": (2, 2, 2),
                        "data2_fsdp4": (2, 4, 1)}.items():
        mesh = make_mesh(*sizes)
        model = shard_model(Decoder(config, nnx.Rngs(0)), mesh)
        graphdef, state = nnx.split(model)
        q_kernel = model.layers[0].self_attn.q_proj.kernel.get_value()
        batch = batch_sharding(mesh)
        logits = jax.jit(forward, static_argnums=0)(
            graphdef, state, jax.device_put(tokens, batch), jax.device_put(valid, batch)
        )
        results[name] = {
            "max_abs_diff": float(np.abs(np.asarray(logits) - reference).max()),
            "q_kernel_spec": str(q_kernel.sharding.spec),
            "q_kernel_shard_shape": list(q_kernel.addressable_shards[0].data.shape),
            "logits_spec": str(logits.sharding.spec),
        }
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
