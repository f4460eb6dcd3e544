"""Static shapes for the sampler: prompt-length buckets, batch sizes, left padding.

Every distinct (batch, bucket, max_new_tokens) compiles the prefill and decode loop once, so
prompts are left-padded to one of a few lengths and batches to a few sizes. Left padding puts the
last prompt token of every row in the same column, so all rows write their generated tokens at
the same cache slot and decode in lock-step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from spft_jax.errors import ConfigError
from spft_jax.sampling.params import SamplingError

DEFAULT_MIN_BUCKET = 16


def default_buckets(max_length: int, min_length: int = DEFAULT_MIN_BUCKET) -> tuple[int, ...]:
    """Powers of two and their midpoints (16, 24, 32, 48, 64, 96, ...) up to the first that
    holds max_length: at most a third of a padded prompt is padding, with two shapes per octave."""
    buckets = [min_length]
    while buckets[-1] < max_length:
        power = 1 << (buckets[-1].bit_length() - 1)
        buckets.append(power * 3 // 2 if buckets[-1] == power else power * 2)
    return tuple(buckets)


def check_buckets(buckets: Sequence[int]) -> tuple[int, ...]:
    values = tuple(buckets)
    if not values or any(not isinstance(b, int) or b <= 0 for b in values):
        raise ConfigError(f"sampler field 'prompt_buckets': must be positive ints, got {values!r}")
    return tuple(sorted(set(values)))


def bucket_for(length: int, buckets: Sequence[int] | None) -> int:
    """The smallest bucket that holds `length` tokens (default buckets: `default_buckets`)."""
    if buckets is None:
        return default_buckets(length)[-1]
    for bucket in buckets:
        if bucket >= length:
            return bucket
    raise SamplingError(
        f"a prompt of {length} tokens is longer than the largest prompt bucket ({buckets[-1]})"
    )


def _next_power_of_two(value: int) -> int:
    return 1 << max(value - 1, 0).bit_length()


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def padded_batch_size(rows: int, multiple: int, cap: int | None = None) -> int:
    """Rows rounded up to a power of two (at most `cap`, when given), then to a multiple of
    `multiple` (the data-parallel size), so a handful of batch shapes cover every call."""
    size = _next_power_of_two(rows)
    if cap is not None:
        size = max(rows, min(size, cap))
    return _round_up(size, multiple)


@dataclasses.dataclass
class PromptBlock:
    """Prompts prefilled together: tokens/valid [rows, Tp] left-padded to their own bucket Tp;
    indices: the caller's prompt index of each real row (rows past them are padding)."""

    indices: list[int]
    tokens: np.ndarray
    valid: np.ndarray


@dataclasses.dataclass
class PromptGroup:
    """Prompts decoded together in one lock-step batch of `rows` prompt rows (before the n-fold
    repeat), padded to `bucket`: the blocks' rows in order, then padding rows."""

    blocks: list[PromptBlock]
    bucket: int
    rows: int

    @property
    def row_prompts(self) -> list[int]:
        """The caller's prompt index of every prompt row, -1 for padding rows."""
        out = []
        for block in self.blocks:
            out += block.indices + [-1] * (block.tokens.shape[0] - len(block.indices))
        return out + [-1] * (self.rows - len(out))


def left_pad(prompts: Sequence[Sequence[int]], rows: int, length: int,
             pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    tokens = np.full((rows, length), pad_id, np.int32)
    valid = np.zeros((rows, length), bool)
    for row, ids in enumerate(prompts):
        tokens[row, length - len(ids):] = ids
        valid[row, length - len(ids):] = True
    return tokens, valid


def group_prompts(prompts: Sequence[Sequence[int]], max_prompts: int, buckets: Sequence[int] | None,
                  batch_multiple: int, pad_id: int, prefill_tokens: int) -> list[PromptGroup]:
    """Sorts prompts by length, cuts them into decode groups of at most `max_prompts` and each
    group into prefill blocks (powers of two of prompts, so few shapes compile).

    A group decodes at the bucket of its longest prompt. One big group per call (rather than
    one per bucket) keeps the number of lock-step decode loops small, which matters more than
    the decode cache's padding when generations are long. A block holds at most
    `prefill_tokens` prompt tokens (at least `batch_multiple` rows, a power of two times it)
    and is padded to the bucket of its own longest prompt.
    """
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    groups = []
    for start in range(0, len(order), max_prompts):
        indices = order[start:start + max_prompts]
        bucket = bucket_for(len(prompts[indices[-1]]), buckets)
        blocks, at = [], 0
        while at < len(indices):
            remaining = len(indices) - at
            # Rows per block: a power of two no larger than what is left (no padding rows to
            # prefill, and few distinct shapes), halved until the block fits the token budget;
            # never fewer than the data-parallel multiple, which a block is padded to anyway.
            rows = 1 << (remaining.bit_length() - 1)
            if rows < batch_multiple:
                rows = min(remaining, batch_multiple)
            while rows > max(batch_multiple, 1):
                last = indices[min(at + rows, len(indices)) - 1]
                if rows * bucket_for(len(prompts[last]), buckets) <= prefill_tokens:
                    break
                rows = max(rows // 2, min(remaining, batch_multiple))
            members = indices[at:at + rows]
            length = bucket_for(len(prompts[members[-1]]), buckets)
            tokens, valid = left_pad([prompts[i] for i in members],
                                     _round_up(rows, batch_multiple), length, pad_id)
            blocks.append(PromptBlock(members, tokens, valid))
            at += len(members)
        block_rows = sum(block.tokens.shape[0] for block in blocks)
        rows = max(padded_batch_size(len(indices), batch_multiple, cap=max_prompts), block_rows)
        groups.append(PromptGroup(blocks, bucket, _round_up(rows, batch_multiple)))
    return groups
