"""Keeping the tables and columns a question is about: CodeS's schema filtering, lexically.

CodeS ranks tables and columns with a trained classifier; here the score is lexical (a learned
classifier is out of scope): how much of a name, or of its natural-language name (Spider's
comment on it), the question's words cover, plus 1 for a column holding a value the question
mentions (`value_index`). Then:

- tables: best first (ties in schema order), each one added together with the shortest
  foreign-key path that joins it to the tables already kept, as long as everything fits in
  `max_tables`; the remaining places are filled the same way with the next tables, so the
  filtered schema has min(max_tables, tables) tables. A query over the kept tables can always
  join them as the full schema would: two kept tables that are connected in the full schema
  are connected through kept tables;
- columns, per kept table: its primary key and the foreign-key columns that join it to another
  kept table always (even past the cap: without them no join can be written), then the best
  scoring columns up to `max_columns`;
- order: tables and columns stay in schema order, so two questions that keep the same tables
  share the same text (and its tokens).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Iterable

from spft_jax.data.text_match import FUNCTION_WORDS, normalize_words
from spft_jax.sql.fk_graph import ForeignKeyGraph
from spft_jax.sql.schema import Column, Schema, Table

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def stem(word: str) -> str:
    """A crude plural stripper: enough for "singers" to meet singer, "countries" country."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def name_stems(name: str) -> frozenset[str]:
    """Stems of an identifier or a natural-language name: "LifeExpectancy", "life_expectancy"
    and "life expectancy" all give {life, expectancy}."""
    words = normalize_words(_CAMEL.sub(" ", name))
    return frozenset(stem(w) for w in words if w not in FUNCTION_WORDS)


def _same_word(a: str, b: str) -> bool:
    """Equal stems, or one word's form of the other's: a common prefix of all but two letters of
    the shorter and at least four ("advise" / "advisor", "taken" / "take")."""
    if a == b:
        return True
    shorter = min(len(a), len(b))
    need = max(4, shorter - 2)
    return shorter >= 4 and a[:need] == b[:need]


def _coverage(names: Iterable[str], words: Collection[str]) -> float:
    """The best share, over a thing's names, of its stems that the question has."""
    best = 0.0
    for name in names:
        stems = name_stems(name)
        if stems:
            found = sum(s in words or any(_same_word(s, w) for w in words) for s in stems)
            best = max(best, found / len(stems))
    return best


@dataclasses.dataclass(frozen=True)
class Relevance:
    tables: dict[str, float]  # table name -> score
    columns: dict[tuple[str, str], float]  # (table, column) -> score


def relevance(schema: Schema, text: str, matched: Collection[tuple[str, str]] = ()) -> Relevance:
    """Lexical scores of every table and column for `text`; `matched`: (table, column) pairs,
    lowercase, holding a value the text mentions."""
    words = frozenset(stem(w) for w in normalize_words(text) if w not in FUNCTION_WORDS)
    tables, columns = {}, {}
    for table in schema.tables:
        best_column = 0.0
        for column in table.columns:
            score = _coverage((column.name, column.nl_name), words)
            if (table.name.lower(), column.name.lower()) in matched:
                score += 1.0
            columns[(table.name, column.name)] = score
            best_column = max(best_column, score)
        tables[table.name] = _coverage((table.name, table.nl_name), words) + best_column
    return Relevance(tables, columns)


def _keep_tables(schema: Schema, scores: dict[str, float], max_tables: int) -> list[str]:
    graph = ForeignKeyGraph(schema)
    order = {t.name: i for i, t in enumerate(schema.tables)}
    ranked = sorted(order, key=lambda t: (-scores[t], order[t]))
    kept: list[str] = []
    for table in ranked:
        if len(kept) >= max_tables:
            break
        if table in kept:
            continue
        path = graph.shortest_path(kept, table) if kept else []
        # Another connected component (or nothing kept yet): the table alone joins nothing.
        added = [table] if path is None else [t for _, t, _ in path] or [table]
        if len(kept) + len(added) <= max_tables:
            kept += [t for t in added if t not in kept]
    return sorted(kept, key=order.__getitem__)


def _keep_columns(schema: Schema, table: Table, kept_tables: Collection[str],
                  scores: dict[tuple[str, str], float], max_columns: int) -> tuple[Column, ...]:
    joins = set()
    for fk in schema.foreign_keys:
        if fk.table == table.name and fk.ref_table in kept_tables:
            joins.add(fk.column.lower())
        if fk.ref_table == table.name and fk.table in kept_tables:
            joins.add(fk.ref_column.lower())
    needed = [c for c in table.columns if c.is_primary_key or c.name.lower() in joins]
    rest = sorted((c for c in table.columns if c not in needed),
                  key=lambda c: (-scores[(table.name, c.name)], c.index))
    chosen = set(needed) | set(rest[:max(0, max_columns - len(needed))])
    return tuple(c for c in table.columns if c in chosen)


def filter_schema(schema: Schema, text: str, max_tables: int, max_columns: int,
                  matched: Collection[tuple[str, str]] = ()) -> Schema:
    """The part of `schema` that `text` is about (see the module docstring)."""
    scores = relevance(schema, text, matched)
    kept = _keep_tables(schema, scores.tables, max_tables)
    tables = tuple(dataclasses.replace(t, columns=_keep_columns(schema, t, kept, scores.columns,
                                                                max_columns))
                   for t in schema.tables if t.name in kept)
    have = {(t.name, c.name) for t in tables for c in t.columns}
    foreign_keys = tuple(fk for fk in schema.foreign_keys
                         if (fk.table, fk.column) in have and (fk.ref_table, fk.ref_column) in have)
    return dataclasses.replace(schema, tables=tables, foreign_keys=foreign_keys)
