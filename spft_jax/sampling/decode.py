"""The device side of sampling: jitted prefill, insertion into the decode batch, decode loop.

All are pure functions of (graphdef, state, batch arrays): the model is split once by the
`Sampler` and merged inside the traced function, so a call costs no NNX graph traversal.

- `prefill_block` runs a block of left-padded prompts [r, Tp] through the model into a KV cache
  of exactly Tp slots and keeps the last position's logits only.
- `prefill_after_prefix` does the same for prompt suffixes after a shared prefix prefilled once
  (a Text-to-SQL prompt is mostly its database's schema, the same for every question on it).
- `empty_state` is a decode batch of B rows with every row free; `insert` places prefilled
  prompts into chosen free rows (a prompt's n samples into n rows: one prefill, n samples) and
  picks each new row's first token.
- `decode` is a `lax.while_loop` that generates one token per row and step until a given clock,
  until every row is done, or until enough rows are done that the host should refill them.

The cache is a ring of S slots per row: every row writes step t's key at slot t mod S (all rows
at the same slot, so the write is one dynamic_update_slice), and a prompt inserted at clock t
occupies the slots just before t mod S. A row's sequence (prompt bucket + max_new_tokens) fits in
S slots, so it never overwrites its own past; attention in a decoding step reads every valid slot
of the row, whatever their order. That is what lets a finished row take a queued prompt while
the others keep decoding ("rows that never wait"), with no row moved and no slot compacted.

Every row draws its tokens with its own key (from the caller's prompt index and sample index,
folded with the row's own generation step), so a row's samples do not depend on which other
prompts share its batch, nor on when it entered it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P

from spft_jax.models.decoder import KVCache, valid_positions
from spft_jax.parallel.rules import batch_axes, partition_spec
from spft_jax.sampling.filters import TokenChoice, choose_tokens


@dataclasses.dataclass(frozen=True)
class DecodeSpec:
    """Everything static about one generation: part of the compile key."""

    choice: TokenChoice
    max_new_tokens: int
    eos_ids: tuple[int, ...]
    pad_id: int


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class DecodeState:
    """The loop carry, B rows. tokens/logprobs: [B, N] the row's generated tokens (pad id / 0
    past its length); lengths: [B] tokens generated so far by the row's current prompt, EOS
    included (also the index of its next token); last_token: [B] the token fed next;
    next_position: [B] its position; done: [B] (a free row is done); clock: the decode steps
    taken by the batch (the ring's write slot is clock mod S); row_keys: [B, 2] every row's PRNG
    key (generation step t draws with fold_in(row_key, t))."""

    cache: KVCache
    tokens: jax.Array
    logprobs: jax.Array
    lengths: jax.Array
    last_token: jax.Array
    next_position: jax.Array
    done: jax.Array
    clock: jax.Array
    row_keys: jax.Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class PrefillBlock:
    """Prefilled prompts: k/v one [r, kv_heads, Tp, head_dim] array per layer, positions/valid
    [r, Tp], the last position's logits [r, vocab] and the position of the first generated
    token [r]."""

    k: tuple[jax.Array, ...]
    v: tuple[jax.Array, ...]
    positions: jax.Array
    valid: jax.Array
    logits: jax.Array
    next_position: jax.Array

    @property
    def width(self) -> int:
        return self.positions.shape[1]


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
    """A cache layer [batch, kv_heads, slots, head_dim]: the batch over the batch axes and, by
    the rules table, the kv heads over "tensor" when it divides them (as the k/v projections
    leave them), so no device holds another's heads."""
    if mesh is None:
        return None
    heads = partition_spec(("kv_heads",), (num_kv_heads,), mesh)
    axes = batch_axes(mesh)
    return NamedSharding(mesh, P(axes if axes else None, *heads, None, None))


def _layers(sharding, num_layers: int):
    return tuple(sharding for _ in range(num_layers))


def state_shardings(mesh: Mesh | None, num_kv_heads: int, num_layers: int) -> DecodeState | None:
    if mesh is None:
        return None
    kv = _layers(cache_sharding(mesh, num_kv_heads), num_layers)
    cache = KVCache(k=kv, v=kv, positions=batch_sharding(mesh, 2), valid=batch_sharding(mesh, 2))
    rows, rows_by = batch_sharding(mesh, 1), batch_sharding(mesh, 2)
    return DecodeState(cache=cache, tokens=rows_by, logprobs=rows_by, lengths=rows,
                       last_token=rows, next_position=rows, done=rows, clock=replicated(mesh),
                       row_keys=rows_by)


def block_shardings(mesh: Mesh | None, num_kv_heads: int, num_layers: int) -> PrefillBlock | None:
    if mesh is None:
        return None
    kv = _layers(cache_sharding(mesh, num_kv_heads), num_layers)
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


def _step_keys(row_keys: jax.Array, steps: jax.Array) -> jax.Array:
    """Every row's key for its own generation step steps[b]."""
    return jax.vmap(jax.random.fold_in)(row_keys, steps)


def _constrain_cache(cache: KVCache, shardings: PrefillBlock | None) -> KVCache:
    if shardings is None:
        return cache
    return KVCache(k=tuple(_constrain(x, sh) for x, sh in zip(cache.k, shardings.k)),
                   v=tuple(_constrain(x, sh) for x, sh in zip(cache.v, shardings.v)),
                   positions=_constrain(cache.positions, shardings.positions),
                   valid=_constrain(cache.valid, shardings.valid))


def prefill_block(graphdef, state, tokens, valid, *, mesh: Mesh | None,
                  cache_dtype=None) -> PrefillBlock:
    """Runs left-padded prompts [r, Tp] through the model into a cache of Tp slots."""
    model = nnx.merge(graphdef, state)
    rows, length = tokens.shape
    positions = valid_positions(valid)
    cache = KVCache.empty(model.config, rows, length, cache_dtype)
    cache = _constrain_cache(cache, block_shardings(mesh, model.config.num_kv_heads,
                                                    model.config.num_layers))
    with jax.named_scope("prefill"):
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

    def widen(x, slot_axis):  # the prefix's row for every row, then empty suffix slots
        x = jnp.take(x, jnp.zeros((rows,), jnp.int32), axis=0)
        pad = [(0, 0)] * x.ndim
        pad[slot_axis] = (0, length)
        return jnp.pad(x, pad)

    cache = KVCache(k=tuple(widen(x, 2) for x in prefix.k), v=tuple(widen(x, 2) for x in prefix.v),
                    positions=widen(prefix.positions, 1), valid=widen(prefix.valid, 1))
    cache = _constrain_cache(cache, block_shardings(mesh, model.config.num_kv_heads,
                                                    model.config.num_layers))
    positions = (prefix.next_position[0] + valid_positions(valid)).astype(jnp.int32)
    with jax.named_scope("prefill"):
        hidden, cache = model.hidden_states(tokens, positions, valid, cache, prefix.width)
        logits = model.logits_from_hidden(hidden[:, -1:, :])[:, 0, :]
    return PrefillBlock(k=cache.k, v=cache.v, positions=cache.positions, valid=cache.valid,
                        logits=logits, next_position=positions[:, -1] + 1)


def empty_state(config, *, rows: int, capacity: int, max_new_tokens: int, pad_id: int,
                cache_dtype=None) -> DecodeState:
    """A decode batch of `rows` free rows over a ring of `capacity` slots."""
    return DecodeState(
        cache=KVCache.empty(config, rows, capacity, cache_dtype),
        tokens=jnp.full((rows, max_new_tokens), pad_id, jnp.int32),
        logprobs=jnp.zeros((rows, max_new_tokens), jnp.float32),
        lengths=jnp.zeros((rows,), jnp.int32),
        last_token=jnp.full((rows,), pad_id, jnp.int32),
        next_position=jnp.zeros((rows,), jnp.int32),
        done=jnp.ones((rows,), bool),
        clock=jnp.asarray(0, jnp.int32),
        row_keys=jnp.zeros((rows, 2), jnp.uint32),
    )


def insert(carry: DecodeState, block: PrefillBlock, source, dest, keys, temperature, top_p, *,
           spec: DecodeSpec) -> DecodeState:
    """Places block rows `source` [m] into decode rows `dest` [m] (a destination past the last
    row drops its entry: block padding), with row keys `keys` [m, 2], and picks each new row's
    first token from the block's logits. The prompt's slots end just before the ring's next
    write slot, so the row continues decoding in lock-step with the others."""
    capacity = carry.cache.capacity
    width = block.width
    shift = (carry.clock % capacity - width) % capacity
    # Slot s of the ring holds block column (s - shift) mod S; columns past the block are empty.
    columns = (jnp.arange(capacity) - shift) % capacity

    def ring(x, slot_axis):
        x = jnp.take(x, source, axis=0)
        pad = [(0, 0)] * x.ndim
        pad[slot_axis] = (0, capacity - width)
        return jnp.take(jnp.pad(x, pad), columns, axis=slot_axis)

    def put(target, values):
        return target.at[dest].set(values.astype(target.dtype), mode="drop")

    cache = KVCache(
        k=tuple(put(c, ring(b, 2)) for c, b in zip(carry.cache.k, block.k)),
        v=tuple(put(c, ring(b, 2)) for c, b in zip(carry.cache.v, block.v)),
        positions=put(carry.cache.positions, ring(block.positions, 1)),
        valid=put(carry.cache.valid, ring(block.valid, 1)),
    )
    logits = jnp.take(block.logits, source, axis=0)
    with jax.named_scope("sample"):
        token, logprob = choose_tokens(_step_keys(keys, jnp.zeros(keys.shape[:1], jnp.int32)),
                                       logits, spec.choice, temperature, top_p)
    first_tokens = jnp.full((source.shape[0], spec.max_new_tokens), spec.pad_id, jnp.int32)
    first_logprobs = jnp.zeros((source.shape[0], spec.max_new_tokens), jnp.float32)
    done = _is_eos(token, spec.eos_ids) | (spec.max_new_tokens <= 1)
    return DecodeState(
        cache=cache,
        tokens=put(carry.tokens, first_tokens.at[:, 0].set(token)),
        logprobs=put(carry.logprobs, first_logprobs.at[:, 0].set(logprob)),
        lengths=put(carry.lengths, jnp.ones_like(token)),
        last_token=put(carry.last_token, token),
        next_position=put(carry.next_position, jnp.take(block.next_position, source)),
        done=put(carry.done, done),
        clock=carry.clock,
        row_keys=put(carry.row_keys, keys),
    )


def decode(graphdef, state, carry: DecodeState, end_clock, done_target, temperature, top_p, *,
           spec: DecodeSpec) -> DecodeState:
    """Generates one token per step for every unfinished row until the clock reaches
    `end_clock`, every row is done, or at least `done_target` rows are done. A done row keeps
    running in lock-step but records nothing."""
    model = nnx.merge(graphdef, state)
    capacity = carry.cache.capacity
    rows = carry.tokens.shape[0]
    row_index = jnp.arange(rows)

    def unfinished(c: DecodeState):
        done = jnp.sum(c.done.astype(jnp.int32))
        return (c.clock < end_clock) & (done < jnp.minimum(done_target, rows))

    def step(c: DecodeState) -> DecodeState:
        with jax.named_scope("decode_step"):
            logits, cache = model(c.last_token[:, None], c.next_position[:, None],
                                  jnp.ones((rows, 1), bool), cache=c.cache,
                                  write_index=c.clock % capacity)
        with jax.named_scope("sample"):
            token, logprob = choose_tokens(_step_keys(c.row_keys, c.lengths), logits[:, 0, :],
                                           spec.choice, temperature, top_p)
        active = ~c.done
        # A done row's column index is out of range, so its write is dropped.
        column = jnp.where(active, c.lengths, spec.max_new_tokens)
        lengths = c.lengths + active.astype(jnp.int32)
        finished = _is_eos(token, spec.eos_ids) | (lengths >= spec.max_new_tokens)
        return DecodeState(
            cache=cache,
            tokens=c.tokens.at[row_index, column].set(token, mode="drop"),
            logprobs=c.logprobs.at[row_index, column].set(logprob, mode="drop"),
            lengths=lengths,
            last_token=jnp.where(active, token, c.last_token),
            next_position=c.next_position + active.astype(jnp.int32),
            done=c.done | (active & finished),
            clock=c.clock + 1,
            row_keys=c.row_keys,
        )

    return jax.lax.while_loop(unfinished, step, carry)


class CompiledSampling:
    """The jitted prefill, insertion and decode for one model structure (graphdef) and mesh.

    Functions are jitted once here; jax caches one executable per static arguments and input
    shapes. Prefill compiles per (block rows, prompt bucket), independently of the decode batch;
    `insert` has no model in it and compiles in a moment. The decode carry is donated to
    `insert` and `decode`, so the cache is updated in place across calls.
    """

    def __init__(self, graphdef, mesh: Mesh | None, config):
        self.mesh = mesh
        heads, layers = config.num_kv_heads, config.num_layers
        blocks = block_shardings(mesh, heads, layers)
        states = state_shardings(mesh, heads, layers)
        self._prefill = jax.jit(
            lambda state, tokens, valid, cache_dtype: prefill_block(
                graphdef, state, tokens, valid, mesh=mesh, cache_dtype=cache_dtype),
            static_argnums=(3,), out_shardings=blocks)
        self._prefill_after = jax.jit(
            lambda state, prefix, tokens, valid: prefill_after_prefix(
                graphdef, state, prefix, tokens, valid, mesh=mesh),
            out_shardings=blocks)
        self._empty = jax.jit(
            lambda rows, capacity, max_new_tokens, pad_id, cache_dtype: empty_state(
                config, rows=rows, capacity=capacity, max_new_tokens=max_new_tokens,
                pad_id=pad_id, cache_dtype=cache_dtype),
            static_argnums=(0, 1, 2, 3, 4), out_shardings=states)
        self._insert = jax.jit(
            lambda carry, block, source, dest, keys, temperature, top_p, spec: insert(
                carry, block, source, dest, keys, temperature, top_p, spec=spec),
            static_argnums=(7,), donate_argnums=(0,), out_shardings=states)
        self._decode = jax.jit(
            lambda state, carry, end_clock, done_target, temperature, top_p, spec: decode(
                graphdef, state, carry, end_clock, done_target, temperature, top_p, spec=spec),
            static_argnums=(6,), donate_argnums=(1,), out_shardings=states)

    def prefill(self, state, tokens, valid, cache_dtype=None) -> PrefillBlock:
        with _mesh_context(self.mesh):
            return self._prefill(state, tokens, valid, cache_dtype)

    def prefill_after(self, state, prefix: PrefillBlock, tokens, valid) -> PrefillBlock:
        with _mesh_context(self.mesh):
            return self._prefill_after(state, prefix, tokens, valid)

    def empty(self, rows: int, capacity: int, max_new_tokens: int, pad_id: int,
              cache_dtype=None) -> DecodeState:
        with _mesh_context(self.mesh):
            return self._empty(rows, capacity, max_new_tokens, pad_id, cache_dtype)

    def insert(self, carry, block, source, dest, keys, temperature, top_p,
               spec: DecodeSpec) -> DecodeState:
        with _mesh_context(self.mesh):
            return self._insert(carry, block, source, dest, keys, temperature, top_p, spec)

    def decode(self, state, carry, end_clock, done_target, temperature, top_p,
               spec: DecodeSpec) -> DecodeState:
        with _mesh_context(self.mesh):
            return self._decode(state, carry, end_clock, done_target, temperature, top_p, spec)


class _NoContext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _mesh_context(mesh: Mesh | None):
    return _NoContext() if mesh is None else jax.set_mesh(mesh)
