"""Filling one template on one database: bind slots, rebuild JOINs, draw values, write SQL.

Safety invariant: every table and column name in a filled query is a name of the target schema
that the database file has (`DatabaseContent.schema`), and every literal is a value read from the
database, drawn from the column it is compared with (for `x LIKE '%w%'`, `w` is a word of such a
value). The exceptions are the numbers the template itself kept: LIMIT / OFFSET counts and
numbers compared with COUNT(...) (`HAVING count(*) > 2`), which are small constants of the seed
query, and the aliases the query defines (T1, T2, ... and `AS` names of the seed).

JOINs follow Spider's style: one table is written bare with bare column names; several tables are
aliased T1, T2, ... in FROM order, every column qualified, `JOIN b AS T2 ON T1.x = T2.y`. With the
fk_graph binder, a table that the template puts in a FROM without a key link to the others is
joined along the shortest foreign-key path, adding the tables on the path as bridges.
"""

from __future__ import annotations

import functools
import random

import sqlglot
from sqlglot import exp

from spft_jax.errors import SpftError
from spft_jax.sql.database_content import DatabaseContent
from spft_jax.sql.identifiers import quote_identifier
from spft_jax.sql.schema import Column, ForeignKey, Table
from spft_jax.synthesis.binding import Binding, bind_slots
from spft_jax.synthesis.slots import KeyLink, Template, ValueSlot

FILL_FAILURE_REASONS = (
    "no_binding",  # no tables/columns of the database fit the slots
    "no_join_path",  # a FROM's tables could not be joined along foreign keys
    "no_values",  # a compared column holds no value usable as a literal
)


class FillError(SpftError):
    """A template that cannot be filled on a database (an expected outcome that synthesis
    counts); `reason` is one of FILL_FAILURE_REASONS."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@functools.lru_cache(maxsize=8192)
def _parsed(skeleton: str) -> exp.Expression:
    return sqlglot.parse_one(skeleton, read="sqlite")


def _slot_scopes(
    tree: exp.Expression, template: Template
) -> list[tuple[exp.Select, list[str], list[int]]]:
    """Every SELECT whose FROM holds table slots: (node, its table slots, its ON key links)."""
    scopes = []
    for select in tree.find_all(exp.Select):
        from_ = select.args.get("from_")
        if from_ is None or not isinstance(from_.this, exp.Table):
            continue  # a FROM subquery: its own SELECT is a scope of its own
        joins = select.args.get("joins") or []
        symbols = [from_.this.name] + [j.this.name for j in joins]
        links = [
            int(marker.name[2:])
            for j in joins
            if j.args.get("on") is not None
            for marker in j.args["on"].find_all(exp.Column)
        ]
        scopes.append((select, symbols, links))
    return scopes


def _identifier(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=quote_identifier(name) != name)


def _table(table: Table, alias: str | None) -> exp.Table:
    node = exp.Table(this=_identifier(table.name))
    if alias:
        node.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
    return node


def _column(name: str, alias: str | None) -> exp.Column:
    return exp.Column(this=_identifier(name), table=exp.to_identifier(alias) if alias else None)


def fill_template(
    template: Template, content: DatabaseContent, rng: random.Random, binder: str = "fk_graph"
) -> str:
    """The SQL of `template` filled on `content`'s database; raises FillError when it does not
    fit. See the module docstring for what the result may contain."""
    tree = _parsed(template.skeleton).copy()
    scopes = _slot_scopes(tree, template)
    binding = bind_slots(
        template, content.schema, content.graph, [s for _, s, _ in scopes], rng, binder
    )
    if binding is None:
        raise FillError("no_binding", f"template {template.id} does not fit {content.db_id}")
    clauses = [
        (select, *_from_clause(template, binding, content, symbols, links, binder))
        for select, symbols, links in scopes
    ]
    aliases = {id(select): alias_of for select, _, _, alias_of in clauses}
    for column in list(tree.find_all(exp.Column)):
        if column.table not in template.tables:
            continue  # an alias the seed defined (`AS n`), kept as written
        alias = aliases[id(column.find_ancestor(exp.Select))][column.table]
        if not isinstance(column.this, exp.Star):
            column.replace(_column(binding.columns[column.name].name, alias))
        elif alias:
            column.replace(exp.Column(this=exp.Star(), table=exp.to_identifier(alias)))
        else:
            column.replace(exp.Star())
    for select, from_, joins, _ in clauses:
        select.set("from_", from_)
        select.set("joins", joins or None)
    _fill_values(tree, template, binding, content, rng)
    return tree.sql(dialect="sqlite")


class _JoinBuilder:
    """One FROM ... JOIN ... ON clause, aliasing tables T1, T2, ... in the order they join."""

    def __init__(self):
        self.alias_of_table: dict[str, str] = {}
        self.from_: exp.From | None = None
        self.joins: list[exp.Join] = []

    def next_alias(self) -> str:
        return f"T{len(self.alias_of_table) + 1}"

    def add(self, table: Table, on: list[exp.Expression]) -> str:
        alias = self.next_alias()
        self.alias_of_table[table.name] = alias
        if self.from_ is None:
            self.from_ = exp.From(this=_table(table, alias))
            return alias
        join = exp.Join(this=_table(table, alias))
        if on:
            join.set("on", exp.and_(*on))
        self.joins.append(join)
        return alias


def _from_clause(
    template: Template,
    binding: Binding,
    content: DatabaseContent,
    symbols: list[str],
    links: list[int],
    binder: str,
) -> tuple[exp.From, list[exp.Join], dict[str, str | None]]:
    """The rebuilt FROM and JOINs of one scope, and each table slot's alias in it.

    Tables join in template order, except that a table with a key link to the tables already
    joined goes first (its ON is that link's foreign key). A table without one is joined along
    the shortest foreign-key path (fk_graph) or by a cross join (the naive binder)."""
    tables = binding.tables
    if len(symbols) == 1:
        return exp.From(this=_table(tables[symbols[0]], None)), [], {symbols[0]: None}
    slot = template.column_slot
    scope_links = [link for link in template.links if link.number in links]
    builder = _JoinBuilder()
    alias_of: dict[str, str] = {symbols[0]: builder.add(tables[symbols[0]], [])}

    def links_to(symbol: str) -> list[KeyLink]:
        return [
            link
            for link in scope_links
            if symbol in (slot[link.left].table, slot[link.right].table)
            and {slot[link.left].table, slot[link.right].table} <= alias_of.keys() | {symbol}
        ]

    def condition(link: KeyLink) -> exp.EQ:
        first, second = sorted(
            (link.left, link.right), key=lambda s: int(alias_of[slot[s].table][1:])
        )
        return exp.EQ(
            this=_column(binding.columns[first].name, alias_of[slot[first].table]),
            expression=_column(binding.columns[second].name, alias_of[slot[second].table]),
        )

    remaining = symbols[1:]
    while remaining:
        symbol = next((s for s in remaining if links_to(s)), remaining[0])
        remaining.remove(symbol)
        linked = links_to(symbol)
        if linked:
            alias_of[symbol] = builder.next_alias()
            builder.add(tables[symbol], [condition(link) for link in linked])
        elif binder == "uniform":
            alias_of[symbol] = builder.add(tables[symbol], [])
        else:
            path = content.graph.shortest_path(
                list(builder.alias_of_table),
                tables[symbol].name,
                avoid=[tables[s].name for s in remaining],
            )
            if path is None:
                raise FillError(
                    "no_join_path", f"{tables[symbol].name} cannot be joined in {content.db_id}"
                )
            for source, target, fk in path:
                on = _fk_condition(fk, source, builder.alias_of_table[source], builder.next_alias())
                builder.add(content.schema.table(target), [on])
            alias_of[symbol] = builder.alias_of_table[tables[symbol].name]
    return builder.from_, builder.joins, alias_of


def _fk_condition(fk: ForeignKey, source: str, source_alias: str, target_alias: str) -> exp.EQ:
    """`source_alias.x = target_alias.y` for a foreign key between the source and the target."""
    pair = (fk.column, fk.ref_column) if fk.table == source else (fk.ref_column, fk.column)
    return exp.EQ(
        this=_column(pair[0], source_alias), expression=_column(pair[1], target_alias)
    )


def _fill_values(
    tree: exp.Expression,
    template: Template,
    binding: Binding,
    content: DatabaseContent,
    rng: random.Random,
) -> None:
    """Each value slot gets a value of its column's content (distinct values for the slots of
    one column, while the column has enough); BETWEEN bounds are put in order."""
    value_slot = {v.name: v for v in template.values}
    used: dict[str, list] = {}
    chosen: dict[int, object] = {}
    for placeholder in list(tree.find_all(exp.Placeholder)):
        slot: ValueSlot = value_slot[placeholder.name]
        table = binding.tables[template.column_slot[slot.column].table]
        column: Column = binding.columns[slot.column]
        pool = content.values(table, column.name)
        if not pool:
            raise FillError(
                "no_values", f"{content.db_id}: {table.name}.{column.name} has no usable values"
            )
        taken = used.setdefault(slot.column, [])
        value = rng.choice([v for v in pool if v not in taken] or pool)
        taken.append(value)
        literal = _literal(value, slot.pattern, rng)
        chosen[id(literal)] = value
        placeholder.replace(literal)
    for between in tree.find_all(exp.Between):
        low, high = between.args["low"], between.args["high"]
        if id(low) in chosen and id(high) in chosen:
            a, b = chosen[id(low)], chosen[id(high)]
            if isinstance(a, str) == isinstance(b, str) and a > b:
                between.set("low", high)
                between.set("high", low)


def _literal(value, pattern: str, rng: random.Random) -> exp.Literal:
    if pattern == "{}":
        if isinstance(value, str):
            return exp.Literal.string(value)
        return exp.Literal.number(repr(value))
    words = str(value).split() or [str(value)]
    word = {"%{}%": rng.choice(words), "{}%": words[0], "%{}": words[-1]}[pattern]
    return exp.Literal.string(pattern.format(word))
