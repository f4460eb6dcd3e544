"""The foreign-key graph of a schema: which tables join to which, and how far apart they are.

Filling a template binds its tables to tables that are close in this graph and rebuilds its JOINs
along foreign keys, because a join along a declared foreign key is what makes a synthetic query
meaningful and non-empty, while a join on two random columns of the same type mostly returns
nothing. Tables are nodes, each foreign key is an undirected edge (a join works either way);
a foreign key from a table to itself is kept for self-references but never used as a path step.

Everything iterates in tables.json order, never in set order, so paths are reproducible.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from spft_jax.sql.schema import ForeignKey, Schema


class ForeignKeyGraph:
    """Adjacency of tables by foreign keys, with breadth-first distances and shortest paths."""

    def __init__(self, schema: Schema):
        self.schema = schema
        self.tables: tuple[str, ...] = tuple(t.name for t in schema.tables)
        self._neighbours: dict[str, list[tuple[str, ForeignKey]]] = {t: [] for t in self.tables}
        self._between: dict[tuple[str, str], list[ForeignKey]] = {}
        for fk in schema.foreign_keys:
            if fk.table not in self._neighbours or fk.ref_table not in self._neighbours:
                continue  # names a table the schema does not have (malformed entry)
            self._between.setdefault((fk.table, fk.ref_table), []).append(fk)
            if fk.table != fk.ref_table:
                self._between.setdefault((fk.ref_table, fk.table), []).append(fk)
                self._neighbours[fk.table].append((fk.ref_table, fk))
                self._neighbours[fk.ref_table].append((fk.table, fk))

    def foreign_keys_between(self, a: str, b: str) -> tuple[ForeignKey, ...]:
        """Every foreign key joining tables `a` and `b`, in either direction."""
        return tuple(self._between.get((a, b), ()))

    def distances(self, sources: Iterable[str]) -> dict[str, int]:
        """Number of foreign-key steps from the nearest of `sources` to every reachable table."""
        distance = {s: 0 for s in sources}
        queue = deque(distance)
        while queue:
            table = queue.popleft()
            for neighbour, _ in self._neighbours[table]:
                if neighbour not in distance:
                    distance[neighbour] = distance[table] + 1
                    queue.append(neighbour)
        return distance

    def shortest_path(
        self, sources: Iterable[str], target: str, avoid: Iterable[str] = ()
    ) -> list[tuple[str, str, ForeignKey]] | None:
        """The steps (from_table, to_table, foreign key) of a shortest path from the nearest of
        `sources` to `target` that passes through none of `avoid`; [] when `target` is a source,
        None when no such path exists. Among equally short paths the first in tables.json order
        wins."""
        sources = list(sources)
        if target in sources:
            return []
        blocked = set(avoid) - {target}
        came_from: dict[str, tuple[str, ForeignKey] | None] = {s: None for s in sources}
        queue = deque(sources)
        while queue:
            table = queue.popleft()
            for neighbour, fk in self._neighbours[table]:
                if neighbour in came_from or neighbour in blocked:
                    continue
                came_from[neighbour] = (table, fk)
                if neighbour == target:
                    return self._unwind(came_from, target)
                queue.append(neighbour)
        return None

    @staticmethod
    def _unwind(came_from, target: str) -> list[tuple[str, str, ForeignKey]]:
        steps = []
        node = target
        while came_from[node] is not None:
            previous, fk = came_from[node]
            steps.append((previous, node, fk))
            node = previous
        return steps[::-1]
