"""Reference log-probs of self-play pairs: the sums an unpadded forward gives for each completion
(after the prompt truncation training applies), and exactly what the training loss computes for
the same pairs, whatever the batching and padding."""

import functools

import jax
import numpy as np
import pytest
from flax import nnx

from spft_jax.train.batches import BatchConfig, Batcher, DataPosition, PairExample
from spft_jax.train.logprobs import completion_logprobs
from spft_jax.train.reference import PairText, pair_reference_logps
from tests.sampling.helpers import TINY, log_softmax, tiny_model

CONFIG = BatchConfig(batch_size=3, max_length=24, bucket_multiple=8, pad_id=0)
# (prompt, chosen, rejected) lengths; pair 2 is too long, its prompt loses 30 - (24 - 7) tokens.
# Batch [0, 1, 2] pads to 24; batch [3, 4] (+ a repeat of 3) to 16.
LENGTHS = [(5, 3, 6), (9, 4, 2), (30, 5, 7), (3, 1, 1), (6, 4, 3)]
PADDED = 24  # the manual forward's fixed length (causal: padding after a token cannot change it)


@pytest.fixture(scope="module")
def model():
    return tiny_model(0)


@pytest.fixture(scope="module")
def pairs():
    rng = np.random.default_rng(0)
    ids = lambda n: [int(t) for t in rng.integers(1, TINY.vocab_size, n)]  # noqa: E731
    return [PairText(ids(p), ids(c), ids(r)) for p, c, r in LENGTHS]


@pytest.fixture(scope="module")
def reference(model, pairs):
    reported = []
    logps = pair_reference_logps(model, pairs, CONFIG, chunk=5, on_batch=reported.append)
    assert reported == [3, 2]  # progress in real pairs; the repeat that fills batch 2 is not one
    return logps


@functools.partial(jax.jit, static_argnums=0)
def _forward(graphdef, state, tokens):
    logits, _ = nnx.merge(graphdef, state)(tokens)
    return logits


@functools.partial(jax.jit, static_argnums=0)
def _sequence_logps(graphdef, state, tokens, valid, mask):
    return completion_logprobs(nnx.merge(graphdef, state), tokens, valid, mask)[1]


def unpadded_logps(model, pair: PairText) -> tuple[float, float]:
    """Summed log p(completion | prompt), the prompt cut from the left as far as the longer
    completion needs, from a plain forward of each sequence alone."""
    keep = min(len(pair.prompt), CONFIG.max_length - max(len(pair.chosen), len(pair.rejected)))
    prompt = list(pair.prompt)[len(pair.prompt) - keep:]
    sums = []
    for completion in (pair.chosen, pair.rejected):
        sequence = prompt + list(completion)
        tokens = np.zeros((1, PADDED), np.int32)
        tokens[0, :len(sequence)] = sequence
        logits = np.asarray(_forward(*nnx.split(model), tokens))[0]
        sums.append(sum(float(log_softmax(logits[t - 1])[sequence[t]]) for t in range(keep, len(sequence))))
    return sums[0], sums[1]


def test_reference_logps_are_the_completions_log_probs(model, pairs, reference):
    assert reference.shape == (5, 2) and reference.dtype == np.float32
    expected = np.array([unpadded_logps(model, p) for p in pairs], np.float32)
    np.testing.assert_allclose(reference, expected, atol=1e-5)
    assert (reference < 0).all() and len(set(reference.ravel().tolist())) == 10  # all different


def test_reference_logps_are_what_the_training_loss_sees(model, pairs, reference):
    examples = [PairExample(p.prompt, p.chosen, p.rejected, 0.0, 0.0, 1.0) for p in pairs]
    batcher = Batcher(examples, BatchConfig(batch_size=5, max_length=24, bucket_multiple=8), seed=3)
    assert batcher.truncated == 1
    position = DataPosition(0, 0)
    order = batcher.example_indices(position)[0]
    arrays = batcher.batch_at(position).arrays
    flat = {k: arrays[k][0].reshape(10, -1) for k in ("tokens", "valid", "completion_mask")}
    sequence = _sequence_logps(*nnx.split(model), flat["tokens"], flat["valid"], flat["completion_mask"])
    np.testing.assert_allclose(np.asarray(sequence).reshape(5, 2), reference[order], atol=1e-5)


def test_fewer_pairs_than_a_batch(model, pairs, reference):
    logps = pair_reference_logps(model, pairs[3:], CONFIG)
    np.testing.assert_allclose(logps, reference[3:], atol=1e-5)
