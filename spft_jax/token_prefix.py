"""The common prefix of token-id sequences: what the sampler prefills once and what a training
group computes once (a Text-to-SQL prompt's chat header and schema)."""

from __future__ import annotations

from collections.abc import Sequence


def common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """The length of the sequences' longest common prefix, less one token, so every sequence
    keeps at least its last token after the prefix (the one that predicts what follows)."""
    first = sequences[0]
    length = min(len(s) for s in sequences) - 1
    for other in sequences[1:]:
        at = 0
        while at < length and other[at] == first[at]:
            at += 1
        length = at
    return max(length, 0)
