"""The trainer loop (learning, metrics files, eval hook) and the batches it eats (padding,
buckets, truncation, reproducible order)."""

import json

import jax
import numpy as np
import pytest
from flax import nnx

from spft_jax.errors import ConfigError, DataError
from spft_jax.models.config import ModelConfig
from spft_jax.models.decoder import Decoder
from spft_jax.train.batches import BatchConfig, Batcher, DataPosition, PairExample, SftExample
from spft_jax.train.metrics_log import MetricsLogger, read_tensorboard_scalars
from spft_jax.train.optimizer import OptimizerConfig
from spft_jax.train.step import LossSpec
from spft_jax.train.trainer import Trainer, TrainerConfig

CONFIG = ModelConfig(architecture="llama", vocab_size=64, hidden_size=32, intermediate_size=64,
                     num_layers=2, num_heads=4, num_kv_heads=2, head_dim=8)
TRL_PAIR_METRICS = {"loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies",
                    "rewards/margins", "logps/chosen", "logps/rejected", "grad_norm",
                    "learning_rate", "epoch"}


def ids(rng, n):
    return [int(t) for t in rng.integers(1, 64, n)]


def sft_examples(count=8, seed=0):
    rng = np.random.default_rng(seed)
    return [SftExample(ids(rng, int(rng.integers(3, 8))), ids(rng, int(rng.integers(3, 8))))
            for _ in range(count)]


def pair_examples(count=8, seed=0):
    rng = np.random.default_rng(seed)
    return [PairExample(ids(rng, 6), ids(rng, 4), ids(rng, 5), -10.0 - i, -11.0 - i, float(i % 2))
            for i in range(count)]


# -- the loop ---------------------------------------------------------------------------------


def test_tiny_model_trains_to_near_zero_sft_loss(tmp_path):
    batcher = Batcher(sft_examples(), BatchConfig(batch_size=8, max_length=32, bucket_multiple=16), seed=0)
    trainer = Trainer(Decoder(CONFIG, nnx.Rngs(0)), batcher, LossSpec("sft"),
                      OptimizerConfig(learning_rate=3e-3, schedule="constant"),
                      TrainerConfig(epochs=80, checkpoint_every=0, progress_bar=False), workdir=tmp_path)
    result = trainer.run()
    assert result.step == 80 and result.position == DataPosition(80, 0)
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == list(range(1, 81))
    assert lines[0]["loss"] > 3.5 and lines[-1]["loss"] < 0.05, (lines[0]["loss"], lines[-1]["loss"])
    assert result.metrics["loss"] == lines[-1]["loss"]
    tokens = sum(len(e.prompt) + len(e.completion) for e in sft_examples())
    for line in lines:
        assert {"time", "tokens_per_second", "loss", "grad_norm", "learning_rate", "epoch"} <= line.keys()
        assert 0 < line["tokens_per_second"] < tokens * 1e6  # tokens of one step over > 1 µs
    assert lines[1]["time"] >= lines[0]["time"] and lines[9]["epoch"] == 10.0
    # The trained model predicts its completions: greedy next tokens match them.
    model = result.model()
    example = sft_examples()[0]
    sequence = np.asarray([example.prompt + example.completion], np.int32)
    logits, _ = model(sequence)
    predicted = np.asarray(logits[0, len(example.prompt) - 1:-1].argmax(-1))
    np.testing.assert_array_equal(predicted, example.completion)
    # TensorBoard got the same scalars.
    events = read_tensorboard_scalars(tmp_path / "tensorboard")
    losses = {step: value for tag, step, value in events if tag == "loss"}
    assert sorted(losses) == list(range(1, 81))
    assert losses[80] == pytest.approx(lines[-1]["loss"], rel=1e-6)


def test_pairwise_run_logs_trl_metrics_and_calls_the_eval_hook_on_schedule(tmp_path):
    calls = []

    def eval_fn(model, step, key):
        calls.append((step, np.asarray(model.embed_tokens[...]).copy(), np.asarray(jax.random.key_data(key))))
        return {"probe": float(step) * 10}

    batcher = Batcher(pair_examples(), BatchConfig(batch_size=2, micro_batches=2, max_length=16,
                                                   bucket_multiple=16), seed=1)
    assert batcher.batches_per_epoch == 2
    trainer = Trainer(Decoder(CONFIG, nnx.Rngs(0)), batcher, LossSpec("error_driven", lam=0.5),
                      OptimizerConfig(learning_rate=1e-2, schedule="linear", total_steps=7),
                      TrainerConfig(epochs=3, max_steps=7, eval_every=3, checkpoint_every=0,
                                    progress_bar=False, tensorboard=False),
                      workdir=tmp_path, eval_fn=eval_fn)
    result = trainer.run()
    assert [c[0] for c in calls] == [3, 6]
    assert not np.array_equal(calls[0][1], calls[1][1])  # the model it saw had trained on
    assert not np.array_equal(calls[0][2], calls[1][2])  # a fresh key each time
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == list(range(1, 8))
    for line in lines:
        assert TRL_PAIR_METRICS <= line.keys(), TRL_PAIR_METRICS - line.keys()
        assert ("eval/probe" in line) == (line["step"] % 3 == 0)
    assert lines[5]["eval/probe"] == 60.0
    assert [line["epoch"] for line in lines] == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    # A linear decay from 1e-2 to 0 over 7 steps: the rate each update used.
    np.testing.assert_allclose([line["learning_rate"] for line in lines],
                               [1e-2 * (1 - s / 7) for s in range(7)], rtol=1e-6)
    assert result.position == DataPosition(3, 1)
    assert lines[-1]["rewards/margins"] > lines[0]["rewards/margins"]


def test_trainer_refuses_inconsistent_settings():
    batcher = Batcher(sft_examples(), BatchConfig(batch_size=4, max_length=32), seed=0)
    model = Decoder(CONFIG, nnx.Rngs(0))
    with pytest.raises(ConfigError, match="loss 'spin' needs pair examples"):
        Trainer(model, batcher, LossSpec("spin"), OptimizerConfig())
    with pytest.raises(ConfigError, match="no eval hook"):
        Trainer(model, batcher, LossSpec("sft"), OptimizerConfig(), TrainerConfig(eval_every=2))


def test_metrics_logger_resumes_without_duplicate_steps_and_only_the_writer_writes(tmp_path):
    with MetricsLogger(tmp_path, tensorboard=False) as logger:
        for step in range(1, 6):
            logger.log(step, {"loss": 1.0 / step}, tokens=100, seconds=0.5)
    with (tmp_path / "metrics.jsonl").open("a") as f:
        f.write('{"step": 6, "lo')  # a line cut short by a kill
    with MetricsLogger(tmp_path, resume_step=3, tensorboard=False) as logger:
        logger.log(4, {"loss": 0.125})
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2, 3, 4]
    assert lines[0]["tokens_per_second"] == 200.0 and lines[3]["loss"] == 0.125
    silent = tmp_path / "other"
    with MetricsLogger(silent, enabled=False) as logger:
        logger.log(1, {"loss": 1.0})
    assert not silent.exists()


# -- batches ----------------------------------------------------------------------------------


def test_sft_batches_are_right_padded_with_masks():
    examples = [SftExample([5, 6, 7], [8, 9]), SftExample([1], [2, 3, 4, 10])]
    batch = Batcher(examples, BatchConfig(batch_size=2, max_length=16, bucket_multiple=8, pad_id=63)
                    ).batch_at(DataPosition())
    arrays = batch.arrays
    assert arrays["tokens"].shape == (1, 2, 8) and batch.length == 8 and batch.num_tokens == 10
    row = [list(arrays["tokens"][0, b]) for b in range(2)]
    assert sorted(row) == sorted([[5, 6, 7, 8, 9, 63, 63, 63], [1, 2, 3, 4, 10, 63, 63, 63]])
    b = row.index([5, 6, 7, 8, 9, 63, 63, 63])
    assert list(arrays["valid"][0, b]) == [True] * 5 + [False] * 3
    assert list(arrays["completion_mask"][0, b]) == [False] * 3 + [True] * 2 + [False] * 3
    assert arrays["tokens"].dtype == np.int32 and arrays["valid"].dtype == bool


def test_lengths_go_to_the_smallest_bucket_that_holds_them():
    config = BatchConfig(batch_size=1, max_length=256, bucket_multiple=64)
    assert config.buckets == (64, 128, 192, 256)
    assert BatchConfig(max_length=100, bucket_multiple=64).buckets == (64, 100)
    examples = [SftExample([1] * n, [2] * 5) for n in (10, 59, 60, 130)]
    batcher = Batcher(examples, config, seed=0)
    order = batcher.order(0)
    lengths = {int(order[i]): batcher.batch_at(DataPosition(0, i)).length for i in range(4)}
    assert lengths == {0: 64, 1: 64, 2: 128, 3: 192}
    # A batch takes the bucket of its longest member.
    together = Batcher(examples, BatchConfig(batch_size=4, max_length=256, bucket_multiple=64))
    assert together.batch_at(DataPosition()).arrays["tokens"].shape == (1, 4, 192)


def test_long_prompts_lose_their_left_end_and_are_counted():
    prompt = list(range(1, 41))
    examples = [SftExample(prompt, [50, 51, 52]), SftExample([1, 2], [3])]
    batcher = Batcher(examples, BatchConfig(batch_size=2, max_length=16, bucket_multiple=8))
    assert batcher.truncated == 1
    arrays = batcher.batch_at(DataPosition()).arrays
    b = int(arrays["valid"][0].sum(-1).argmax())  # the long one fills the whole row
    assert list(arrays["tokens"][0, b]) == prompt[-13:] + [50, 51, 52]
    assert arrays["valid"][0, b].all() and arrays["completion_mask"][0, b].sum() == 3
    # Pairs: the prompt is cut so that the longer completion fits; both share what is left.
    pairs = [PairExample(prompt, [50], [51, 52, 53, 54], -1.0, -2.0, 1.0)] * 2
    config = BatchConfig(batch_size=2, max_length=16, bucket_multiple=8)
    arrays = Batcher(pairs, config).batch_at(DataPosition()).arrays
    assert arrays["tokens"].shape == (1, 2, 2, 16)
    assert list(arrays["tokens"][0, 0, 1]) == prompt[-12:] + [51, 52, 53, 54]
    assert list(arrays["tokens"][0, 0, 0, :13]) == prompt[-12:] + [50]
    assert list(arrays["valid"][0, 0, 0]) == [True] * 13 + [False] * 3
    np.testing.assert_array_equal(arrays["reference_logps"][0, 0], [-1.0, -2.0])
    assert arrays["opponent_wrong"].shape == (1, 2) and arrays["opponent_wrong"][0, 0] == 1.0
    with pytest.raises(DataError, match="example 0: a completion of 16 tokens does not fit"):
        Batcher([SftExample([1], [2] * 16)], BatchConfig(batch_size=1, max_length=16))


def test_order_is_a_seeded_permutation_per_epoch_and_positions_rebuild_batches():
    examples = sft_examples(count=11)
    config = BatchConfig(batch_size=2, micro_batches=2, max_length=16, bucket_multiple=16)
    batcher = Batcher(examples, config, seed=7)
    assert batcher.batches_per_epoch == 2  # 11 examples, 4 per step: the last 3 wait
    assert sorted(batcher.order(0)) == list(range(11))
    assert list(batcher.order(0)) == list(Batcher(examples, config, seed=7).order(0))
    assert list(batcher.order(0)) != list(batcher.order(1))
    assert list(batcher.order(0)) != list(Batcher(examples, config, seed=8).order(0))
    stream = batcher.iterate(DataPosition())
    seen = [next(stream) for _ in range(5)]
    assert [b.position for b in seen] == [DataPosition(0, 0), DataPosition(0, 1), DataPosition(1, 0),
                                          DataPosition(1, 1), DataPosition(2, 0)]
    used = np.concatenate([batcher.example_indices(DataPosition(0, i)).ravel() for i in range(2)])
    assert len(set(used)) == 8  # no example twice within an epoch
    # Any position rebuilds its batch from scratch; a host's rows are its share of it.
    again = Batcher(examples, config, seed=7).batch_at(DataPosition(1, 1))
    for name, value in seen[3].arrays.items():
        np.testing.assert_array_equal(again.arrays[name], value)
    half = batcher.batch_at(DataPosition(1, 1), rows=[1])
    np.testing.assert_array_equal(half.arrays["tokens"], seen[3].arrays["tokens"][:, 1:2])
    assert half.num_tokens == seen[3].num_tokens  # the global count, for tokens/s


def test_batches_refuse_what_cannot_train():
    with pytest.raises(DataError, match="fewer than one batch"):
        Batcher(sft_examples(3), BatchConfig(batch_size=2, micro_batches=2))
    with pytest.raises(DataError, match="all SftExample or all PairExample"):
        Batcher(sft_examples(1) + pair_examples(1), BatchConfig(batch_size=1))
    with pytest.raises(ConfigError, match="'bucket_multiple'"):
        BatchConfig(bucket_multiple=0)
