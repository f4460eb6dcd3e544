"""Integer rounding for array shapes: the sampler's batches and the training layout round their
sizes up to a few values so XLA compiles a handful of shapes, not one per batch."""

from __future__ import annotations


def round_up(value: int, multiple: int) -> int:
    """`value` rounded up to a multiple of `multiple` (0 stays 0)."""
    return -(-value // multiple) * multiple


def next_power_of_two(value: int) -> int:
    """The smallest power of two >= `value` (1 for 0 and 1)."""
    return 1 << max(value - 1, 0).bit_length()
