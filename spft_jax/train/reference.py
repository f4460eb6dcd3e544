"""The no-gradient pass that gives every pair its reference log-probs, once per self-play iteration.

SPIN's and SPFT-SQL's losses compare the trainee's log-probs with the opponent's (DPO: with the
frozen starting model's) on the same chosen and rejected completions. They are computed here,
before training, and stored with the pairs, so the reference model's weights need not sit beside
the trainee's during training. Sequences are built by the same `Batcher` code as the training
batches (same prompt truncation, same padding buckets, the same layout: with `share_prefix` the
pairs of one family share their prompt prefix here too), so the numbers line up with the
policy's log-probs in the loss.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Sequence

import jax
import numpy as np
from flax import nnx
from jax.sharding import Mesh

from spft_jax.parallel.distributed import put_global, to_host
from spft_jax.parallel.rules import batch_sharding
from spft_jax.train.batches import BatchConfig, Batcher, PairExample
from spft_jax.train.logprobs import batch_logprobs


@dataclasses.dataclass(frozen=True)
class PairText:
    prompt: Sequence[int]
    chosen: Sequence[int]
    rejected: Sequence[int]
    family: Hashable = None  # pairs of one family share a prompt prefix (their database)


def _logps_fn(graphdef, chunk: int):
    def run(state, batch):
        per_token, _ = batch_logprobs(nnx.merge(graphdef, state), batch, chunk)
        return per_token.sum(axis=1).reshape(-1, 2)

    return jax.jit(run)


def pair_reference_logps(model: nnx.Module, pairs: Sequence[PairText], config: BatchConfig,
                         mesh: Mesh | None = None, chunk: int = 128,
                         on_batch: Callable[[int], None] | None = None) -> np.ndarray:
    """Summed completion log-probs [len(pairs), 2] (chosen, rejected) under `model`.

    Batches of `config.batch_size` pairs in the given order; the last one is filled up with
    repeats of its first pair (their results are dropped), so every call has the same shape per
    length bucket. `on_batch(n)` reports progress in pairs.
    """
    examples = [PairExample(p.prompt, p.chosen, p.rejected, 0.0, 0.0, 0.0, p.family)
                for p in pairs]
    batch_size = config.batch_size
    one_batch = dataclasses.replace(config, micro_batches=1)
    if len(examples) < batch_size:
        examples = examples + [examples[0]] * (batch_size - len(examples))
    batcher = Batcher(examples, one_batch)
    graphdef, state = nnx.split(model)
    run = _logps_fn(graphdef, chunk)
    out = np.zeros((len(pairs), 2), np.float32)
    for start in range(0, len(pairs), batch_size):
        indices = list(range(start, min(start + batch_size, len(pairs))))
        real = len(indices)
        indices += [indices[0]] * (batch_size - real)
        arrays = batcher.arrays_for(indices)
        batch = {k: v[0] for k, v in arrays.items()
                 if k not in ("reference_logps", "opponent_wrong", "completion_mask")}
        if mesh is not None:
            batch = {k: put_global(v, batch_sharding(mesh, v.ndim)) for k, v in batch.items()}
        out[start:start + real] = to_host(run(state, batch))[:real]
        if on_batch is not None:
            on_batch(real)
    return out
