"""Run by test_sharded_sampling.py in a fresh process with 8 simulated CPU devices: sampling on
a (data=2, fsdp=2, tensor=2) mesh must give the single-device tokens. Prints a JSON report."""

import json
import sys

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from spft_jax.parallel.mesh import make_mesh
from spft_jax.parallel.rules import shard_model
from spft_jax.sampling import Sampler, SamplingParams
from spft_jax.sampling.batching import left_pad
from spft_jax.sampling.decode import CompiledSampling, DecodeSpec, batch_sharding, replicated
from spft_jax.sampling.filters import TokenChoice
from tests.sampling.helpers import TINY, PieceTokenizer, tiny_model

RNG = np.random.default_rng(4)
PROMPTS = [RNG.integers(0, TINY.vocab_size, size).tolist() for size in (6, 1, 17, 3, 9)]
RUNS = {
    "greedy": SamplingParams(max_new_tokens=10),
    "sampled": SamplingParams(max_new_tokens=10, temperature=1.0, top_k=8, top_p=0.9, n=3, seed=2),
    # The same compiled functions as "sampled", run in chunks with host-side stop checks.
    "stop": SamplingParams(max_new_tokens=10, temperature=1.0, top_k=8, top_p=0.9, n=3, seed=1,
                           stop=("a", "1"), stop_check_interval=2),
}


def generate(sampler):
    runs = {name: sampler.generate(PROMPTS, params) for name, params in RUNS.items()}
    # A shared prefix prefilled once (padded to the batch axes' rows) and broadcast to every row.
    runs["prefixed"] = sampler.generate(PROMPTS[1:], RUNS["sampled"], prefix=PROMPTS[2])
    return {name: [[(c.token_ids, c.text, c.finish_reason) for c in samples] for samples in out]
            for name, out in runs.items()}


def carry_specs(sampler, mesh):
    """The shardings of a decode state the sampler builds on this mesh."""
    graphdef, state = nnx.split(tiny_model())
    compiled = CompiledSampling(graphdef, sampler.mesh, TINY)
    tokens, valid = left_pad(PROMPTS[:4], 4, 32, pad_id=0)
    put = lambda x: jax.device_put(x, batch_sharding(sampler.mesh, 2))  # noqa: E731
    block = compiled.prefill(sampler.state, put(tokens), put(valid))
    spec = DecodeSpec(TokenChoice(greedy=True), max_new_tokens=4, eos_ids=(), pad_id=0)
    keys = jax.device_put(np.zeros((8, 2), np.uint32), replicated(sampler.mesh))
    rows = jax.device_put(np.arange(8, dtype=np.int32) // 2, replicated(sampler.mesh))
    carry = compiled.empty(8, 48, 4, 0)
    carry = compiled.insert(carry, block, rows, jax.device_put(np.arange(8, dtype=np.int32),
                                                               replicated(sampler.mesh)),
                            keys, jnp.float32(1), jnp.float32(1), spec)
    return {"block_k": str(block.k[0].sharding.spec),
            "cache_k": str(carry.cache.k[0].sharding.spec),
            "tokens": str(carry.tokens.sharding.spec),
            "tokens_shard_shape": list(carry.tokens.addressable_shards[0].data.shape)}


def main() -> None:
    assert len(jax.devices()) == 8, jax.devices()
    with jax.default_device(jax.devices()[0]):
        reference = generate(Sampler(tiny_model(), PieceTokenizer(), eos_token_ids=[5]))
    report = {"reference": reference}
    meshes = {
        # jax.make_mesh's default axis types are Explicit; spft_jax.parallel's mesh is Auto.
        "explicit": jax.make_mesh((2, 2, 2), ("data", "fsdp", "tensor")),
        "auto": make_mesh(2, 2, 2),
    }
    for name, mesh in meshes.items():
        model = shard_model(tiny_model(), mesh)
        sampler = Sampler(model, PieceTokenizer(), eos_token_ids=[5], mesh=mesh)
        q_kernel = sampler.state["layers"][0]["self_attn"]["q_proj"]["kernel"].get_value()
        report[name] = {
            "outputs": generate(sampler),
            "batch_multiple": sampler.batch_multiple,
            "q_kernel_spec": str(q_kernel.sharding.spec),
            **carry_specs(sampler, mesh),
        }
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
