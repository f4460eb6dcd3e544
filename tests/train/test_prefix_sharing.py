"""Prefix-shared training batches: the same examples per batch, the same log-probs, losses and
gradients as one padded row per sequence (fp32), for every model family and the real SmolLM2
on demo prompts (its first layers: the layouts agree layer by layer).

Every forward pass goes through one jitted function per (model structure, batch shape, losses),
so tests and micro-batches of equal shapes compile once instead of once per call."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from spft_jax.models.config import ModelConfig
from spft_jax.models.decoder import Decoder
from spft_jax.train.batches import BatchConfig, Batcher, DataPosition, PairExample, SftExample
from spft_jax.train.layout import common_prefix_length
from spft_jax.train.logprobs import batch_logprobs
from spft_jax.train.reference import PairText, pair_reference_logps
from spft_jax.train.step import LossSpec, micro_batch_loss

FAMILIES = {
    "llama": ModelConfig(architecture="llama", vocab_size=97, hidden_size=32, intermediate_size=64,
                         num_layers=2, num_heads=4, num_kv_heads=2, head_dim=8),
    "qwen2": ModelConfig(architecture="qwen2", vocab_size=97, hidden_size=32, intermediate_size=64,
                         num_layers=2, num_heads=4, num_kv_heads=2, head_dim=8,
                         attention_bias=True),
    # A window shorter than the prefix: continuations lose sight of its start, as unshared.
    "mistral": ModelConfig(architecture="mistral", vocab_size=97, hidden_size=32,
                           intermediate_size=64, num_layers=2, num_heads=4, num_kv_heads=1,
                           head_dim=8, sliding_window=12),
}
RNG = np.random.default_rng(0)


def ids(n):
    return [int(t) for t in RNG.integers(1, 97, n)]


SCHEMAS = {"a": ids(30), "b": ids(22)}
SFT = ([SftExample(SCHEMAS["a"] + ids(int(n)), ids(int(m)), "a")
        for n, m in zip(RNG.integers(2, 9, 6), RNG.integers(1, 7, 6))]
       + [SftExample(SCHEMAS["b"] + ids(int(n)), ids(int(m)), "b")
          for n, m in zip(RNG.integers(2, 9, 5), RNG.integers(1, 7, 5))]
       + [SftExample(ids(9), ids(4)), SftExample(ids(3), ids(2))])  # no family: alone


def pair(schema, family):
    return PairExample(schema + ids(5), ids(4), ids(6), -20.0, -25.0, float(RNG.integers(0, 2)),
                       family)


PAIRS = [pair(SCHEMAS["a"], "a") for _ in range(5)] + [pair(SCHEMAS["b"], "b") for _ in range(3)]


def batchers(examples, **config):
    base = {**dict(batch_size=4, micro_batches=2, max_length=64, bucket_multiple=16,
                   group_size=3), **config}
    return (Batcher(examples, BatchConfig(share_prefix=True, **base), seed=1),
            Batcher(examples, BatchConfig(share_prefix=False, **base), seed=1))


def micro(arrays, m):
    return {k: jnp.asarray(v[m]) for k, v in arrays.items()}


@functools.partial(jax.jit, static_argnums=(0, 3))
def _scores(graphdef, state, arrays, specs):
    model = nnx.merge(graphdef, state)
    per_token, _ = batch_logprobs(model, arrays, chunk=8)
    return per_token.sum(axis=1), tuple(micro_batch_loss(model, arrays, s)[0] for s in specs)


def scores(model, arrays, *specs):
    """(summed completion log-probs of each sequence, [the loss under each spec]) of one
    micro-batch, from one compiled forward pass."""
    logps, losses = _scores(*nnx.split(model), arrays, specs)
    return np.asarray(logps), [float(loss) for loss in losses]


def sequence_logps(model, arrays):
    return scores(model, arrays)[0]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_shared_and_padded_layouts_give_the_same_logprobs_loss_and_gradients(family):
    model = Decoder(FAMILIES[family], nnx.Rngs(3))
    shared, padded = batchers(SFT)
    graphdef, params = nnx.split(model, nnx.Param)
    spec = LossSpec("sft", logprob_chunk=8)

    @jax.jit
    def loss_and_grads(params, batch):
        return jax.value_and_grad(
            lambda p: micro_batch_loss(nnx.merge(graphdef, p), batch, spec)[0])(params)

    for epoch in (0, 1):
        # The switch changes the layout, never which examples form the batch.
        np.testing.assert_array_equal(shared.example_indices(DataPosition(epoch, 0)),
                                      padded.example_indices(DataPosition(epoch, 0)))
    a, b = shared.batch_at(DataPosition()).arrays, padded.batch_at(DataPosition()).arrays
    assert a["prefix_valid"].any(axis=-1).sum() < a["valid"].shape[1] * 2  # groups share
    for m in range(2):
        np.testing.assert_allclose(sequence_logps(model, micro(a, m)),
                                   sequence_logps(model, micro(b, m)), rtol=1e-5)
    (loss_a, grads_a), (loss_b, grads_b) = (loss_and_grads(params, micro(x, 0)) for x in (a, b))
    assert float(loss_a) == pytest.approx(float(loss_b), rel=1e-5)
    for x, y in zip(jax.tree.leaves(grads_a), jax.tree.leaves(grads_b)):
        x, y = np.asarray(x), np.asarray(y)  # compared on the host: no compile per leaf
        scale = max(float(np.abs(y).max()), 1e-6)
        assert float(np.abs(x - y).max()) <= 1e-4 * scale
    # (equal gradients include the schema tokens' embeddings: the prefix gets every
    # continuation's gradient)


def test_the_order_keeps_families_together_in_runs():
    shared, padded = batchers(SFT)
    for epoch in (0, 1):
        order = shared.order(epoch)
        assert sorted(order) == list(range(len(SFT)))
        np.testing.assert_array_equal(order, padded.order(epoch))
        families = [SFT[i].family for i in order]
        runs = [1]
        for previous, current in zip(families, families[1:]):
            same = current is not None and current == previous and runs[-1] < 3
            runs[-1:] = [runs[-1] + 1] if same else [runs[-1], 1]
        assert max(runs) <= 3
    assert list(shared.order(0)) != list(shared.order(1))


def test_a_sequence_scored_alone_equals_the_same_sequence_in_a_group():
    model = Decoder(FAMILIES["qwen2"], nnx.Rngs(1))
    group = [e for e in SFT if e.family == "a"][:4]
    config = BatchConfig(batch_size=4, max_length=64, bucket_multiple=16, share_prefix=True)
    together = Batcher(group, config).arrays_for([0, 1, 2, 3])
    assert together["prefix_valid"][0].sum(axis=-1).max() >= 30  # the schema is shared
    in_group = sequence_logps(model, micro(together, 0))
    for k, example in enumerate(group):
        single = BatchConfig(batch_size=1, max_length=64, bucket_multiple=16, share_prefix=True)
        alone = sequence_logps(model, micro(Batcher([example], single).arrays_for([0]), 0))
        assert float(alone[0]) == pytest.approx(float(in_group[k]), rel=1e-5)


def test_policy_equal_to_reference_gives_ln2():
    model = Decoder(FAMILIES["llama"], nnx.Rngs(2))
    config = BatchConfig(batch_size=8, max_length=64, bucket_multiple=16, share_prefix=True)
    texts = [PairText(p.prompt, p.chosen, p.rejected, p.family) for p in PAIRS]
    reference = pair_reference_logps(model, texts, config, chunk=8)
    pairs = [PairExample(p.prompt, p.chosen, p.rejected, float(c), float(r), p.opponent_wrong,
                         p.family) for p, (c, r) in zip(PAIRS, reference)]
    batch = Batcher(pairs, config).batch_at(DataPosition()).arrays
    assert batch["prefix_tokens"].shape[1] <= 2  # the two databases' schemas, once each
    kinds = ("spin", "dpo", "exspin")
    _, losses = scores(model, micro(batch, 0),
                       *(LossSpec(kind, lam=0.5, logprob_chunk=8) for kind in kinds))
    for kind, loss in zip(kinds, losses):
        assert loss == pytest.approx(math.log(2), abs=1e-6), kind


def test_pairs_share_their_database_prefix_and_match_the_padded_pairs():
    model = Decoder(FAMILIES["qwen2"], nnx.Rngs(4))
    shared, padded = batchers(PAIRS)
    a, b = shared.batch_at(DataPosition()).arrays, padded.batch_at(DataPosition()).arrays
    spec = LossSpec("error_driven", 0.5)
    for m in range(2):
        (logps_a, [loss_a]), (logps_b, [loss_b]) = (scores(model, micro(x, m), spec)
                                                    for x in (a, b))
        np.testing.assert_allclose(logps_a, logps_b, rtol=1e-5)
        assert loss_a == pytest.approx(loss_b, rel=1e-5)


def test_the_split_point_comes_from_the_token_ids():
    assert common_prefix_length([[1, 2, 3, 4], [1, 2, 3, 5, 6]]) == 3
    # Every continuation keeps at least its last prompt token.
    assert common_prefix_length([[1, 2, 3], [1, 2, 3]]) == 2
    assert common_prefix_length([[7], [7, 8]]) == 0


SMOLLM2_LAYERS = 4


def test_smollm2_demo_prompts_shared_equal_padded(packaged_smollm2):
    from spft_jax.data.prompts import PromptBuilder
    from spft_jax.demo import demo_paths
    from spft_jax.models.loading import load_model
    from spft_jax.sql.dataset import load_dataset

    model, config, tokenizer = load_model("smollm2-135m-instruct")
    # Its first layers, real weights: every layer is the same block, and two or more show how a
    # continuation reads its prefix's keys and values at each depth (all 30 compile for long).
    model.layers = nnx.List(list(model.layers)[:SMOLLM2_LAYERS])
    model.config = config.replace(num_layers=SMOLLM2_LAYERS)
    paths = demo_paths()
    dataset = load_dataset(paths.train, paths.tables, paths.db_dir)
    builder = PromptBuilder(tokenizer)
    chosen = [e for e in dataset.examples if e.db_id == dataset.examples[0].db_id][:3]
    chosen += [e for e in dataset.examples if e.db_id != chosen[0].db_id][:1]
    examples = [SftExample(builder.text_to_sql(dataset, e.db_id, e.question),
                           builder.completion(e.query), e.db_id) for e in chosen]
    config = dict(batch_size=4, max_length=1024, bucket_multiple=64)
    shared = Batcher(examples, BatchConfig(share_prefix=True, **config)).arrays_for(range(4))
    padded = Batcher(examples, BatchConfig(share_prefix=False, **config)).arrays_for(range(4))
    # The three questions on one database share its schema: well over a hundred tokens.
    assert shared["prefix_valid"][0].sum(axis=-1).max() > 100
    np.testing.assert_allclose(sequence_logps(model, micro(shared, 0)),
                               sequence_logps(model, micro(padded, 0)), rtol=1e-5)


def test_an_sft_run_writes_the_same_losses_with_and_without_sharing(tmp_path):
    import json

    from spft_jax.train.optimizer import OptimizerConfig
    from spft_jax.train.trainer import Trainer, TrainerConfig

    losses = {}
    for share in (True, False):
        workdir = tmp_path / str(share)
        # One bucket and padded group count: every step has one shape per layout (one compile),
        # while the steps' batches still hold 2 to 4 real groups.
        batcher = batchers(SFT, group_multiple=4, bucket_multiple=64)[0 if share else 1]
        Trainer(Decoder(FAMILIES["qwen2"], nnx.Rngs(0)), batcher, LossSpec("sft", logprob_chunk=8),
                OptimizerConfig(learning_rate=3e-3, schedule="constant"),
                TrainerConfig(max_steps=4, checkpoint_every=0, progress_bar=False, tensorboard=False),
                workdir=workdir).run()
        lines = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
        losses[share] = [line["loss"] for line in lines]
    assert len(losses[True]) == 4
    np.testing.assert_allclose(losses[True], losses[False], rtol=1e-5)
    assert losses[True][-1] < losses[True][0]  # it trains
