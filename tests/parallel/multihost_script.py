"""Run by test_multihost.py: a few self-play training steps through the Trainer on a (data=2,
fsdp=2) mesh, either in one process with 4 CPU devices or as one of two processes with 2 CPU
devices each (jax.distributed over localhost), every host feeding its half of the global batch.
Checkpoints go to --workdir (shared by the processes); afterwards the run is restored from its
last checkpoint by a fresh Trainer, which must put every array back on its shards.

Writes <out>/info_<process>.json, and on process 0 <out>/params.npz (gathered parameters).
"""

import argparse
import json
import pathlib

from spft_jax.parallel import distributed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--num-processes", type=int, default=1)
    parser.add_argument("--process-id", type=int, default=0)
    parser.add_argument("--coordinator", default=None)
    args = parser.parse_args()
    # Before anything touches a JAX backend.
    distributed.initialize(args.coordinator, args.num_processes, args.process_id)

    import jax
    import numpy as np
    from flax import nnx

    from spft_jax.models.config import ModelConfig
    from spft_jax.models.decoder import Decoder
    from spft_jax.parallel.mesh import make_mesh
    from spft_jax.train.batches import BatchConfig, Batcher, PairExample
    from spft_jax.train.optimizer import OptimizerConfig
    from spft_jax.train.step import LossSpec
    from spft_jax.train.trainer import Trainer, TrainerConfig

    config = ModelConfig(architecture="qwen2", vocab_size=64, hidden_size=32, intermediate_size=64,
                         num_layers=2, num_heads=4, num_kv_heads=2, head_dim=8, attention_bias=True)
    rng = np.random.default_rng(0)
    ids = lambda n: [int(t) for t in rng.integers(1, 64, n)]  # noqa: E731
    examples = [PairExample(ids(int(rng.integers(3, 8))), ids(4), ids(int(rng.integers(2, 6))),
                            float(rng.normal(-12, 2)), float(rng.normal(-12, 2)), float(i % 3 != 0))
                for i in range(16)]
    batcher = Batcher(examples, BatchConfig(batch_size=4, micro_batches=2, max_length=16,
                                            bucket_multiple=8), seed=3)
    mesh = make_mesh(data=2, fsdp=2)

    def trainer():
        model = distributed.create_sharded_model(lambda: Decoder(config, nnx.Rngs(0)), mesh)
        return Trainer(model, batcher, LossSpec("error_driven", lam=0.5),
                       OptimizerConfig(learning_rate=2e-3, schedule="constant"),
                       TrainerConfig(max_steps=4, checkpoint_every=2, progress_bar=False),
                       workdir=args.workdir, mesh=mesh)

    first = trainer()
    initial = distributed.gather_to_host(first.trainable)
    result = first.run()
    trained = distributed.gather_to_host(result.trainable)

    again = trainer().run()  # restores step 4 and has nothing left to do
    restored = distributed.gather_to_host(again.trainable)

    def spec(tree):
        kernel = tree["layers"][0]["self_attn"]["q_proj"]["kernel"]
        return kernel.get_value() if hasattr(kernel, "get_value") else kernel

    leaves = lambda tree: jax.tree_util.tree_flatten_with_path(tree)[0]  # noqa: E731
    info = {
        "process_count": jax.process_count(),
        "local_devices": jax.local_device_count(),
        "rows": first._rows,
        "resumed_from": again.resumed_from,
        "kernel_spec": str(spec(result.trainable).sharding.spec),
        "restored_kernel_spec": str(spec(again.trainable).sharding.spec),
        "restored_fully_addressable": bool(spec(again.trainable).is_fully_addressable),
        "restored_shardings_equal": all(a.sharding == b.sharding for (_, a), (_, b) in
                                        zip(leaves(result.trainable), leaves(again.trainable))),
        "restored_max_diff": max(float(np.abs(np.asarray(a) - np.asarray(b)).max())
                                 for (_, a), (_, b) in zip(leaves(trained), leaves(restored))),
        "max_change": max(float(np.abs(np.asarray(a) - np.asarray(b)).max())
                          for (_, a), (_, b) in zip(leaves(trained), leaves(initial))),
        "loss": result.metrics["loss"],
    }
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"info_{jax.process_index()}.json").write_text(json.dumps(info))
    if jax.process_index() == 0:
        np.savez(out / "params.npz", **{jax.tree_util.keystr(p): np.asarray(v) for p, v in leaves(trained)})


if __name__ == "__main__":
    main()
