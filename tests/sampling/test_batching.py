"""Buckets, left padding, decode groups and prefill blocks."""

import numpy as np
import pytest

from spft_jax.errors import ConfigError
from spft_jax.sampling.batching import (
    bucket_for, check_buckets, default_buckets, group_prompts, padded_batch_size,
)
from spft_jax.sampling.params import SamplingError


def test_default_buckets_are_powers_of_two_and_midpoints():
    assert default_buckets(100) == (16, 24, 32, 48, 64, 96, 128)
    assert [bucket_for(n, None) for n in (1, 17, 1100)] == [16, 24, 1536]
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


def test_groups_and_blocks():
    prompts = [[7] * n for n in (5, 1, 12, 3, 30, 2)]
    groups = group_prompts(prompts, max_prompts=4, buckets=(4, 8, 16, 32), batch_multiple=1,
                           pad_id=0, prefill_tokens=16)
    # Sorted by length: 1, 2, 3, 5 | 12, 30.
    assert [g.bucket for g in groups] == [8, 32]
    first, second = groups
    # Blocks hold at most 16 prompt tokens, each padded to its own longest prompt's bucket.
    assert [b.indices for b in first.blocks] == [[1, 5], [3, 0]]
    assert [b.tokens.shape for b in first.blocks] == [(2, 4), (2, 8)]
    assert first.rows == 4 and first.row_prompts == [1, 5, 3, 0]
    # Left padding: the last prompt token in the last column.
    block = first.blocks[1]
    np.testing.assert_array_equal(block.valid[0], [False] * 5 + [True] * 3)
    np.testing.assert_array_equal(block.tokens[1], [0, 0, 0, 7, 7, 7, 7, 7])
    # 12 and 30 tokens: one block each (2 x 32 > 16), each padded to its own bucket.
    assert [b.indices for b in second.blocks] == [[2], [4]]
    assert [b.tokens.shape for b in second.blocks] == [(1, 16), (1, 32)]
    assert second.rows == 2 and second.row_prompts == [2, 4]


def test_blocks_and_batch_follow_the_data_parallel_multiple():
    prompts = [[1] * n for n in (3, 4, 5)]
    (group,) = group_prompts(prompts, max_prompts=8, buckets=None, batch_multiple=4, pad_id=0,
                             prefill_tokens=8192)
    # Three prompts, blocks padded to a multiple of 4 rows: one block of all three.
    assert [b.indices for b in group.blocks] == [[0, 1, 2]]
    assert group.blocks[0].tokens.shape == (4, 16)
    assert group.rows == 4 and group.row_prompts == [0, 1, 2, -1]
    assert not group.blocks[0].valid[3].any()
    # Seven prompts: a block of 4 and a block of 3 (padded to 4), then one padding row.
    (group,) = group_prompts([[1] * 3] * 7, max_prompts=8, buckets=None, batch_multiple=4,
                             pad_id=0, prefill_tokens=8192)
    assert [len(b.indices) for b in group.blocks] == [4, 3]
    assert group.rows == 8 and group.row_prompts == [0, 1, 2, 3, 4, 5, 6, -1]
