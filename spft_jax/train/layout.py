"""How a micro-batch's sequences are laid out for the model: one padded row per sequence, or
shared prefixes once with their continuations after them.

A training sequence is `prompt + completion` (pairs: two, the chosen and the rejected completion
after one prompt). Text-to-SQL prompts are mostly the database's schema, so the sequences of a
micro-batch repeat long stretches of tokens. Both layouts below give every sequence exactly the
same log-probs (the model math is the same; only fp rounding differs):

- `padded_arrays`: one right-padded row per sequence, [B, T] (pairs [B, 2, T]).
- `grouped_arrays`: sequences that share a prompt prefix form a group; the group's prefix is one
  row of `prefix_tokens` [G, P], and every sequence is a continuation row [N, L] (the rest of its
  prompt, at least its last token, then its completion) that attends to its prefix's keys and
  values (`Decoder.grouped_hidden_states`). The split point is the group's longest common token
  prefix, computed from the ids.

In both, the output head runs only where the loss needs it: `predict_index` [N, K] are the
positions (in the row) whose next token is a completion token, `predict_mask` [N, K] which of
the K slots are real. Sequence n is example n (SFT) or pair n // 2, side n % 2 (0: chosen).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence

import numpy as np

from spft_jax import shape_buckets
from spft_jax.token_prefix import common_prefix_length


@dataclasses.dataclass(frozen=True)
class TrainSequence:
    """One training sequence: the (already truncated) prompt, the completion, the group key."""

    prompt: Sequence[int]
    completion: Sequence[int]
    family: Hashable


def round_up(value: int, multiple: int) -> int:
    """A dimension of `value` positions rounded up to `multiple`, at least one multiple (an
    empty dimension still gets a slot, so every group's arrays have a shape)."""
    return shape_buckets.round_up(max(value, 1), multiple)


def _predictions(starts: Sequence[int], lengths: Sequence[int], width: int):
    """predict_index/predict_mask [N, width]: completion token j of row n sits at starts[n] + j
    and is predicted from the position before it."""
    index = np.zeros((len(starts), width), np.int32)
    mask = np.zeros((len(starts), width), bool)
    for n, (start, length) in enumerate(zip(starts, lengths)):
        index[n, :length] = np.arange(start - 1, start - 1 + length)
        mask[n, :length] = True
    return index, mask


def padded_arrays(sequences: Sequence[TrainSequence], length: int, completion_width: int,
                  pad_id: int) -> dict[str, np.ndarray]:
    """tokens/valid/completion_mask [N, length] and predict_index/predict_mask
    [N, completion_width], one right-padded row per sequence."""
    n = len(sequences)
    tokens = np.full((n, length), pad_id, np.int32)
    valid = np.zeros((n, length), bool)
    mask = np.zeros((n, length), bool)
    for row, s in enumerate(sequences):
        p, total = len(s.prompt), len(s.prompt) + len(s.completion)
        tokens[row, :p] = s.prompt
        tokens[row, p:total] = s.completion
        valid[row, :total] = True
        mask[row, p:total] = True
    index, predict = _predictions([len(s.prompt) for s in sequences],
                                  [len(s.completion) for s in sequences], completion_width)
    return {"tokens": tokens, "valid": valid, "completion_mask": mask, "predict_index": index,
            "predict_mask": predict}


@dataclasses.dataclass(frozen=True)
class GroupedShape:
    """The padded sizes of a grouped micro-batch: groups, prefix slots, continuation slots,
    completion slots."""

    groups: int
    prefix: int
    continuation: int
    completion: int


def groups_of(sequences: Sequence[TrainSequence]) -> tuple[list[list[int]], list[int]]:
    """(members of each group, prefix length of each group): sequences with the same family key
    share a group (in order of first appearance); a None key is a group of its own."""
    index: dict[Hashable, int] = {}
    members: list[list[int]] = []
    for n, s in enumerate(sequences):
        key = ("alone", n) if s.family is None else ("family", s.family)
        if key not in index:
            index[key] = len(members)
            members.append([])
        members[index[key]].append(n)
    prefixes = [common_prefix_length([sequences[n].prompt for n in group]) for group in members]
    return members, prefixes


def grouped_shape(batches: Sequence[Sequence[TrainSequence]], groupings, prefix_bucket,
                  continuation_multiple: int, group_multiple: int) -> GroupedShape:
    """One shape for every micro-batch of a step (they are stacked): the largest of each size,
    bucketed so that few shapes compile. `groupings`: `groups_of` of each micro-batch."""
    groups = prefix = continuation = completion = 1
    for sequences, (members, prefixes) in zip(batches, groupings):
        groups = max(groups, len(members))
        prefix = max(prefix, *prefixes)
        for group, shared in zip(members, prefixes):
            for n in group:
                s = sequences[n]
                continuation = max(continuation, len(s.prompt) - shared + len(s.completion))
                completion = max(completion, len(s.completion))
    return GroupedShape(groups=round_up(shape_buckets.next_power_of_two(groups), group_multiple),
                        prefix=prefix_bucket(prefix),
                        continuation=round_up(continuation, continuation_multiple),
                        completion=round_up(completion, continuation_multiple))


def grouped_arrays(sequences: Sequence[TrainSequence], grouping, shape: GroupedShape,
                   pad_id: int) -> dict[str, np.ndarray]:
    """prefix_tokens/prefix_valid [G, P], tokens/valid [N, L], group [N],
    predict_index/predict_mask [N, K]; `grouping`: `groups_of(sequences)`."""
    members, prefixes = grouping
    n = len(sequences)
    prefix_tokens = np.full((shape.groups, shape.prefix), pad_id, np.int32)
    prefix_valid = np.zeros((shape.groups, shape.prefix), bool)
    tokens = np.full((n, shape.continuation), pad_id, np.int32)
    valid = np.zeros((n, shape.continuation), bool)
    group = np.zeros((n,), np.int32)
    starts = [0] * n
    for g, (rows, shared) in enumerate(zip(members, prefixes)):
        prompt = sequences[rows[0]].prompt
        prefix_tokens[g, :shared] = prompt[:shared]
        prefix_valid[g, :shared] = True
        for row in rows:
            s = sequences[row]
            rest = list(s.prompt[shared:]) + list(s.completion)
            tokens[row, :len(rest)] = rest
            valid[row, :len(rest)] = True
            group[row] = g
            starts[row] = len(s.prompt) - shared
    index, predict = _predictions(starts, [len(s.completion) for s in sequences], shape.completion)
    return {"prefix_tokens": prefix_tokens, "prefix_valid": prefix_valid, "tokens": tokens,
            "valid": valid, "group": group, "predict_index": index, "predict_mask": predict}


def example_tokens(sequences: Sequence[TrainSequence]) -> int:
    """Tokens of the sequences as written out one by one (prompt + completion each)."""
    return sum(len(s.prompt) + len(s.completion) for s in sequences)


def computed_tokens(arrays: dict[str, np.ndarray]) -> int:
    """Token positions the model actually computes for a laid-out batch (non-padding)."""
    total = int(arrays["valid"].sum())
    if "prefix_valid" in arrays:
        total += int(arrays["prefix_valid"].sum())
    return total
