"""The batched sampler: token-id prompts in, `Completion`s out.

    sampler = Sampler(model, tokenizer, mesh=None)
    completions = sampler.generate(prompt_ids, SamplingParams(max_new_tokens=128, n=4,
                                                              temperature=0.8, stop=("\\n\\n",)))
    completions[i][j]  # prompt i, sample j: token_ids, text, logprobs, finish_reason

Prompts are sorted by length, grouped, left-padded to a length bucket and run through the jitted
prefill and decode loop of `spft_jax.sampling.decode`. Without stop strings the decode loop runs
in one device call; with them, in chunks of `stop_check_interval` steps with a host-side look at
the decoded text in between. Log-probs are those of the model's own distribution (log_softmax
of the raw logits, temperature 1, before any top-k/top-p), whatever the sampling settings.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
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
    CompiledSampling, DecodeSpec, auto_mesh, batch_multiple, batch_sharding, on_mesh, replicated,
)
from spft_jax.sampling.filters import TokenChoice
from spft_jax.sampling.params import SamplingParams, check_prompts
from spft_jax.sampling.stops import StopMatch, find_stop

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
def _compiled_for(graphdef, mesh: Mesh | None, num_kv_heads: int) -> CompiledSampling:
    # Shared by every Sampler over the same model structure, so a new Sampler for new weights
    # (each self-play iteration) reuses the compiled executables.
    return CompiledSampling(graphdef, mesh, num_kv_heads)


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
    max_batch_rows: rows (prompts x n) decoded together; more prompts run in several loops;
    prefill_tokens: prompt tokens (rows x bucket) per prefill call, which bounds the memory of
    prefill attention.
    """

    def __init__(self, model: Decoder, tokenizer: TextDecoder | None = None, *,
                 mesh: Mesh | None = None, eos_token_ids: Sequence[int] | None = None,
                 pad_token_id: int | None = None, prompt_buckets: Sequence[int] | None = None,
                 max_batch_rows: int = 256, prefill_tokens: int = 8192):
        self.config = model.config
        self.tokenizer = tokenizer
        self.mesh = mesh = auto_mesh(mesh)
        self.batch_multiple = batch_multiple(mesh)
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
        graphdef, state = nnx.split(model)
        self.state = on_mesh(state, mesh)
        self._compiled = _compiled_for(graphdef, mesh, self.config.num_kv_heads)

    def set_weights(self, model: Decoder) -> None:
        """Samples from new weights of the same architecture (no recompilation)."""
        graphdef, state = nnx.split(model)
        if _compiled_for(graphdef, self.mesh, model.config.num_kv_heads) is not self._compiled:
            raise ConfigError("sampler: the new model has a different structure; "
                              "build a new Sampler")
        self.state = on_mesh(state, self.mesh)

    def generate(self, prompts: Sequence[Sequence[int]],
                 params: SamplingParams = SamplingParams(),
                 prefix: Sequence[int] | None = None) -> list[list[Completion]]:
        """completions[i][j]: prompt i, sample j. With `prefix`, prompt i is prefix + prompts[i]
        and the prefix is prefilled once for all of them (the results are the same)."""
        return self.generate_arrays(prompts, params, prefix).completions()

    def generate_arrays(self, prompts: Sequence[Sequence[int]],
                        params: SamplingParams = SamplingParams(),
                        prefix: Sequence[int] | None = None) -> GeneratedArrays:
        prompts = check_prompts(prompts, self.config.vocab_size)
        shared = None
        if prefix is not None and len(prefix):
            (prefix_ids,) = check_prompts([prefix], self.config.vocab_size)
            shared = self._prefill_prefix(prefix_ids)
        if params.stop and self.tokenizer is None:
            raise ConfigError("sampling field 'stop': stop strings need a sampler with a tokenizer")
        n, steps = params.n, params.max_new_tokens
        rows = len(prompts) * n
        result = GeneratedArrays(
            tokens=np.full((rows, steps), self.pad_token_id, np.int32),
            logprobs=np.zeros((rows, steps), np.float32), lengths=np.zeros(rows, np.int32),
            texts=[""] * rows, finish_reasons=["length"] * rows, stops=[None] * rows, n=n)
        spec = DecodeSpec(
            choice=TokenChoice.from_params(params, self.config.vocab_size), n=n,
            max_new_tokens=steps, eos_ids=() if params.ignore_eos else self.eos_token_ids,
            pad_id=self.pad_token_id)
        max_prompts = max(1, self.max_batch_rows // n)
        groups = batching.group_prompts(prompts, max_prompts, self.prompt_buckets,
                                        self.batch_multiple, self.pad_token_id, self.prefill_tokens)
        for group in groups:
            self._run_group(group, spec, params, result, shared)
        return result

    def _prefill_prefix(self, prefix: list[int]):
        """The prefix prefilled once (left-padded to its bucket, as many rows as the batch axes
        need, all the same)."""
        width = batching.bucket_for(len(prefix), self.prompt_buckets)
        tokens, valid = batching.left_pad([prefix] * self.batch_multiple, self.batch_multiple,
                                          width, self.pad_token_id)
        put = _placer(self.mesh)
        return self._compiled.prefill(self.state, put(tokens, batch_sharding(self.mesh, 2)),
                                      put(valid, batch_sharding(self.mesh, 2)))

    def _run_group(self, group: batching.PromptGroup, spec: DecodeSpec, params: SamplingParams,
                   result: GeneratedArrays, prefix=None) -> None:
        mesh, n, steps = self.mesh, spec.n, spec.max_new_tokens
        put = _placer(mesh)
        temperature = put(np.float32(params.temperature or 1.0), replicated(mesh))
        top_p = put(np.float32(params.top_p), replicated(mesh))
        blocks = []
        for block in group.blocks:
            tokens = put(block.tokens, batch_sharding(mesh, 2))
            valid = put(block.valid, batch_sharding(mesh, 2))
            blocks.append(self._compiled.prefill(self.state, tokens, valid) if prefix is None
                          else self._compiled.prefill_after(self.state, prefix, tokens, valid))
        bucket = group.bucket + (0 if prefix is None else prefix.positions.shape[1])
        # Row r of the decode batch is prompt row r // n, sample r % n; it is written to output
        # row prompt_index * n + sample, and draws with a key made from that output row.
        outputs = np.array([p * n + j if p >= 0 else -1
                            for p in group.row_prompts for j in range(n)], np.int64)
        row_keys = _row_keys(params.seed, outputs)
        carry = self._compiled.start(blocks, put(row_keys, batch_sharding(mesh, 2)), temperature,
                                     top_p, spec, group.rows, bucket)
        del blocks  # their arrays now live on in the decode cache only
        real = np.flatnonzero(outputs >= 0)
        matches: dict[int, StopMatch] = {}
        checked = np.zeros(len(outputs), np.int64)
        while True:
            step = int(to_host(carry.step))
            done = np.array(to_host(carry.done))  # a writable copy: stop matches mark rows done
            if params.stop and self._check_stops(carry, params, real, checked, matches, done):
                carry = dataclasses.replace(carry, done=put(done, batch_sharding(mesh, 1)))
            if step >= steps or done.all():
                break
            end = min(step + params.stop_check_interval, steps) if params.stop else steps
            carry = self._compiled.decode(self.state, carry, put(np.int32(end), replicated(mesh)),
                                          temperature, top_p, spec)
        tokens, logprobs = to_host(carry.tokens), to_host(carry.logprobs)
        lengths = to_host(carry.lengths)
        for row in real:
            out = int(outputs[row])
            length = int(lengths[row])
            match = matches.get(row)
            if match is not None:
                length = match.length
            ids = tokens[row, :length]
            result.tokens[out, :length] = ids
            result.logprobs[out, :length] = logprobs[row, :length]
            result.lengths[out] = length
            if match is not None:
                result.finish_reasons[out], result.texts[out] = "stop", match.text
                result.stops[out] = match.stop
                continue
            ended_on_eos = length > 0 and int(ids[-1]) in spec.eos_ids
            result.finish_reasons[out] = "eos" if ended_on_eos else "length"
            result.texts[out] = self._decode(ids[:-1] if ended_on_eos else ids)

    def _check_stops(self, carry, params: SamplingParams, rows: np.ndarray, checked: np.ndarray,
                     matches: dict[int, StopMatch], done: np.ndarray) -> bool:
        """Looks for stop strings in the new tokens of `rows`; marks matched rows done in `done`.
        Returns whether any row newly matched."""
        tokens, lengths = to_host(carry.tokens), to_host(carry.lengths)
        eos = set(self.eos_token_ids) if not params.ignore_eos else set()
        found = False
        for row in rows:
            length = int(lengths[row])
            if row in matches or length <= checked[row]:
                continue
            ids = tokens[row, :length].tolist()
            if ids and ids[-1] in eos and done[row]:
                ids = ids[:-1]  # the EOS token has no text; the stop may still come before it
            match = find_stop(ids, int(checked[row]), params.stop, self._decode,
                              params.include_stop_str)
            checked[row] = length
            if match is not None:
                matches[row] = match
                done[row] = True
                found = True
        return found

    def _decode(self, ids) -> str:
        if self.tokenizer is None:
            return ""
        return self.tokenizer.decode([int(t) for t in ids])


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
