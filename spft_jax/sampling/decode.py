"""The device side of sampling: jitted prefill, start and decode loop.

All are pure functions of (graphdef, state, batch arrays): the model is split once by the
`Sampler` and merged inside the traced function, so a call costs no NNX graph traversal.

- `prefill_block` runs a block of left-padded prompts [r, Tp] through the model into a KV cache
  of exactly Tp slots and keeps the last position's logits. Prompts are prefilled in blocks
  sized to their own length bucket, and only blocks holding real prompts run, so the decode
  batch's padding rows and longer bucket cost no prefill.
- `prefill_after_prefix` does the same for prompt suffixes after a shared prefix prefilled once
  (a Text-to-SQL prompt is mostly its database's schema, the same for every question on it).
- `start` lays the blocks side by side in the decode batch's cache (capacity bucket +
  max_new_tokens; every prompt ends at slot bucket - 1, so the rows decode in lock-step),
  repeats each prompt's rows n times and picks every row's first token.
- `decode` is a `lax.while_loop` that runs until a given step or until every row is done. The
  host calls it once (no stop strings) or once per chunk of steps (to look for stop strings in
  the decoded text between chunks).

Row layout in the decode batch: prompt row p, sample j sits at row p * n + j. The prompt is
prefilled once and its cache rows repeated n times: n samples cost one prefill, not n.
Every row draws its tokens with its own key (from the caller's prompt index and sample index), so
a row's samples do not depend on which other prompts share its batch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P

from spft_jax.models.decoder import KVCache
from spft_jax.parallel.rules import LOGICAL_AXIS_RULES, partition_spec
from spft_jax.sampling.filters import TokenChoice, choose_tokens


@dataclasses.dataclass(frozen=True)
class DecodeSpec:
    """Everything static about one generation: part of the compile key."""

    choice: TokenChoice
    n: int
    max_new_tokens: int
    eos_ids: tuple[int, ...]
    pad_id: int


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class DecodeState:
    """The loop carry. tokens/logprobs: [B, N] (pad id / 0 where a row generated nothing);
    lengths: tokens generated per row, EOS included; next_position: the position of the token
    fed next (the last one generated); step: columns filled so far, the same for every row;
    row_keys: [B, 2] every row's PRNG key (step t draws with fold_in(row_key, t))."""

    cache: KVCache
    tokens: jax.Array
    logprobs: jax.Array
    lengths: jax.Array
    next_position: jax.Array
    done: jax.Array
    step: jax.Array
    row_keys: jax.Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class PrefillBlock:
    """Prefilled prompts: k/v [layers, r, Tp, kv_heads, head_dim], positions/valid [r, Tp],
    the last position's logits [r, vocab] and the position of the first generated token [r]."""

    k: jax.Array
    v: jax.Array
    positions: jax.Array
    valid: jax.Array
    logits: jax.Array
    next_position: jax.Array


def batch_axes(mesh: Mesh) -> tuple[str, ...]:
    """The mesh axes the batch is split over: those of the logical "batch" axis in the rules
    table (data, and fsdp: with FSDP each device also takes its own slice of the batch)."""
    return tuple(a for a in LOGICAL_AXIS_RULES["batch"] if a in mesh.shape)


def batch_multiple(mesh: Mesh | None) -> int:
    """The batch must be a multiple of this (the product of the batch axes' sizes)."""
    if mesh is None:
        return 1
    size = 1
    for axis in batch_axes(mesh):
        size *= mesh.shape[axis]
    return size


def batch_sharding(mesh: Mesh | None, rank: int, axis: int = 0) -> NamedSharding | None:
    """Rank-`rank` arrays with dimension `axis` over the batch axes, the rest replicated."""
    if mesh is None:
        return None
    spec = [None] * rank
    axes = batch_axes(mesh)
    spec[axis] = axes if axes else None
    return NamedSharding(mesh, P(*spec))


def replicated(mesh: Mesh | None) -> NamedSharding | None:
    return None if mesh is None else NamedSharding(mesh, P())


def cache_sharding(mesh: Mesh | None, num_kv_heads: int) -> NamedSharding | None:
    """k/v [layers, batch, slots, kv_heads, head_dim]: the batch over the batch axes and, by the
    rules table, the kv heads over "tensor" when it divides them (as the k/v projections leave
    them), so no device holds another's heads."""
    if mesh is None:
        return None
    heads = partition_spec(("kv_heads",), (num_kv_heads,), mesh)
    axes = batch_axes(mesh)
    return NamedSharding(mesh, P(None, axes if axes else None, None, *heads, None))


def state_shardings(mesh: Mesh | None, num_kv_heads: int) -> DecodeState | None:
    if mesh is None:
        return None
    kv = cache_sharding(mesh, num_kv_heads)
    cache = KVCache(k=kv, v=kv, positions=batch_sharding(mesh, 2), valid=batch_sharding(mesh, 2))
    rows, rows_by = batch_sharding(mesh, 1), batch_sharding(mesh, 2)
    return DecodeState(cache=cache, tokens=rows_by, logprobs=rows_by, lengths=rows,
                       next_position=rows, done=rows, step=replicated(mesh), row_keys=rows_by)


def block_shardings(mesh: Mesh | None, num_kv_heads: int) -> PrefillBlock | None:
    if mesh is None:
        return None
    kv = cache_sharding(mesh, num_kv_heads)
    rows_by = batch_sharding(mesh, 2)
    return PrefillBlock(k=kv, v=kv, positions=rows_by, valid=rows_by, logits=rows_by,
                        next_position=batch_sharding(mesh, 1))


def auto_mesh(mesh: Mesh | None) -> Mesh | None:
    """The mesh with every axis of type Auto. The decoder relies on sharding propagation (a
    batch-sharded embedding gather has no unambiguous explicit output sharding), so the sampler
    runs on an Auto view of the caller's mesh: same devices, same axis names."""
    if mesh is None or all(t == AxisType.Auto for t in mesh.axis_types):
        return mesh
    return Mesh(mesh.devices, mesh.axis_names, axis_types=(AxisType.Auto,) * len(mesh.axis_names))


def on_mesh(state, mesh: Mesh | None):
    """The parameters as arrays on `mesh` (an Auto mesh): an array already sharded over the same
    devices keeps its partitioning and its buffers (only the mesh's axis types are relabelled);
    anything else is replicated."""
    if mesh is None:
        return state

    def place(x):
        sharding = getattr(x, "sharding", None)
        same_mesh = (isinstance(sharding, NamedSharding)
                     and sharding.mesh.axis_names == mesh.axis_names
                     and sharding.mesh.devices.shape == mesh.devices.shape
                     and (sharding.mesh.devices == mesh.devices).all())
        if same_mesh:
            return jax.device_put(x, NamedSharding(mesh, sharding.spec))
        return jax.device_put(x, NamedSharding(mesh, P()))

    return jax.tree.map(place, state)


def _constrain(x: jax.Array, sharding: NamedSharding | None) -> jax.Array:
    return x if sharding is None else jax.lax.with_sharding_constraint(x, sharding)


def _is_eos(tokens: jax.Array, eos_ids: Sequence[int]) -> jax.Array:
    if not eos_ids:
        return jnp.zeros(tokens.shape, bool)
    return jnp.isin(tokens, jnp.asarray(eos_ids, jnp.int32))


def _step_keys(row_keys: jax.Array, step) -> jax.Array:
    return jax.vmap(jax.random.fold_in, in_axes=(0, None))(row_keys, step)


def prefill_block(graphdef, state, tokens, valid, *, mesh: Mesh | None) -> PrefillBlock:
    """Runs left-padded prompts [r, Tp] through the model into a cache of Tp slots."""
    model = nnx.merge(graphdef, state)
    rows, length = tokens.shape
    positions = jnp.maximum(jnp.cumsum(valid, axis=1) - 1, 0).astype(jnp.int32)
    cache = KVCache.empty(model.config, rows, length)
    shardings = block_shardings(mesh, model.config.num_kv_heads)
    if shardings is not None:
        cache = KVCache(k=_constrain(cache.k, shardings.k), v=_constrain(cache.v, shardings.v),
                        positions=cache.positions, valid=cache.valid)
    hidden, cache = model.hidden_states(tokens, positions, valid, cache, 0)
    # Left padding puts every prompt's last token in the last column: only it needs logits.
    logits = model.logits_from_hidden(hidden[:, -1:, :])[:, 0, :]
    return PrefillBlock(k=cache.k, v=cache.v, positions=cache.positions, valid=cache.valid,
                        logits=logits, next_position=positions[:, -1] + 1)


def prefill_after_prefix(graphdef, state, prefix: PrefillBlock, tokens, valid, *,
                         mesh: Mesh | None) -> PrefillBlock:
    """Runs left-padded prompt suffixes [r, Ts] after a prefilled shared prefix (row 0 of
    `prefix`, Pb slots): every row's cache starts as the prefix's, the suffix goes into the Ts
    slots after it (its padding, between the two, is masked out) at positions that continue the
    prefix's. The result is what `prefill_block` gives for prefix + suffix, without computing
    the prefix once per row."""
    model = nnx.merge(graphdef, state)
    rows, length = tokens.shape
    width = prefix.positions.shape[1]

    def widen(x, row_axis):  # the prefix's row for every row, then empty suffix slots
        x = jnp.take(x, jnp.zeros((rows,), jnp.int32), axis=row_axis)
        pad = [(0, 0)] * x.ndim
        pad[row_axis + 1] = (0, length)
        return jnp.pad(x, pad)

    cache = KVCache(k=widen(prefix.k, 1), v=widen(prefix.v, 1),
                    positions=widen(prefix.positions, 0), valid=widen(prefix.valid, 0))
    shardings = block_shardings(mesh, model.config.num_kv_heads)
    if shardings is not None:
        cache = KVCache(k=_constrain(cache.k, shardings.k), v=_constrain(cache.v, shardings.v),
                        positions=_constrain(cache.positions, shardings.positions),
                        valid=_constrain(cache.valid, shardings.valid))
    positions = prefix.next_position[0] + jnp.maximum(jnp.cumsum(valid, axis=1) - 1, 0)
    positions = positions.astype(jnp.int32)
    hidden, cache = model.hidden_states(tokens, positions, valid, cache, width)
    logits = model.logits_from_hidden(hidden[:, -1:, :])[:, 0, :]
    return PrefillBlock(k=cache.k, v=cache.v, positions=cache.positions, valid=cache.valid,
                        logits=logits, next_position=positions[:, -1] + 1)


def start(blocks: tuple[PrefillBlock, ...], row_keys, temperature, top_p, *, spec: DecodeSpec,
          prompt_rows: int, bucket: int) -> DecodeState:
    """The decode state of `prompt_rows` * n rows from the prefilled blocks (in order; rows past
    the blocks' are batch padding, done from the start), with every row's first token chosen.
    row_keys: [prompt_rows * n, 2]."""
    capacity = bucket + spec.max_new_tokens

    def slots(x, axis, before):  # pad the slot axis to the decode cache's layout
        widths = [(0, 0)] * x.ndim
        widths[axis] = (before, capacity - bucket)
        return jnp.pad(x, widths)

    def rows(parts, axis):  # blocks side by side, then empty rows up to prompt_rows
        x = jnp.concatenate(parts, axis=axis)
        widths = [(0, 0)] * x.ndim
        widths[axis] = (0, prompt_rows - x.shape[axis])
        x = jnp.pad(x, widths)
        return jnp.repeat(x, spec.n, axis=axis) if spec.n > 1 else x

    def cache_field(name, axis):
        return rows([slots(getattr(b, name), axis + 1, bucket - b.positions.shape[1])
                     for b in blocks], axis)

    cache = KVCache(k=cache_field("k", 1), v=cache_field("v", 1),
                    positions=cache_field("positions", 0), valid=cache_field("valid", 0))
    logits = rows([b.logits for b in blocks], 0)
    next_position = rows([b.next_position for b in blocks], 0)
    active = jnp.any(cache.valid, axis=1)  # False for padding rows
    token, logprob = choose_tokens(_step_keys(row_keys, 0), logits, spec.choice, temperature, top_p)
    token = jnp.where(active, token, spec.pad_id)
    logprob = jnp.where(active, logprob, 0.0)
    total = prompt_rows * spec.n
    out_tokens = jnp.full((total, spec.max_new_tokens), spec.pad_id, jnp.int32).at[:, 0].set(token)
    out_logprobs = jnp.zeros((total, spec.max_new_tokens), jnp.float32).at[:, 0].set(logprob)
    return DecodeState(
        cache=cache,
        tokens=out_tokens,
        logprobs=out_logprobs,
        lengths=active.astype(jnp.int32),
        next_position=next_position,
        done=~active | _is_eos(token, spec.eos_ids),
        step=jnp.asarray(1, jnp.int32),
        row_keys=row_keys,
    )


def decode(graphdef, state, carry: DecodeState, end_step, temperature, top_p, *,
           spec: DecodeSpec) -> DecodeState:
    """Generates one token per step for every row until `end_step` columns are filled or every
    row is done. A done row keeps running in lock-step but records the pad id and log-prob 0."""
    model = nnx.merge(graphdef, state)
    bucket = carry.cache.capacity - spec.max_new_tokens
    rows = carry.tokens.shape[0]

    def unfinished(c: DecodeState):
        return (c.step < end_step) & ~jnp.all(c.done)

    def step(c: DecodeState) -> DecodeState:
        last = jax.lax.dynamic_slice_in_dim(c.tokens, c.step - 1, 1, axis=1)
        logits, cache = model(last, c.next_position[:, None], jnp.ones((rows, 1), bool),
                              cache=c.cache, write_index=bucket + c.step - 1)
        token, logprob = choose_tokens(_step_keys(c.row_keys, c.step), logits[:, 0, :],
                                       spec.choice, temperature, top_p)
        active = ~c.done
        token = jnp.where(active, token, spec.pad_id)
        logprob = jnp.where(active, logprob, 0.0)
        return DecodeState(
            cache=cache,
            tokens=jax.lax.dynamic_update_slice_in_dim(c.tokens, token[:, None], c.step, axis=1),
            logprobs=jax.lax.dynamic_update_slice_in_dim(c.logprobs, logprob[:, None], c.step,
                                                         axis=1),
            lengths=c.lengths + active.astype(jnp.int32),
            next_position=c.next_position + 1,
            done=c.done | (active & _is_eos(token, spec.eos_ids)),
            step=c.step + 1,
            row_keys=c.row_keys,
        )

    return jax.lax.while_loop(unfinished, step, carry)


class CompiledSampling:
    """The jitted prefill, start and decode for one model structure (graphdef) and mesh.

    Functions are jitted once here; jax caches one executable per static arguments and input
    shapes. Prefill compiles per (block rows, prompt bucket), independently of the decode
    batch; `start` has no model in it and compiles in a moment. The decode carry is donated, so
    the cache is updated in place across chunks.
    """

    def __init__(self, graphdef, mesh: Mesh | None, num_kv_heads: int):
        self.mesh = mesh
        self._prefill = jax.jit(
            lambda state, tokens, valid: prefill_block(graphdef, state, tokens, valid, mesh=mesh),
            out_shardings=block_shardings(mesh, num_kv_heads))
        self._prefill_after = jax.jit(
            lambda state, prefix, tokens, valid: prefill_after_prefix(
                graphdef, state, prefix, tokens, valid, mesh=mesh),
            out_shardings=block_shardings(mesh, num_kv_heads))
        self._start = jax.jit(
            lambda blocks, row_keys, temperature, top_p, spec, prompt_rows, bucket: start(
                blocks, row_keys, temperature, top_p, spec=spec, prompt_rows=prompt_rows,
                bucket=bucket),
            static_argnums=(4, 5, 6), out_shardings=state_shardings(mesh, num_kv_heads))
        self._decode = jax.jit(
            lambda state, carry, end_step, temperature, top_p, spec: decode(
                graphdef, state, carry, end_step, temperature, top_p, spec=spec),
            static_argnums=(5,), donate_argnums=(1,),
            out_shardings=state_shardings(mesh, num_kv_heads))

    def prefill(self, state, tokens, valid) -> PrefillBlock:
        with _mesh_context(self.mesh):
            return self._prefill(state, tokens, valid)

    def prefill_after(self, state, prefix: PrefillBlock, tokens, valid) -> PrefillBlock:
        with _mesh_context(self.mesh):
            return self._prefill_after(state, prefix, tokens, valid)

    def start(self, blocks, row_keys, temperature, top_p, spec: DecodeSpec, prompt_rows: int,
              bucket: int) -> DecodeState:
        with _mesh_context(self.mesh):
            return self._start(tuple(blocks), row_keys, temperature, top_p, spec, prompt_rows,
                               bucket)

    def decode(self, state, carry, end_step, temperature, top_p, spec: DecodeSpec) -> DecodeState:
        with _mesh_context(self.mesh):
            return self._decode(state, carry, end_step, temperature, top_p, spec)


class _NoContext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _mesh_context(mesh: Mesh | None):
    return _NoContext() if mesh is None else jax.set_mesh(mesh)
