"""Buckets, left padding, decode groups and prefill blocks."""

import numpy as np
import pytest

from spft_jax.errors import ConfigError
from spft_jax.sampling.batching import (
    bucket_for, check_buckets, default_buckets, padded_batch_size, prefill_blocks, ring_capacity,
)
from spft_jax.sampling.params import SamplingError


def test_default_buckets_are_eight_per_octave():
    assert default_buckets(100) == (16, 32, 48, 64, 80, 96, 112)
    # At most ~1/8 of a padded prompt is padding: 391 tokens pay for 416, not 512.
    assert [bucket_for(n, None) for n in (1, 17, 391, 1100)] == [16, 32, 416, 1152]
    for length in range(1, 3000):
        bucket = bucket_for(length, None)
        assert length <= bucket <= max(16, length * 1.125 + 16)
        assert bucket in default_buckets(length)
    assert bucket_for(5, (4, 8)) == 8 and bucket_for(8, (4, 8)) == 8
    with pytest.raises(SamplingError, match="longer than the largest prompt bucket"):
        bucket_for(9, (4, 8))
    assert check_buckets([64, 16, 16]) == (16, 64)
    with pytest.raises(ConfigError, match="prompt_buckets"):
        check_buckets([16, 0])


def test_batch_sizes():
    assert [padded_batch_size(r, 1) for r in (1, 2, 3, 5, 9)] == [1, 2, 4, 8, 16]
    assert padded_batch_size(3, 4) == 4 and padded_batch_size(5, 4) == 8
    assert padded_batch_size(5, 1, cap=6) == 6 and padded_batch_size(6, 4, cap=6) == 8


def test_prefill_blocks():
    prompts = [[7] * n for n in (5, 1, 12, 3, 30, 2)]
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))  # 1, 2, 3, 5, 12, 30
    blocks = prefill_blocks(order, prompts, buckets=(4, 8, 16, 32), batch_multiple=1, pad_id=0,
                            prefill_tokens=16)
    # Blocks hold at most 16 prompt tokens, each padded to its own longest prompt's bucket.
    assert [b.indices for b in blocks] == [[1, 5], [3, 0], [2], [4]]
    assert [b.tokens.shape for b in blocks] == [(2, 4), (2, 8), (1, 16), (1, 32)]
    # Left padding: the last prompt token in the last column.
    block = blocks[1]
    np.testing.assert_array_equal(block.valid[0], [False] * 5 + [True] * 3)
    np.testing.assert_array_equal(block.tokens[1], [0, 0, 0, 7, 7, 7, 7, 7])


def test_blocks_follow_the_data_parallel_multiple():
    prompts = [[1] * n for n in (3, 4, 5)]
    (block,) = prefill_blocks([0, 1, 2], prompts, buckets=None, batch_multiple=4, pad_id=0,
                              prefill_tokens=8192)
    # Three prompts, blocks padded to a multiple of 4 rows: one block of all three.
    assert block.indices == [0, 1, 2] and block.tokens.shape == (4, 16)
    assert not block.valid[3].any()
    # Seven prompts: a block of 4 and a block of 3 (padded to 4).
    blocks = prefill_blocks(list(range(7)), [[1] * 3] * 7, buckets=None, batch_multiple=4,
                            pad_id=0, prefill_tokens=8192)
    assert [len(b.indices) for b in blocks] == [4, 3]
    assert [b.tokens.shape[0] for b in blocks] == [4, 4]


def test_ring_capacity_holds_a_whole_sequence():
    assert ring_capacity(16, 4) == 32
    assert ring_capacity(416, 80) == 512
    for width in (16, 100, 1000):
        for new in (1, 64, 300):
            assert ring_capacity(width, new) >= width + new
