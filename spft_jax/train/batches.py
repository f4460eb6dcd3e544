"""Fixed-shape padded training batches from tokenised examples, in a reproducible order.

    batcher = Batcher(examples, BatchConfig(batch_size=8, micro_batches=2, max_length=512), seed=0)
    batch = batcher.batch_at(DataPosition(epoch=0, index=3))   # numpy arrays, [micro, batch, ...]

- Every example is `prompt + completion` token ids (pairs: one prompt, a chosen and a rejected
  completion, the reference log-probs of both and R = opponent_wrong). Sequences are
  right-padded (training needs no left alignment) with `valid` and `completion_mask`.
- A sequence longer than `max_length` loses tokens from the left of its prompt (at least one
  prompt token stays, so the first completion token has a position that predicts it); how many
  examples were cut is `Batcher.truncated`. Reference log-probs given with a pair must have been
  computed on the same truncated sequences (e.g. with batches from this module).
- The padded length of a batch is the smallest bucket (multiples of `bucket_multiple`, capped
  at `max_length`) that holds its longest sequence, so a run compiles at most a few shapes.
- The order is a permutation per epoch drawn from (seed, epoch), so any batch can be rebuilt
  from its `DataPosition` alone; that position is what a checkpoint stores. The last partial
  batch of an epoch is dropped (it would change the shape, or weigh pad pairs in a pair mean);
  a different permutation drops different examples each epoch. Examples with a `family` (their
  database: the examples whose prompts share the schema) are ordered in runs of up to
  `group_size` examples of one family, the runs shuffled, so a micro-batch holds a few groups
  that share a prompt prefix and a step still mixes databases.
- Layout (`spft_jax.train.layout`): with `share_prefix`, each micro-batch's groups have their
  shared prompt prefix computed once and their sequences as continuations after it; without,
  one padded row per sequence. Which examples form each batch does not depend on the switch;
  only the layout does. Both carry `predict_index` / `predict_mask`, the positions whose
  next-token log-probs the loss needs, so the output head runs on completion positions only.
- Multi-host: every host knows every example's length (cheap), so all hosts agree on the
  bucket, but each builds arrays only for its own rows of the global batch (`rows`). The shared
  layout is built whole on every host (rows refer to its continuations, which may continue
  another host's prefix): place it with `spft_jax.parallel.distributed.put_global`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Iterator, Sequence

import numpy as np

from spft_jax.errors import ConfigError, DataError
from spft_jax.train import layout


@dataclasses.dataclass(frozen=True)
class SftExample:
    prompt: Sequence[int]
    completion: Sequence[int]
    family: Hashable = None  # examples of one family share a prompt prefix (their database)


@dataclasses.dataclass(frozen=True)
class PairExample:
    prompt: Sequence[int]
    chosen: Sequence[int]  # the gold SQL's tokens
    rejected: Sequence[int]  # the opponent's SQL's tokens
    reference_chosen: float  # summed completion log-probs under the reference (the opponent)
    reference_rejected: float
    opponent_wrong: float  # R: 1.0 when the opponent's SQL executed to a different result
    family: Hashable = None  # pairs of one family share a prompt prefix (their database)


@dataclasses.dataclass(frozen=True)
class BatchConfig:
    batch_size: int = 8  # sequences (SFT) or pairs per micro-batch, over all hosts
    micro_batches: int = 1  # micro-batches per optimizer step (gradient accumulation)
    max_length: int = 1024  # longest padded sequence; longer prompts are cut from the left
    bucket_multiple: int = 64  # padded lengths are multiples of this (and max_length itself)
    pad_id: int = 0  # token id written into padding (masked out everywhere)
    share_prefix: bool = False  # a group's shared prompt prefix computed once (see layout.py)
    group_size: int = 8  # examples of one family kept together in the order
    continuation_multiple: int = 32  # padded continuation / completion lengths (few shapes)
    group_multiple: int = 1  # prefix groups per micro-batch padded to a multiple of this

    def __post_init__(self):
        for field in ("batch_size", "micro_batches", "max_length", "bucket_multiple",
                      "group_size", "continuation_multiple", "group_multiple"):
            value = getattr(self, field)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"batch config field {field!r}: must be a positive int, got {value!r}")
        if self.max_length < 2:
            raise ConfigError(f"batch config field 'max_length': must be at least 2, got {self.max_length}")

    @property
    def global_batch(self) -> int:
        """Examples per optimizer step."""
        return self.batch_size * self.micro_batches

    @property
    def buckets(self) -> tuple[int, ...]:
        sizes = list(range(self.bucket_multiple, self.max_length, self.bucket_multiple))
        return (*sizes, self.max_length)

    def bucket_for(self, length: int) -> int:
        return next(b for b in self.buckets if b >= length)


@dataclasses.dataclass(frozen=True, order=True)
class DataPosition:
    """Where the data stream stands: the next batch is batch `index` of epoch `epoch`."""

    epoch: int = 0
    index: int = 0


@dataclasses.dataclass(frozen=True)
class Batch:
    position: DataPosition  # where this batch sits in the stream
    arrays: dict[str, np.ndarray]  # this host's rows, [micro, rows, ...]
    num_tokens: int  # non-padding tokens in the whole global batch (all hosts)
    length: int  # the padded length (the bucket)


class Batcher:
    """Pads, buckets and orders a list of examples into fixed-shape batches."""

    def __init__(self, examples: Sequence[SftExample] | Sequence[PairExample], config: BatchConfig,
                 seed: int = 0):
        if not examples:
            raise DataError("no training examples")
        kinds = {type(e) for e in examples}
        if len(kinds) != 1 or not kinds <= {SftExample, PairExample}:
            names = sorted(k.__name__ for k in kinds)
            raise DataError(f"examples must be all SftExample or all PairExample, got {names}")
        if len(examples) < config.global_batch:
            raise DataError(f"{len(examples)} examples are fewer than one batch of {config.global_batch} "
                            f"(batch_size x micro_batches)")
        self.config = config
        self.seed = seed
        self.pairwise = kinds == {PairExample}
        self._examples = list(examples)
        self._prompt_keep = np.empty(len(examples), np.int64)  # prompt tokens kept (from the right)
        self._lengths = np.empty(len(examples), np.int64)  # longest sequence of the example
        self._tokens = np.empty(len(examples), np.int64)  # non-padding tokens of the example
        for i, example in enumerate(self._examples):
            completions = [example.chosen, example.rejected] if self.pairwise else [example.completion]
            longest = max(len(c) for c in completions)
            if min(len(c) for c in completions) < 1:
                raise DataError(f"example {i}: empty completion")
            if len(example.prompt) < 1:
                raise DataError(f"example {i}: empty prompt (a completion needs a position before it)")
            if longest > config.max_length - 1:
                raise DataError(f"example {i}: a completion of {longest} tokens does not fit "
                                f"max_length={config.max_length} with at least one prompt token")
            keep = min(len(example.prompt), config.max_length - longest)
            self._prompt_keep[i] = keep
            self._lengths[i] = keep + longest
            self._tokens[i] = sum(keep + len(c) for c in completions)
        self.truncated = int(sum(k < len(e.prompt) for k, e in zip(self._prompt_keep, self._examples)))

    def __len__(self) -> int:
        return len(self._examples)

    @property
    def batches_per_epoch(self) -> int:
        return len(self._examples) // self.config.global_batch

    def order(self, epoch: int) -> np.ndarray:
        """The example indices of `epoch` in training order (a permutation from (seed, epoch)):
        uniform, or with families runs of up to `group_size` examples of one family, the runs in
        random order."""
        rng = np.random.default_rng([self.seed, epoch])
        if all(e.family is None for e in self._examples):
            return rng.permutation(len(self._examples))
        members: dict = {}
        for i, example in enumerate(self._examples):
            key = ("alone", i) if example.family is None else ("family", example.family)
            members.setdefault(key, []).append(i)
        runs = []
        for indices in members.values():  # insertion order: deterministic
            indices = rng.permutation(indices)
            runs += [indices[at:at + self.config.group_size]
                     for at in range(0, len(indices), self.config.group_size)]
        return np.concatenate([runs[k] for k in rng.permutation(len(runs))])

    def advance(self, position: DataPosition) -> DataPosition:
        """The position after the batch at `position`."""
        if position.index + 1 < self.batches_per_epoch:
            return DataPosition(position.epoch, position.index + 1)
        return DataPosition(position.epoch + 1, 0)

    def example_indices(self, position: DataPosition) -> np.ndarray:
        """The examples of the global batch at `position`, as [micro, batch] indices."""
        if not 0 <= position.index < self.batches_per_epoch:
            raise ValueError(f"batch index {position.index} outside 0..{self.batches_per_epoch - 1}")
        size = self.config.global_batch
        chosen = self.order(position.epoch)[position.index * size:(position.index + 1) * size]
        return chosen.reshape(self.config.micro_batches, self.config.batch_size)

    def batch_at(self, position: DataPosition, rows: Sequence[int] | None = None) -> Batch:
        """The batch at `position`; with `rows`, only those rows (batch-axis indices within each
        micro-batch) are built, in the order given — a host's share of the global batch."""
        indices = self.example_indices(position)
        num_tokens = int(self._tokens[indices].sum())
        if self.config.share_prefix:
            arrays = self._grouped(indices)
            return Batch(position, arrays, num_tokens, arrays["tokens"].shape[-1])
        length = self.config.bucket_for(int(self._lengths[indices].max()))
        width = self._completion_width(indices)
        if rows is not None:
            indices = indices[:, np.asarray(rows, np.int64)]
        return Batch(position, self._padded(indices, length, width), num_tokens, length)

    def arrays_for(self, indices: Sequence[int] | np.ndarray) -> dict[str, np.ndarray]:
        """The given examples in the given order, laid out and truncated exactly as in training:
        indices [N] give one micro-batch [1, N, ...] (for no-gradient passes over every example,
        such as the opponent's reference log-probs); indices [micro, N] give a whole step's
        batch [micro, N, ...] (GRPO trains on the rollout it just sampled, in its order)."""
        indices = np.asarray(indices, np.int64)
        if indices.ndim == 1:
            indices = indices[None, :]
        if self.config.share_prefix:
            return self._grouped(indices)
        length = self.config.bucket_for(int(self._lengths[indices].max()))
        return self._padded(indices, length, self._completion_width(indices))

    def iterate(self, start: DataPosition = DataPosition(), rows: Sequence[int] | None = None
                ) -> Iterator[Batch]:
        """Batches from `start` on, forever (epoch after epoch)."""
        position = start
        while True:
            yield self.batch_at(position, rows)
            position = self.advance(position)

    # -- array building ------------------------------------------------------------------------

    def _truncated_prompt(self, i: int) -> Sequence[int]:
        prompt = self._examples[i].prompt
        return prompt[len(prompt) - int(self._prompt_keep[i]):]

    def sequences(self, indices: Sequence[int]) -> list[layout.TrainSequence]:
        """The training sequences of examples `indices`: one per SFT example, two per pair
        (chosen, rejected), prompts truncated as in training."""
        out = []
        for i in indices:
            example, prompt = self._examples[i], self._truncated_prompt(i)
            completions = ((example.chosen, example.rejected) if self.pairwise
                           else (example.completion,))
            out += [layout.TrainSequence(prompt, c, example.family) for c in completions]
        return out

    def _completion_width(self, indices: np.ndarray) -> int:
        longest = max(len(s.completion) for s in self.sequences(indices.ravel()))
        return layout.round_up(longest, self.config.continuation_multiple)

    def _pair_fields(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        reference = np.zeros((*indices.shape, 2), np.float32)
        wrong = np.zeros(indices.shape, np.float32)
        for (m, b), i in np.ndenumerate(indices):
            example = self._examples[i]
            reference[m, b] = (example.reference_chosen, example.reference_rejected)
            wrong[m, b] = example.opponent_wrong
        return {"reference_logps": reference, "opponent_wrong": wrong}

    def _padded(self, indices: np.ndarray, length: int, width: int) -> dict[str, np.ndarray]:
        """[micro, B, T] (pairs [micro, B, 2, T]) rows, predictions [..., width]."""
        micro, rows = indices.shape
        per_micro = [layout.padded_arrays(self.sequences(indices[m]), length, width,
                                          self.config.pad_id) for m in range(micro)]
        side = (2,) if self.pairwise else ()
        arrays = {k: np.stack([a[k] for a in per_micro]).reshape(micro, rows, *side, -1)
                  for k in per_micro[0]}
        if self.pairwise:
            arrays.update(self._pair_fields(indices))
        return arrays

    def _grouped(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        """[micro, G, P] prefixes, [micro, N, L] continuations (see layout.grouped_arrays)."""
        config = self.config
        batches = [self.sequences(indices[m]) for m in range(indices.shape[0])]
        groupings = [layout.groups_of(s) for s in batches]
        shape = layout.grouped_shape(batches, groupings, config.bucket_for,
                                     config.continuation_multiple, config.group_multiple)
        per_micro = [layout.grouped_arrays(s, g, shape, config.pad_id)
                     for s, g in zip(batches, groupings)]
        arrays = {k: np.stack([a[k] for a in per_micro]) for k in per_micro[0]}
        if self.pairwise:
            arrays.update(self._pair_fields(indices))
        return arrays
