"""Run by test_checkpoint_resume.py in a fresh process: a short self-play training run through the
Trainer (pairs in the prefix-shared layout, micro-batches, several epochs, warmup + cosine AdamW, checkpoints every few
steps, an eval hook) in --workdir; the final parameters and RNG key go to <workdir>/result.npz.

With --pause-after K every step after K sleeps, so the test can kill the run between a
checkpoint and the end. The pause changes no number the run computes.
"""

import argparse
import json
import pathlib
import sys
import time

import jax
import numpy as np
from flax import nnx

from spft_jax.models.config import ModelConfig
from spft_jax.models.decoder import Decoder
from spft_jax.train.batches import BatchConfig, Batcher, PairExample
from spft_jax.train.optimizer import OptimizerConfig
from spft_jax.train.step import LossSpec
from spft_jax.train.trainer import Trainer, TrainerConfig

CONFIG = ModelConfig(architecture="llama", vocab_size=64, hidden_size=32, intermediate_size=64,
                     num_layers=2, num_heads=4, num_kv_heads=2, head_dim=8)
STEPS = 12


def pair_examples(count=12, seed=0):
    """Pairs on three "databases": each family's prompts start with the same schema tokens, so
    the prefix-shared layout really groups them."""
    rng = np.random.default_rng(seed)
    ids = lambda low, high: [int(t) for t in rng.integers(1, 64, int(rng.integers(low, high)))]  # noqa: E731
    schemas = [ids(4, 7) for _ in range(3)]
    return [PairExample(schemas[k % 3] + ids(1, 4), ids(2, 6), ids(2, 6), float(rng.normal(-12, 2)),
                        float(rng.normal(-12, 2)), float(rng.integers(0, 2)), k % 3)
            for k in range(count)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--pause-after", type=int, default=None)
    args = parser.parse_args()
    workdir = pathlib.Path(args.workdir)

    def eval_fn(model, step, key):
        if args.pause_after is not None and step > args.pause_after:
            time.sleep(0.4)
        if step % 4:
            return None
        # Depends on the parameters and on the run's key: a resume that lost either shows here.
        noise = jax.random.normal(key, (CONFIG.hidden_size,))
        return {"embed_probe": float((model.embed_tokens[...] @ noise).sum())}

    batcher = Batcher(pair_examples(), BatchConfig(batch_size=2, micro_batches=2, max_length=16,
                                                   bucket_multiple=8, share_prefix=True,
                                                   group_size=2), seed=5)
    trainer = Trainer(
        Decoder(CONFIG, nnx.Rngs(0)), batcher, LossSpec("error_driven", lam=0.5),
        OptimizerConfig(learning_rate=5e-3, schedule="cosine", warmup_steps=3, total_steps=STEPS),
        TrainerConfig(max_steps=STEPS, checkpoint_every=3, keep_checkpoints=2, eval_every=1,
                      progress_bar=False),
        workdir=workdir, eval_fn=eval_fn)
    result = trainer.run()
    leaves = jax.tree_util.tree_flatten_with_path(result.trainable)[0]
    arrays = {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in leaves}
    arrays["__key__"] = np.asarray(jax.random.key_data(result.key))
    np.savez(workdir / "result.npz", **arrays)
    print(json.dumps({"resumed_from": result.resumed_from, "step": result.step,
                      "position": [result.position.epoch, result.position.index]}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
