"""Static shapes for the sampler: prompt-length buckets, batch sizes, left padding.

Every distinct (rows, bucket) compiles the prefill once and every (batch, ring capacity,
max_new_tokens) the decode loop once, so prompts are left-padded to one of a few lengths and
batches to a few sizes. Left padding puts the last prompt token of every row in the last column,
so a block of prompts enters the decode ring together and decodes in lock-step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from spft_jax.errors import ConfigError
from spft_jax.shape_buckets import next_power_of_two, round_up
from spft_jax.sampling.params import SamplingError

DEFAULT_MIN_BUCKET = 16


def _bucket_step(length: int) -> int:
    """Eight buckets per octave (never finer than 16 tokens): a padded prompt is at most ~1/8
    padding, so a 391-token prompt pays for 416 positions, not 512."""
    octave = 1 << max(length.bit_length() - 1, 0)
    return max(DEFAULT_MIN_BUCKET, octave // 8)


def default_buckets(max_length: int, min_length: int = DEFAULT_MIN_BUCKET) -> tuple[int, ...]:
    """Multiples of 16 up to 256, of 32 up to 512, of 64 up to 1024, ... up to the first that
    holds max_length (see `_bucket_step`)."""
    buckets = [min_length]
    while buckets[-1] < max_length:
        buckets.append(buckets[-1] + _bucket_step(buckets[-1]))
    return tuple(buckets)


def check_buckets(buckets: Sequence[int]) -> tuple[int, ...]:
    values = tuple(buckets)
    if not values or any(not isinstance(b, int) or b <= 0 for b in values):
        raise ConfigError(f"sampler field 'prompt_buckets': must be positive ints, got {values!r}")
    return tuple(sorted(set(values)))


def bucket_for(length: int, buckets: Sequence[int] | None) -> int:
    """The smallest bucket that holds `length` tokens (default buckets: `default_buckets`)."""
    if buckets is None:
        if length <= DEFAULT_MIN_BUCKET:
            return DEFAULT_MIN_BUCKET
        step = _bucket_step(length)
        return round_up(length, step)
    for bucket in buckets:
        if bucket >= length:
            return bucket
    raise SamplingError(
        f"a prompt of {length} tokens is longer than the largest prompt bucket ({buckets[-1]})"
    )


def padded_batch_size(rows: int, multiple: int, cap: int | None = None) -> int:
    """Rows rounded up to a power of two (at most `cap`, when given), then to a multiple of
    `multiple` (the data-parallel size), so a handful of batch shapes cover every call."""
    size = next_power_of_two(rows)
    if cap is not None:
        size = max(rows, min(size, cap))
    return round_up(size, multiple)


@dataclasses.dataclass
class PromptBlock:
    """Prompts prefilled together: tokens/valid [rows, Tp] left-padded to their own bucket Tp;
    indices: the caller's prompt index of each real row (rows past them are padding)."""

    indices: list[int]
    tokens: np.ndarray
    valid: np.ndarray


def left_pad(prompts: Sequence[Sequence[int]], rows: int, length: int,
             pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    tokens = np.full((rows, length), pad_id, np.int32)
    valid = np.zeros((rows, length), bool)
    for row, ids in enumerate(prompts):
        tokens[row, length - len(ids):] = ids
        valid[row, length - len(ids):] = True
    return tokens, valid


def ring_capacity(width: int, max_new_tokens: int) -> int:
    """Decode-ring slots for prompts of at most `width` (bucketed) tokens: a row's whole sequence
    fits, rounded to a multiple of 16 (64 past 128 slots) so few capacities compile."""
    total = width + max_new_tokens
    return round_up(total, 16 if total <= 128 else 64)


def prefill_blocks(indices: Sequence[int], prompts: Sequence[Sequence[int]],
                   buckets: Sequence[int] | None, batch_multiple: int, pad_id: int,
                   prefill_tokens: int) -> list[PromptBlock]:
    """Cuts the prompts `indices` (in order; sorted by length keeps padding low) into prefill
    blocks, each left-padded to the bucket of its own longest prompt.

    Rows per block: a power of two no larger than what is left (no padding rows to prefill, and
    few distinct shapes), halved until the block fits `prefill_tokens` (rows x bucket); never
    fewer than the data-parallel multiple, which a block is padded to anyway.
    """
    blocks, at = [], 0
    while at < len(indices):
        remaining = len(indices) - at
        rows = 1 << (remaining.bit_length() - 1)
        if rows < batch_multiple:
            rows = min(remaining, batch_multiple)
        while rows > max(batch_multiple, 1):
            last = indices[min(at + rows, len(indices)) - 1]
            if rows * bucket_for(len(prompts[last]), buckets) <= prefill_tokens:
                break
            rows = max(rows // 2, min(remaining, batch_multiple))
        members = list(indices[at:at + rows])
        length = max(bucket_for(len(prompts[i]), buckets) for i in members)
        tokens, valid = left_pad([prompts[i] for i in members],
                                 round_up(len(members), batch_multiple), length, pad_id)
        blocks.append(PromptBlock(members, tokens, valid))
        at += len(members)
    return blocks
