"""The batched sampler: token-id prompts in, `Completion`s out.

    sampler = Sampler(model, tokenizer, mesh=None)
    completions = sampler.generate(prompt_ids, SamplingParams(max_new_tokens=128, n=4,
                                                              temperature=0.8, stop=("\\n\\n",)))
    completions[i][j]  # prompt i, sample j: token_ids, text, logprobs, finish_reason

Prompts are sorted by length and queued; a decode batch of at most `max_batch_rows` rows takes
them in prefill blocks (left-padded to a length bucket) and runs the jitted decode loop of
`spft_jax.sampling.decode`. When a row finishes (EOS, max_new_tokens or a stop string), its
result is read and a queued prompt takes its place while the other rows keep going, so no row
idles until the longest of its batch ends. A common token prefix of the prompts (a Text-to-SQL
prompt's schema) is prefilled once and shared by every row. The host looks at the batch between
device calls: when enough rows are done to refill, and every `stop_check_interval` steps when
stop strings are set. Log-probs are those of the model's own distribution (log_softmax
of the raw logits, temperature 1, before any top-k/top-p), whatever the sampling settings.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Hashable, Sequence
from typing import Protocol

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.sharding import Mesh

from spft_jax.errors import ConfigError
from spft_jax.models.decoder import Decoder
from spft_jax.parallel.distributed import put_global, to_host
from spft_jax.sampling import batching
from spft_jax.sampling.decode import (
    CompiledSampling, DecodeSpec, DecodeState, PrefillBlock, auto_mesh, batch_sharding, on_mesh,
    replicated,
)
from spft_jax.parallel.rules import data_parallel_size
from spft_jax.sampling.filters import TokenChoice
from spft_jax.sampling.params import SamplingParams, check_prompts
from spft_jax.sampling.stops import StopMatch, find_stop
from spft_jax.token_prefix import common_prefix_length

# A common prefix shorter than this is not worth a prefill call of its own.
MIN_SHARED_PREFIX = 32

class TextDecoder(Protocol):
    def decode(self, ids: Sequence[int]) -> str: ...


@dataclasses.dataclass(frozen=True)
class Completion:
    """One sample for one prompt.

    token_ids: the generated tokens, the EOS token included when the row ended on one, and
    through the token that completed the stop string when one matched (the text may end before
    that token's last characters); logprobs: one per token id, log p(token | prefix) under the
    model at temperature 1 without filtering; text: decoded without the EOS token and cut at the
    stop string (kept or not, per `include_stop_str`); finish_reason: "eos", "stop" or "length".
    """

    prompt_index: int
    sample_index: int
    token_ids: list[int]
    text: str
    logprobs: list[float]
    finish_reason: str
    stop: str | None = None  # the stop string that matched, for finish_reason "stop"

    @property
    def truncated(self) -> bool:
        """True when the completion was cut by max_new_tokens."""
        return self.finish_reason == "length"


@dataclasses.dataclass
class GeneratedArrays:
    """Every completion as fixed-shape arrays; row prompt_index * n + sample_index.

    tokens [rows, max_new_tokens] int32 (pad id after each row's length), logprobs the same
    shape float32 (0 after the length), lengths [rows]; texts / finish_reasons / stops per row.
    """

    tokens: np.ndarray
    logprobs: np.ndarray
    lengths: np.ndarray
    texts: list[str]
    finish_reasons: list[str]
    stops: list[str | None]
    n: int

    def completions(self) -> list[list[Completion]]:
        out = []
        for prompt in range(len(self.lengths) // self.n):
            samples = []
            for sample in range(self.n):
                row = prompt * self.n + sample
                length = int(self.lengths[row])
                samples.append(Completion(
                    prompt_index=prompt, sample_index=sample,
                    token_ids=self.tokens[row, :length].tolist(), text=self.texts[row],
                    logprobs=self.logprobs[row, :length].tolist(),
                    finish_reason=self.finish_reasons[row], stop=self.stops[row],
                ))
            out.append(samples)
        return out


@functools.lru_cache(maxsize=8)
def _compiled_for(graphdef, mesh: Mesh | None, config) -> CompiledSampling:
    # Shared by every Sampler over the same model structure, so a new Sampler for new weights
    # (each self-play iteration) reuses the compiled executables.
    return CompiledSampling(graphdef, mesh, config)


def common_prefix(sequences: Sequence[Sequence[int]]) -> list[int]:
    """The longest common prefix, less one token, so every sequence keeps a suffix."""
    return list(sequences[0][:common_prefix_length(sequences)])


class Sampler:
    """Generates completions from a `Decoder`.

    tokenizer: anything with `decode(ids) -> str` (needed for texts and stop strings);
    mesh: when given, batch rows go over its data-parallel axes ("data", and "fsdp" when present,
    per the logical "batch" rule of `spft_jax.parallel.rules`); the batch is padded up to a
    multiple of their size. The parameters stay where the caller placed them (an unplaced array
    is replicated); an Explicit-axes mesh is used through its Auto view (see `auto_mesh`).
    eos_token_ids: ids that end a row; default: the tokenizer's and the model config's.
    pad_token_id: fills finished and padding positions; default: the tokenizer's pad id, else
    the first EOS id.
    prompt_buckets: allowed padded prompt lengths (default: powers of two from 16 and their
    midpoints, see `batching.default_buckets`);
    max_batch_rows: rows (prompts x n) decoded together; more prompts queue and take the rows
    of finished ones;
    prefill_tokens: prompt tokens (rows x bucket) per prefill call, which bounds the memory of
    prefill attention;
    cache_dtype: the KV cache's dtype (default: the model's compute dtype); "bfloat16" halves
    the bytes every decode step reads, at bf16 precision for keys and values;
    share_prefix: prefill the prompts' common token prefix once (when at least
    MIN_SHARED_PREFIX tokens) instead of once per prompt; the results are the same;
    refill: let queued prompts take the rows of finished ones (False: a new batch starts only
    when every row of the last one is done, as plain batched generation does).
    """

    def __init__(self, model: Decoder, tokenizer: TextDecoder | None = None, *,
                 mesh: Mesh | None = None, eos_token_ids: Sequence[int] | None = None,
                 pad_token_id: int | None = None, prompt_buckets: Sequence[int] | None = None,
                 max_batch_rows: int = 256, prefill_tokens: int = 8192,
                 cache_dtype: str | None = None, share_prefix: bool = True, refill: bool = True):
        self.config = model.config
        self.tokenizer = tokenizer
        self.mesh = mesh = auto_mesh(mesh)
        self.batch_multiple = data_parallel_size(mesh)
        for field, value in (("max_batch_rows", max_batch_rows),
                             ("prefill_tokens", prefill_tokens)):
            if not isinstance(value, int) or value <= 0:
                raise ConfigError(f"sampler field {field!r}: must be a positive int, got {value!r}")
        self.max_batch_rows = max_batch_rows
        self.prefill_tokens = prefill_tokens
        self.prompt_buckets = (None if prompt_buckets is None
                               else batching.check_buckets(prompt_buckets))
        self.eos_token_ids = tuple(int(t) for t in (
            eos_token_ids if eos_token_ids is not None else _tokenizer_eos(tokenizer, self.config)))
        self.pad_token_id = int(pad_token_id if pad_token_id is not None
                                else _tokenizer_pad(tokenizer, self.eos_token_ids))
        try:
            self.cache_dtype = None if cache_dtype is None else jnp.dtype(cache_dtype)
        except TypeError:
            raise ConfigError(f"sampler field 'cache_dtype': not a dtype: {cache_dtype!r}") from None
        self.share_prefix = bool(share_prefix)
        self.refill = bool(refill)
        graphdef, state = nnx.split(model)
        self.state = on_mesh(state, mesh)
        self._compiled = _compiled_for(graphdef, mesh, self.config)

    def set_weights(self, model: Decoder) -> None:
        """Samples from new weights of the same architecture (no recompilation)."""
        graphdef, state = nnx.split(model)
        if _compiled_for(graphdef, self.mesh, model.config) is not self._compiled:
            raise ConfigError("sampler: the new model has a different structure; "
                              "build a new Sampler")
        self.state = on_mesh(state, self.mesh)

    def generate(self, prompts: Sequence[Sequence[int]],
                 params: SamplingParams = SamplingParams(),
                 prefix: Sequence[int] | None = None,
                 families: Sequence[Hashable] | None = None,
                 progress: Callable[[int], None] | None = None) -> list[list[Completion]]:
        """completions[i][j]: prompt i, sample j. With `prefix`, prompt i is prefix + prompts[i]
        and the prefix is prefilled once for all of them (the results are the same). With
        `families` (one key per prompt, e.g. the database), each family's common token prefix
        is prefilled once; without either, the prompts' common prefix is (`share_prefix`).
        `progress(k)` is called as k more prompts have all their samples done."""
        return self.generate_arrays(prompts, params, prefix, families, progress).completions()

    def generate_arrays(self, prompts: Sequence[Sequence[int]],
                        params: SamplingParams = SamplingParams(),
                        prefix: Sequence[int] | None = None,
                        families: Sequence[Hashable] | None = None,
                        progress: Callable[[int], None] | None = None) -> GeneratedArrays:
        prompts = check_prompts(prompts, self.config.vocab_size)
        if params.stop and self.tokenizer is None:
            raise ConfigError("sampling field 'stop': stop strings need a sampler with a tokenizer")
        if families is not None and len(families) != len(prompts):
            raise ConfigError(f"sampler: {len(families)} family keys for {len(prompts)} prompts")
        if prefix is not None and len(prefix):
            (prefix_ids,) = check_prompts([prefix], self.config.vocab_size)
            work = _Work(prompts, [0] * len(prompts), [prefix_ids])
        else:
            work = _Work.split(prompts, families, self.share_prefix)
        n, steps = params.n, params.max_new_tokens
        rows = len(prompts) * n
        result = GeneratedArrays(
            tokens=np.full((rows, steps), self.pad_token_id, np.int32),
            logprobs=np.zeros((rows, steps), np.float32), lengths=np.zeros(rows, np.int32),
            texts=[""] * rows, finish_reasons=["length"] * rows, stops=[None] * rows, n=n)
        spec = DecodeSpec(
            choice=TokenChoice.from_params(params, self.config.vocab_size),
            max_new_tokens=steps, eos_ids=() if params.ignore_eos else self.eos_token_ids,
            pad_id=self.pad_token_id)
        order = work.queue_order()
        if not order:
            return result
        if self.refill:
            self._run_queue(work, order, spec, params, result, progress)
        else:  # one batch after another, each until its last row is done
            batch_prompts = max(1, self.max_batch_rows // n)
            for start in range(0, len(order), batch_prompts):
                self._run_queue(work, order[start:start + batch_prompts], spec, params, result,
                                progress)
        return result

    def _prefill_prefix(self, prefix: list[int]) -> PrefillBlock:
        """The prefix prefilled once (left-padded to its bucket, as many rows as the batch axes
        need, all the same)."""
        width = batching.bucket_for(len(prefix), self.prompt_buckets)
        tokens, valid = batching.left_pad([prefix] * self.batch_multiple, self.batch_multiple,
                                          width, self.pad_token_id)
        put = _placer(self.mesh)
        return self._compiled.prefill(self.state, put(tokens, batch_sharding(self.mesh, 2)),
                                      put(valid, batch_sharding(self.mesh, 2)), self.cache_dtype)

    def _run_queue(self, work: "_Work", order: list[int], spec: DecodeSpec,
                   params: SamplingParams, result: GeneratedArrays,
                   progress: Callable[[int], None] | None) -> None:
        """Generates for prompts `order` (queued in that order) through one decode batch whose
        finished rows take the next queued prompts."""
        mesh, n, steps = self.mesh, params.n, spec.max_new_tokens
        put = _placer(mesh)
        temperature = put(np.float32(params.temperature or 1.0), replicated(mesh))
        top_p = put(np.float32(params.top_p), replicated(mesh))
        cap = max(self.max_batch_rows, n)
        batch = batching.padded_batch_size(min(len(order) * n, cap), self.batch_multiple, cap=cap)
        capacity = batching.ring_capacity(max(work.width(i, self.prompt_buckets) for i in order),
                                          steps)
        carry = self._compiled.empty(batch, capacity, steps, self.pad_token_id, self.cache_dtype)
        # Row r of the decode batch holds output row holder[r] (prompt * n + sample), -1: free.
        holder = np.full(batch, -1, np.int64)
        samples_left = {}  # prompt -> its samples not yet done
        queue = list(order)
        prefixes = _PrefixCache(self, work)
        stops = _StopWatch(self, params) if params.stop else None
        # Refill once this many rows are free (or when the queue is shorter): fewer, larger
        # prefill and insert calls, at the price of a few idle rows in between.
        # The same rule when stop checks return to the host every few steps, so that stops do
        # not turn refill into many one-row prefills.
        refill_rows = max(n, batch // 8)
        while True:
            free = np.flatnonzero(holder < 0)
            enough = len(free) == batch or len(free) >= min(refill_rows, len(queue) * n)
            take = min(len(free) // n, len(queue)) if enough else 0
            if take:
                taken, queue = queue[:take], queue[take:]
                samples_left.update((i, n) for i in taken)
                carry = self._fill(carry, work, taken, free, holder, spec, params, prefixes,
                                   temperature, top_p)
                if stops is not None:
                    stops.reset(free[:take * n])
            if (holder < 0).all():
                return
            done_now = int(np.sum(holder < 0))
            want = min(refill_rows, len(queue) * n)
            target = done_now + want if want else batch
            clock = int(to_host(carry.clock))
            end = clock + (params.stop_check_interval if stops is not None else steps)
            carry = self._compiled.decode(self.state, carry, put(np.int32(end), replicated(mesh)),
                                          put(np.int32(target), replicated(mesh)), temperature,
                                          top_p, spec)
            done = np.array(to_host(carry.done))  # a writable copy: stop matches mark rows done
            tokens, logprobs = to_host(carry.tokens), to_host(carry.logprobs)
            lengths = to_host(carry.lengths)
            live = np.flatnonzero(holder >= 0)
            if stops is not None and stops.check(tokens, lengths, live, done):
                carry = dataclasses.replace(carry, done=put(done, batch_sharding(mesh, 1)))
            finished = 0
            for row in live[done[live]]:
                out = int(holder[row])
                self._record(result, out, tokens[row], logprobs[row], int(lengths[row]), spec,
                             None if stops is None else stops.pop(row))
                holder[row] = -1
                samples_left[out // n] -= 1
                finished += samples_left[out // n] == 0
            if progress is not None and finished:
                progress(finished)

    def _fill(self, carry: DecodeState, work: "_Work", taken: list[int], free: np.ndarray,
              holder: np.ndarray, spec: DecodeSpec, params: SamplingParams,
              prefixes: "_PrefixCache", temperature, top_p) -> DecodeState:
        """Prefills the prompts `taken` in blocks (a block's prompts share one family prefix)
        and inserts each prompt's n sample rows into the next free rows of the batch."""
        mesh, n = self.mesh, params.n
        put = _placer(mesh)
        batch = len(holder)
        at = 0
        for family, members in _runs(taken, work.family):
            prefix = prefixes.get(family)
            for block in batching.prefill_blocks(members, work.suffixes, self.prompt_buckets,
                                                 self.batch_multiple, self.pad_token_id,
                                                 self.prefill_tokens):
                tokens = put(block.tokens, batch_sharding(mesh, 2))
                valid = put(block.valid, batch_sharding(mesh, 2))
                prefilled = (self._compiled.prefill(self.state, tokens, valid, self.cache_dtype)
                             if prefix is None
                             else self._compiled.prefill_after(self.state, prefix, tokens, valid))
                entries = block.tokens.shape[0] * n
                # Entry e: block row e // n, sample e % n; padding rows go past the batch
                # (dropped).
                source = np.repeat(np.arange(block.tokens.shape[0], dtype=np.int32), n)
                dest = np.full(entries, batch, np.int32)
                outputs = np.full(entries, -1, np.int64)
                for e in range(len(block.indices) * n):
                    dest[e] = free[at]
                    outputs[e] = block.indices[e // n] * n + e % n
                    holder[free[at]] = outputs[e]
                    at += 1
                keys = _row_keys(params.seed, outputs)
                carry = self._compiled.insert(
                    carry, prefilled, put(source, replicated(mesh)), put(dest, replicated(mesh)),
                    put(keys, replicated(mesh)), temperature, top_p, spec)
        return carry

    def _record(self, result: GeneratedArrays, out: int, tokens: np.ndarray,
                logprobs: np.ndarray, length: int, spec: DecodeSpec,
                match: StopMatch | None) -> None:
        if match is not None:
            length = match.length
        ids = tokens[:length]
        result.tokens[out, :length] = ids
        result.logprobs[out, :length] = logprobs[:length]
        result.lengths[out] = length
        if match is not None:
            result.finish_reasons[out], result.texts[out] = "stop", match.text
            result.stops[out] = match.stop
            return
        ended_on_eos = length > 0 and int(ids[-1]) in spec.eos_ids
        result.finish_reasons[out] = "eos" if ended_on_eos else "length"
        result.texts[out] = self._decode(ids[:-1] if ended_on_eos else ids)

    def _decode(self, ids) -> str:
        if self.tokenizer is None:
            return ""
        return self.tokenizer.decode([int(t) for t in ids])


@dataclasses.dataclass
class _Work:
    """The prompts of one generate call as families: prompt i is prefixes[family[i]] +
    suffixes[i] (an empty prefix: nothing shared)."""

    suffixes: list[list[int]]
    family: list[int]
    prefixes: list[list[int]]

    @classmethod
    def split(cls, prompts: list[list[int]], keys: Sequence[Hashable] | None,
              share_prefix: bool) -> "_Work":
        """Families by key (all prompts one family without keys), each with its common prefix
        when sharing is on and the prefix is long enough to be worth its own prefill."""
        keys = [None] * len(prompts) if keys is None else list(keys)
        index: dict[Hashable, int] = {}
        family = [index.setdefault(key, len(index)) for key in keys]
        members: list[list[int]] = [[] for _ in index]
        for i, f in enumerate(family):
            members[f].append(i)
        prefixes = []
        for indices in members:
            prefix = common_prefix([prompts[i] for i in indices]) if share_prefix else []
            if len(indices) < 2 or len(prefix) < MIN_SHARED_PREFIX:
                prefix = []
            prefixes.append(prefix)
        suffixes = [p[len(prefixes[f]):] for p, f in zip(prompts, family)]
        return cls(suffixes, family, prefixes)

    def queue_order(self) -> list[int]:
        """Family by family (in order of first appearance), shortest suffix first."""
        return sorted(range(len(self.suffixes)), key=lambda i: (self.family[i],
                                                                len(self.suffixes[i])))

    def width(self, i: int, buckets) -> int:
        """Cache slots prompt i takes: its prefix's bucket, then its suffix's."""
        prefix = self.prefixes[self.family[i]]
        shared = batching.bucket_for(len(prefix), buckets) if prefix else 0
        return shared + batching.bucket_for(len(self.suffixes[i]), buckets)


class _PrefixCache:
    """The prefilled prefix of the family being taken from the queue. The queue runs family by
    family, so one is live at a time; rows already inserted hold their own copy."""

    def __init__(self, sampler: Sampler, work: _Work):
        self.sampler, self.work = sampler, work
        self.family, self.block = None, None

    def get(self, family: int) -> PrefillBlock | None:
        if not self.work.prefixes[family]:
            return None
        if family != self.family:
            self.family = family
            self.block = self.sampler._prefill_prefix(self.work.prefixes[family])
        return self.block


def _runs(indices: list[int], family: list[int]):
    """(family, consecutive indices of that family) runs, in order."""
    start = 0
    for end in range(1, len(indices) + 1):
        if end == len(indices) or family[indices[end]] != family[indices[start]]:
            yield family[indices[start]], indices[start:end]
            start = end


class _StopWatch:
    """Stop-string matching over the rows of a decode batch, between device calls."""

    def __init__(self, sampler: Sampler, params: SamplingParams):
        self.sampler, self.params = sampler, params
        self.eos = set(sampler.eos_token_ids) if not params.ignore_eos else set()
        self.checked: dict[int, int] = {}  # tokens of the row's completion already looked at
        self.matches: dict[int, StopMatch] = {}

    def reset(self, rows) -> None:
        for row in rows:
            self.checked[int(row)] = 0
            self.matches.pop(int(row), None)

    def pop(self, row) -> StopMatch | None:
        return self.matches.pop(int(row), None)

    def check(self, tokens: np.ndarray, lengths: np.ndarray, rows: np.ndarray,
              done: np.ndarray) -> bool:
        """Looks for stop strings in the new tokens of `rows`; marks matched rows done in `done`.
        Returns whether any row newly matched."""
        found = False
        for row in rows:
            row = int(row)
            length = int(lengths[row])
            checked = self.checked.get(row, 0)
            if row in self.matches or length <= checked:
                continue
            ids = tokens[row, :length].tolist()
            if ids and ids[-1] in self.eos and done[row]:
                ids = ids[:-1]  # the EOS token has no text; the stop may still come before it
            match = find_stop(ids, checked, self.params.stop, self.sampler._decode,
                              self.params.include_stop_str)
            self.checked[row] = length
            if match is not None:
                self.matches[row] = match
                done[row] = True
                found = True
        return found


def _row_keys(seed: int, outputs: np.ndarray) -> np.ndarray:
    """[rows, 2] uint32 PRNG keys: fold_in(PRNGKey(seed), output row) (padding rows: any)."""
    base = jax.random.PRNGKey(seed)
    return np.asarray(jax.vmap(jax.random.fold_in, in_axes=(None, 0))(
        base, jnp.asarray(np.maximum(outputs, 0), jnp.uint32)))


def _placer(mesh: Mesh | None) -> Callable:
    def put(value, sharding):
        if mesh is None:
            return jnp.asarray(value)
        return put_global(value, sharding)  # every process holds the same prompts
    return put


def _tokenizer_eos(tokenizer, config) -> tuple[int, ...]:
    """The tokenizer's EOS ids (`spft_jax.models.tokenizer.Tokenizer.eos_ids`, or a Hugging Face
    tokenizer's eos_token_id), then the config's, without repeats."""
    ids = list(getattr(tokenizer, "eos_ids", None) or ())
    single = getattr(tokenizer, "eos_token_id", None)
    if not ids and single is not None:
        ids.append(single)
    return tuple(dict.fromkeys([*ids, *config.eos_token_ids]))


def _tokenizer_pad(tokenizer, eos_ids: Sequence[int]) -> int:
    for name in ("pad_id", "pad_token_id"):
        pad = getattr(tokenizer, name, None)
        if pad is not None:
            return pad
    return eos_ids[0] if eos_ids else 0  # only ever sits in masked or finished positions
