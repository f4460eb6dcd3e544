"""Binding a template's table and column slots to the tables and columns of one schema.

Two binders, so that the value of the foreign-key graph can be measured:
- "fk_graph" (ours): every key link (`fk #k`) is bound to a declared foreign key between the two
  tables, its two slots to that key's columns; a table slot that no link ties to the tables
  bound so far goes to the closest table in the foreign-key graph (shortest paths first, ties in
  random order), and a table that shares a FROM with bound tables must be reachable from them,
  since its JOIN is rebuilt along a foreign-key path.
- "uniform": the naive alternative. Tables are drawn uniformly among those with enough columns of
  the slot types, and join-key slots are bound like any other slot, to a random column of their
  type (so JOINs are rebuilt on random same-typed columns).

Both binders bind distinct table slots to distinct tables and distinct column slots of one table
to distinct columns, because distinct seed tables and columns were distinct things. A column
slot binds to a column of its type; a `key` slot only to a primary-key column; a non-key slot
prefers non-key columns. Join-key slots of the fk_graph binder take the foreign key's columns
whatever their types: Spider often types a key and the foreign key that references it
differently (text vs number), and the join is over the key regardless.

The search is a depth-first backtracking over table slots with a step budget; every choice is
drawn from the caller's `random.Random`, so a binding is reproducible from the seed.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator, Mapping, Sequence

from spft_jax.sql.fk_graph import ForeignKeyGraph
from spft_jax.sql.schema import Column, ForeignKey, Schema, Table
from spft_jax.synthesis.slots import SLOT_TYPE_OF_COLUMN_TYPE, ColumnSlot, KeyLink, Template

BINDERS = ("fk_graph", "uniform")


@dataclasses.dataclass(frozen=True)
class Binding:
    tables: Mapping[str, Table]  # table slot -> table
    columns: Mapping[str, Column]  # column slot -> a column of tables[slot.table]


def slot_type(column: Column) -> str:
    return SLOT_TYPE_OF_COLUMN_TYPE[column.type]


def bind_slots(
    template: Template,
    schema: Schema,
    graph: ForeignKeyGraph,
    scopes: Sequence[Sequence[str]],
    rng: random.Random,
    binder: str = "fk_graph",
    max_steps: int = 500,
) -> Binding | None:
    """A binding of every slot of `template` on `schema`, or None when none was found within
    `max_steps` candidate tables. `scopes` lists the table slots of each FROM clause."""
    if binder not in BINDERS:
        raise ValueError(f"binder must be one of {BINDERS}, got {binder!r}")
    return _Search(template, schema, graph, scopes, rng, binder, max_steps).run()


class _Search:
    def __init__(self, template, schema, graph, scopes, rng, binder, max_steps):
        self.template = template
        self.schema = schema
        self.graph = graph
        self.rng = rng
        self.use_links = binder == "fk_graph"
        self.steps_left = max_steps
        self.slots: dict[str, list[ColumnSlot]] = {t: [] for t in template.tables}
        for slot in template.columns:
            self.slots[slot.table].append(slot)
        self.co_scope: dict[str, list[str]] = {t: [] for t in template.tables}
        for scope in scopes:
            for symbol in scope:
                partners = self.co_scope[symbol]
                partners += [s for s in scope if s != symbol and s not in partners]
        self.order = self._order()

    def run(self) -> Binding | None:
        return self._assign(0, {}, {})

    def _order(self) -> list[str]:
        """Table slots breadth-first along key links (fk_graph), so each linked slot is bound
        while its partner is already known; otherwise template order."""
        if not self.use_links:
            return list(self.template.tables)
        order: list[str] = []
        for start in self.template.tables:
            if start in order:
                continue
            queue = [start]
            order.append(start)
            while queue:
                symbol = queue.pop(0)
                for other in self._linked(symbol):
                    if other not in order:
                        order.append(other)
                        queue.append(other)
        return order

    def _linked(self, symbol: str) -> list[str]:
        slot = self.template.column_slot
        out = []
        for link in self.template.links:
            ends = (slot[link.left].table, slot[link.right].table)
            if symbol in ends:
                out.append(ends[1] if ends[0] == symbol else ends[0])
        return out

    # ---------------------------------------------------------------- tables

    def _assign(
        self, i: int, tables: dict[str, Table], forced: dict[str, Column]
    ) -> Binding | None:
        if i == len(self.order):
            columns = self._columns(tables, forced)
            return Binding(dict(tables), columns) if columns is not None else None
        symbol = self.order[i]
        for table, now_forced in self._candidates(symbol, tables, forced):
            if self.steps_left <= 0:
                return None
            self.steps_left -= 1
            tables[symbol] = table
            found = self._assign(i + 1, tables, now_forced)
            del tables[symbol]
            if found is not None:
                return found
        return None

    def _candidates(
        self, symbol: str, tables: dict[str, Table], forced: dict[str, Column]
    ) -> Iterator[tuple[Table, dict[str, Column]]]:
        used = {t.name for t in tables.values()}
        pool = [t for t in self.schema.tables if t.name not in used and self._fits(symbol, t)]
        self.rng.shuffle(pool)
        if not self.use_links:
            for table in pool:
                yield table, forced
            return
        slot = self.template.column_slot
        links = []  # the links between `symbol` and slots bound already
        for link in self.template.links:
            ends = (slot[link.left].table, slot[link.right].table)
            if symbol in ends and all(end in tables or end == symbol for end in ends):
                links.append(link)
        if links:
            for table in pool:
                for now_forced in self._link_choices(symbol, table, links, 0, tables, forced):
                    yield table, now_forced
            return
        related = [tables[s].name for s in self.co_scope[symbol] if s in tables]
        anchors = related or [t.name for t in tables.values()]
        if anchors:
            distance = self.graph.distances(anchors)
            if related:  # shares a FROM: must be joinable along foreign keys
                pool = [t for t in pool if t.name in distance]
            pool.sort(key=lambda t: distance.get(t.name, len(self.schema.tables)))
        for table in pool:
            yield table, forced

    def _fits(self, symbol: str, table: Table) -> bool:
        """Enough columns of each slot type (and of primary keys) for the slots that are not
        bound through a key link."""
        free = [s for s in self.slots[symbol] if not (self.use_links and s.links)]
        for type_ in {s.type for s in free}:
            of_type = [c for c in table.columns if slot_type(c) == type_]
            need = [s for s in free if s.type == type_]
            keys = sum(s.is_key for s in need)
            if len(need) > len(of_type) or keys > sum(c.is_primary_key for c in of_type):
                return False
        return True

    # ---------------------------------------------------------------- key links

    def _link_choices(
        self,
        symbol: str,
        table: Table,
        links: list[KeyLink],
        k: int,
        tables: dict[str, Table],
        forced: dict[str, Column],
    ) -> Iterator[dict[str, Column]]:
        """Every way (in random order, key markers agreeing first) to bind links[k:] to foreign
        keys, given `symbol` is bound to `table`."""
        if k == len(links):
            yield forced
            return
        slot = self.template.column_slot
        left, right = slot[links[k].left], slot[links[k].right]
        left_table = table if left.table == symbol else tables[left.table]
        right_table = table if right.table == symbol else tables[right.table]
        options = []
        for fk in self.graph.foreign_keys_between(left_table.name, right_table.name):
            for left_name, right_name in _orientations(fk, left_table.name, right_table.name):
                left_column = left_table.column(left_name)
                right_column = right_table.column(right_name)
                mismatch = (left.is_key != left_column.is_primary_key) + (
                    right.is_key != right_column.is_primary_key
                )
                options.append((mismatch, self.rng.random(), left_column, right_column))
        options.sort(key=lambda o: o[:2])
        for _, _, left_column, right_column in options:
            now = self._force(forced, left, left_column)
            now = self._force(now, right, right_column) if now is not None else None
            if now is not None:
                yield from self._link_choices(symbol, table, links, k + 1, tables, now)

    def _force(
        self, forced: dict[str, Column], slot: ColumnSlot, column: Column
    ) -> dict[str, Column] | None:
        if slot.name in forced:
            return forced if forced[slot.name] == column else None
        table_of = self.template.column_slot
        for other, bound in forced.items():
            if bound == column and table_of[other].table == slot.table:
                return None  # two seed columns must stay two columns
        return {**forced, slot.name: column}

    # ---------------------------------------------------------------- columns

    def _columns(
        self, tables: dict[str, Table], forced: dict[str, Column]
    ) -> dict[str, Column] | None:
        columns = dict(forced)
        for symbol in self.template.tables:
            taken = [columns[s.name] for s in self.slots[symbol] if s.name in columns]
            free = [s for s in self.slots[symbol] if s.name not in columns]
            # Key slots first: they can use only primary keys, non-key slots can fall back on them.
            for slot in sorted(free, key=lambda s: not s.is_key):
                pool = [
                    c
                    for c in tables[symbol].columns
                    if slot_type(c) == slot.type
                    and c not in taken
                    and (c.is_primary_key or not slot.is_key)
                ]
                preferred = [c for c in pool if c.is_primary_key == slot.is_key] or pool
                if not preferred:
                    return None
                column = self.rng.choice(preferred)
                columns[slot.name] = column
                taken.append(column)
        return columns


def _orientations(fk: ForeignKey, left: str, right: str) -> list[tuple[str, str]]:
    """(left column, right column) pairs by which `fk` joins tables `left` and `right`."""
    out = []
    if (fk.table, fk.ref_table) == (left, right):
        out.append((fk.column, fk.ref_column))
    if (fk.ref_table, fk.table) == (left, right):
        out.append((fk.ref_column, fk.column))
    return out
