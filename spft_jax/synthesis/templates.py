"""Seed SQL -> templates: stage 1's first step (see `template_slots.py` for what a template is).

`extract_template(sql, schema)` parses a seed query with sqlglot (SQLite dialect), resolves
every table alias and column against the schema from tables.json, and replaces names and values
with typed slots. `build_templates(seeds, schemas)` does that for a whole seed set and keeps each
distinct template with its frequency (templates are later sampled by the seed distribution),
plus every seed that could not be templated with the reason.

Supported: aliases, `*` and `T1.*`, aggregates, DISTINCT, WHERE / GROUP BY / HAVING / ORDER BY /
LIMIT, nested queries in conditions (IN, comparisons, EXISTS), INTERSECT / UNION / EXCEPT, and a
FROM subquery when it is the only FROM item and the outer query refers to it only through its
output aliases (`SELECT avg(n) FROM (SELECT count(*) AS n ...)`). A query outside that raises a
`TemplateError` whose `reason` is one of FAILURE_REASONS, because a template that silently
misread its seed would fill into wrong-shaped queries for every database.

SQLite quirk kept: a double-quoted word that names no column is a string (Spider writes
`WHERE name = "Bob"`), so it becomes a value slot like 'Bob'.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections import Counter
from collections.abc import Iterable, Mapping

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from spft_jax.errors import DataError
from spft_jax.sql.dataset import Example
from spft_jax.sql.schema import Column, Schema, Table
from spft_jax.synthesis.slots import (
    SLOT_TYPE_OF_COLUMN_TYPE,
    ColumnSlot,
    KeyLink,
    Template,
    ValueSlot,
)

FAILURE_REASONS = (
    "unknown_database",  # the seed's db_id has no schema
    "unparseable",  # sqlglot cannot parse it, or it is not one query
    "unknown_table",
    "unknown_column",
    "ambiguous_column",  # an unqualified name that several FROM tables have
    "unresolvable_alias",  # a qualifier that names no table of its FROM
    "correlated_subquery",  # a subquery that refers to its outer query's tables
    "self_join",  # one table twice in one FROM
    "unsupported_literal",  # a value not compared with a column, COUNT, or a LIMIT count
    "unsupported_construct",  # anything else outside the supported subset (module docstring)
)


class TemplateError(DataError):
    """A seed query that cannot be made a template; `reason` is one of FAILURE_REASONS."""

    def __init__(self, reason: str, message: str):
        assert reason in FAILURE_REASONS, reason
        super().__init__(message)
        self.reason = reason


_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like)
# Aggregates whose value lies among the column's own values: `avg(price) > v` takes v from price.
_VALUE_AGGREGATES = (exp.Max, exp.Min, exp.Sum, exp.Avg)
# Temporary slot names during extraction; renumbered canonically at the end.
_TEMP_NAME = re.compile(r"\b__(fk|t|c|v)(\d+)\b")


@dataclasses.dataclass
class _Scope:
    """The names one SELECT can see."""

    parent: "_Scope | None"
    sources: dict[str, Table | None] = dataclasses.field(default_factory=dict)  # None: derived
    tables: list[Table] = dataclasses.field(default_factory=list)  # in FROM order
    aliases: set[str] = dataclasses.field(default_factory=set)  # SELECT ... AS x, lower case
    derived_outputs: set[str] | None = None  # alias names of a FROM subquery's SELECT list

    def ancestors(self):
        scope = self.parent
        while scope is not None:
            yield scope
            scope = scope.parent


def _find_column(table: Table, name: str) -> Column | None:
    try:
        return table.column(name)
    except KeyError:
        return None


def _unparen(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _conjuncts(node: exp.Expression) -> list[exp.Expression]:
    node = _unparen(node)
    if isinstance(node, exp.And):
        return _conjuncts(node.this) + _conjuncts(node.expression)
    return [node]


def _is_slot(node: exp.Expression) -> bool:
    return (
        isinstance(node, exp.Column)
        and node.name.startswith("__c")
        and node.table.startswith("__t")
    )


class _Extractor:
    """One seed query's extraction; the state is the slots created so far."""

    def __init__(self, sql: str, schema: Schema):
        self.sql = sql
        self.schema = schema
        self.table_symbols: dict[str, str] = {}  # schema table name -> "__tN"
        self.column_slots: dict[tuple[str, str], str] = {}  # (table, column) -> "__cN"
        self.slot_column: dict[str, tuple[str, Column]] = {}  # "__cN" -> (table symbol, column)
        self.links: dict[tuple[str, str], str] = {}  # (slot, slot) -> "__fkN"
        self.values: dict[str, tuple[str, str]] = {}  # "__vN" -> (column slot, pattern)
        self.foreign_keys = {
            (fk.table.lower(), fk.column.lower(), fk.ref_table.lower(), fk.ref_column.lower())
            for fk in schema.foreign_keys
        }

    def fail(self, reason: str, detail: str) -> TemplateError:
        return TemplateError(
            reason, f"cannot template {self.sql!r} on {self.schema.db_id}: {detail}"
        )

    # ---------------------------------------------------------------- the whole query

    def extract(self) -> Template:
        try:
            statements = [s for s in sqlglot.parse(self.sql, read="sqlite") if s is not None]
        except SqlglotError as error:
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise self.fail("unparseable", message) from error
        if len(statements) != 1 or not isinstance(statements[0], exp.Query):
            raise self.fail("unparseable", "not a single query")
        tree = statements[0]
        self._query(tree, parent=None)
        self._values(tree)
        self._implicit_links(tree)
        return self._canonical(tree.sql(dialect="sqlite"))

    def _query(self, node: exp.Expression, parent: _Scope | None) -> None:
        if isinstance(node, exp.Subquery):
            self._query(node.this, parent)
        elif isinstance(node, exp.SetOperation):
            if node.args.get("with_") is not None:
                raise self.fail("unsupported_construct", "WITH clause")
            for key in ("order", "limit", "offset"):
                clause = node.args.get(key)
                if clause is not None and clause.find(exp.Column):
                    raise self.fail("unsupported_construct", "ORDER BY after a compound query")
            self._query(node.this, parent)
            self._query(node.expression, parent)
        elif isinstance(node, exp.Select):
            self._select(node, parent)
        else:
            raise self.fail("unsupported_construct", f"{type(node).__name__} query")

    # ---------------------------------------------------------------- one SELECT

    def _select(self, select: exp.Select, parent: _Scope | None) -> None:
        for key in ("with_", "laterals", "windows", "qualify", "pivots"):
            if select.args.get(key):
                raise self.fail("unsupported_construct", f"{key.rstrip('_')} clause")
        if select.find(exp.Window):
            raise self.fail("unsupported_construct", "window function")
        scope = _Scope(parent)
        joins = list(select.args.get("joins") or ())
        from_ = select.args.get("from_")
        if from_ is None:
            raise self.fail("unsupported_construct", "SELECT without FROM")
        self._sources(scope, from_.this, joins, parent)
        scope.aliases = {e.alias.lower() for e in select.expressions if isinstance(e, exp.Alias)}
        on_links = self._on_links(scope, joins)

        nested, columns = [], []
        prune = (exp.Query, exp.Subquery, exp.From, exp.Join)
        for node in select.walk(prune=lambda n: n is not select and isinstance(n, prune)):
            if node is select:
                continue
            if isinstance(node, (exp.Query, exp.Subquery)):
                nested.append(node)
            elif isinstance(node, exp.Column):
                columns.append(node)
        for query in nested:
            self._query(query, scope)
        for column in columns:
            self._replace_column(column, scope)
        if scope.tables:
            self._slot_from(select, scope, on_links)

    def _sources(self, scope: _Scope, first, joins: list[exp.Join], parent) -> None:
        for join in joins:
            # Outer, NATURAL and USING joins cannot be rebuilt as inner joins on foreign keys.
            plain = join.kind in ("", "INNER", "CROSS") and not join.side and not join.method
            if not plain or join.args.get("using"):
                raise self.fail("unsupported_construct", f"{join.sql(dialect='sqlite')[:40]!r}")
        for item in [first] + [join.this for join in joins]:
            if isinstance(item, exp.Table) and isinstance(item.this, exp.Identifier):
                if item.args.get("db"):
                    raise self.fail("unsupported_construct", f"qualified table {item.sql()!r}")
                try:
                    table = self.schema.table(item.name)
                except KeyError:
                    raise self.fail("unknown_table", f"no table {item.name!r}") from None
                if table in scope.tables:
                    raise self.fail("self_join", f"table {table.name!r} twice in one FROM")
                scope.tables.append(table)
                scope.sources[(item.alias or item.name).lower()] = table
            elif isinstance(item, exp.Subquery) and item is first and not joins:
                self._query(item.this, parent)
                scope.derived_outputs = self._output_aliases(item.this)
                if item.alias:
                    scope.sources[item.alias.lower()] = None
            else:
                raise self.fail("unsupported_construct", f"FROM item {item.sql()[:40]!r}")

    @staticmethod
    def _output_aliases(query: exp.Expression) -> set[str]:
        while not isinstance(query, exp.Select):
            query = query.this
        return {e.alias.lower() for e in query.expressions if isinstance(e, exp.Alias)}

    def _on_links(self, scope: _Scope, joins: list[exp.Join]) -> list[str]:
        """The key links of this FROM's ON conditions (their columns become link slots)."""
        links = []
        for join in joins:
            on = join.args.get("on")
            if on is None or (isinstance(on, exp.Boolean) and on.this is True):
                continue  # `JOIN t` without ON: tables joined only by the rebuilt FK path
            for atom in _conjuncts(on):
                if not (
                    isinstance(atom, exp.EQ)
                    and isinstance(_unparen(atom.this), exp.Column)
                    and isinstance(_unparen(atom.expression), exp.Column)
                ):
                    raise self.fail(
                        "unsupported_construct",
                        f"join condition {atom.sql()!r} is not an equality of two columns",
                    )
                left = self._column_slot_of(_unparen(atom.this), scope)
                right = self._column_slot_of(_unparen(atom.expression), scope)
                if self.slot_column[left][0] == self.slot_column[right][0]:
                    raise self.fail(
                        "unsupported_construct", f"join condition {atom.sql()!r} within one table"
                    )
                links.append(self._link(left, right))
        return links

    def _slot_from(self, select: exp.Select, scope: _Scope, on_links: list[str]) -> None:
        """Replaces FROM/JOIN by its table slots; each ON link is noted at the JOIN of its later
        table, so `a JOIN b JOIN c ON x AND y` and `a JOIN b ON x JOIN c ON y` read the same."""
        symbols = [self._table_symbol(t) for t in scope.tables]
        at_join: dict[str, list[str]] = {s: [] for s in symbols}
        link_ends = {name: ends for ends, name in self.links.items()}
        for name in dict.fromkeys(on_links):
            left, right = link_ends[name]
            tables = (self.slot_column[left][0], self.slot_column[right][0])
            at_join[max(tables, key=symbols.index)].append(name)
        select.set("from_", exp.From(this=exp.to_table(symbols[0])))
        joins = []
        for symbol in symbols[1:]:
            join = exp.Join(this=exp.to_table(symbol))
            if at_join[symbol]:
                join.set("on", exp.and_(*(exp.column(name) for name in at_join[symbol])))
            joins.append(join)
        select.set("joins", joins or None)

    # ---------------------------------------------------------------- names

    def _table_symbol(self, table: Table) -> str:
        return self.table_symbols.setdefault(table.name, f"__t{len(self.table_symbols) + 1}")

    def _slot(self, table: Table, column: Column) -> str:
        key = (table.name, column.name)
        if key not in self.column_slots:
            name = f"__c{len(self.column_slots) + 1}"
            self.column_slots[key] = name
            self.slot_column[name] = (self._table_symbol(table), column)
        return self.column_slots[key]

    def _link(self, a: str, b: str) -> str:
        key = (a, b) if (b, a) not in self.links else (b, a)
        return self.links.setdefault(key, f"__fk{len(self.links) + 1}")

    def _column_slot_of(self, column: exp.Column, scope: _Scope) -> str:
        kind, value = self._resolve(column, scope)
        if kind != "slot":
            raise self.fail("unsupported_construct", f"{column.sql()!r} in a join condition")
        return value

    def _resolve(self, column: exp.Column, scope: _Scope) -> tuple[str, str]:
        """("slot", slot name) | ("star", table symbol) | ("alias", "") | ("string", text)."""
        name, qualifier = column.name, column.table
        is_star = isinstance(column.this, exp.Star)
        if qualifier:
            key = qualifier.lower()
            if key not in scope.sources:
                if any(key in s.sources for s in scope.ancestors()):
                    raise self.fail(
                        "correlated_subquery", f"{column.sql()!r} refers to the outer query"
                    )
                raise self.fail("unresolvable_alias", f"no table or alias {qualifier!r} in FROM")
            table = scope.sources[key]
            if table is None:
                raise self.fail(
                    "unsupported_construct", f"{column.sql()!r} refers into a FROM subquery"
                )
            if is_star:
                return "star", self._table_symbol(table)
            found = _find_column(table, name)
            if found is None:
                raise self.fail("unknown_column", f"table {table.name!r} has no column {name!r}")
            return "slot", self._slot(table, found)
        owners = [(t, c) for t in scope.tables if (c := _find_column(t, name)) is not None]
        if len(owners) == 1:
            return "slot", self._slot(*owners[0])
        if len(owners) > 1:
            owner_names = ", ".join(t.name for t, _ in owners)
            raise self.fail("ambiguous_column", f"{name!r} is in {owner_names}")
        if scope.derived_outputs is not None and name.lower() in scope.derived_outputs:
            return "alias", ""
        if name.lower() in scope.aliases:
            return "alias", ""
        if column.this.quoted:
            return "string", name
        if any(_find_column(t, name) for s in scope.ancestors() for t in s.tables):
            raise self.fail("correlated_subquery", f"{name!r} refers to the outer query")
        if scope.derived_outputs is not None:
            raise self.fail("unsupported_construct", f"{name!r} refers into a FROM subquery")
        table_names = ", ".join(t.name for t in scope.tables)
        raise self.fail("unknown_column", f"no column {name!r} in {table_names}")

    def _replace_column(self, column: exp.Column, scope: _Scope) -> None:
        kind, value = self._resolve(column, scope)
        if kind == "slot":
            table_symbol = self.slot_column[value][0]
            column.replace(exp.column(value, table=table_symbol))
        elif kind == "star":
            column.replace(exp.Column(this=exp.Star(), table=exp.to_identifier(value)))
        elif kind == "string":
            column.replace(exp.Literal.string(value))

    # ---------------------------------------------------------------- values

    def _values(self, tree: exp.Expression) -> None:
        """Every literal becomes a value slot of the column it is compared with, except LIMIT /
        OFFSET counts and numbers compared with COUNT(...), which stay as written."""
        for literal in list(tree.find_all(exp.Literal)):
            node = literal.parent if isinstance(literal.parent, exp.Neg) else literal
            while isinstance(node.parent, exp.Paren):
                node = node.parent
            parent = node.parent
            if isinstance(parent, (exp.Limit, exp.Offset)):
                continue
            subject = None
            if isinstance(parent, (exp.Between, exp.In)) and node is not parent.this:
                subject = parent.this
            elif isinstance(parent, _COMPARISONS):
                subject = parent.expression if node is parent.this else parent.this
            if subject is None:
                raise self.fail(
                    "unsupported_literal", f"{literal.sql()} is not compared with a column"
                )
            subject = _unparen(subject)
            slot = self._compared_slot(subject)
            if slot is None:
                if isinstance(subject, exp.Count) and literal.is_int:
                    continue
                raise self.fail(
                    "unsupported_literal", f"{literal.sql()} is compared with {subject.sql()!r}"
                )
            pattern = self._pattern(literal) if isinstance(parent, exp.Like) else "{}"
            name = f"__v{len(self.values) + 1}"
            self.values[name] = (slot, pattern)
            node.replace(exp.Placeholder(this=name))

    @staticmethod
    def _compared_slot(subject: exp.Expression) -> str | None:
        if isinstance(subject, _VALUE_AGGREGATES):
            subject = _unparen(subject.this)
            if isinstance(subject, exp.Distinct) and len(subject.expressions) == 1:
                subject = subject.expressions[0]
        return subject.name if _is_slot(subject) else None

    def _pattern(self, literal: exp.Literal) -> str:
        text = literal.this if literal.is_string else ""
        core = text.strip("%")
        if not core or "%" in core or "_" in core or text.count("%") != len(text) - len(core):
            raise self.fail("unsupported_literal", f"LIKE pattern {literal.sql()}")
        return ("%" if text.startswith("%") else "") + "{}" + ("%" if text.endswith("%") else "")

    # ---------------------------------------------------------------- links outside ON

    def _implicit_links(self, tree: exp.Expression) -> None:
        """An equality or IN between a declared foreign key and its target column (`WHERE a.x =
        b.y`, `x IN (SELECT y FROM b)`) joins like an ON does, so it becomes a key link too."""
        for node in tree.find_all(exp.EQ, exp.In):
            if isinstance(node, exp.EQ):
                left, right = _unparen(node.this), _unparen(node.expression)
            else:
                query = node.args.get("query")
                inner = query.this if isinstance(query, exp.Subquery) else None
                if not isinstance(inner, exp.Select) or len(inner.expressions) != 1:
                    continue
                left, right = _unparen(node.this), _unparen(inner.expressions[0])
            if _is_slot(left) and _is_slot(right) and self._is_foreign_key(left.name, right.name):
                self._link(left.name, right.name)

    def _is_foreign_key(self, a: str, b: str) -> bool:
        (ta, ca), (tb, cb) = self.slot_column[a], self.slot_column[b]
        if ta == tb:
            return False
        pa, pb = (ca.table.lower(), ca.name.lower()), (cb.table.lower(), cb.name.lower())
        return (*pa, *pb) in self.foreign_keys or (*pb, *pa) in self.foreign_keys

    # ---------------------------------------------------------------- canonical numbering

    def _canonical(self, skeleton: str) -> Template:
        seen: dict[str, list[str]] = {"t": [], "c": [], "v": [], "fk": []}
        for match in _TEMP_NAME.finditer(skeleton):
            names = seen[match.group(1)]
            if match.group(0) not in names:
                names.append(match.group(0))
        table_number = {old: i + 1 for i, old in enumerate(seen["t"])}
        column_number = {old: i + 1 for i, old in enumerate(seen["c"])}
        link_ends = {name: ends for ends, name in self.links.items()}

        def end_order(slot: str) -> tuple[int, int]:
            return table_number[self.slot_column[slot][0]], column_number.get(slot, 1 << 30)

        ordered_links = []
        for old in seen["fk"]:  # ON links, in order of appearance; their ends may be new columns
            ends = sorted(link_ends[old], key=end_order)
            for slot in ends:
                if slot not in column_number:
                    column_number[slot] = len(column_number) + 1
            ordered_links.append((old, ends))
        implicit = [
            (old, sorted(ends, key=end_order))
            for old, ends in link_ends.items()
            if old not in seen["fk"]
        ]
        ordered_links += sorted(implicit, key=lambda item: [end_order(s) for s in item[1]])
        link_number = {old: i + 1 for i, (old, _) in enumerate(ordered_links)}
        value_number = {old: i + 1 for i, old in enumerate(seen["v"])}

        new_name = {old: f"t{n}" for old, n in table_number.items()}
        new_name |= {old: f"c{n}" for old, n in column_number.items()}
        new_name |= {old: f"v{n}" for old, n in value_number.items()}
        new_name |= {old: f"fk{n}" for old, n in link_number.items()}
        slot_links: dict[str, list[int]] = {}
        for old, ends in ordered_links:
            for slot in ends:
                slot_links.setdefault(slot, []).append(link_number[old])
        columns = sorted(
            (
                ColumnSlot(
                    name=new_name[slot],
                    table=new_name[symbol],
                    type=SLOT_TYPE_OF_COLUMN_TYPE[column.type],
                    is_key=column.is_primary_key,
                    links=tuple(sorted(set(slot_links.get(slot, ())))),
                )
                for slot, (symbol, column) in self.slot_column.items()
            ),
            key=lambda c: int(c.name[1:]),
        )
        slot_type = {c.name: c.type for c in columns}
        values = sorted(
            (
                ValueSlot(
                    name=new_name[old],
                    column=new_name[slot],
                    type=slot_type[new_name[slot]],
                    pattern=pattern,
                )
                for old, (slot, pattern) in self.values.items()
            ),
            key=lambda v: int(v.name[1:]),
        )
        links = tuple(
            KeyLink(number=link_number[old], left=new_name[ends[0]], right=new_name[ends[1]])
            for old, ends in ordered_links
        )
        return Template(
            skeleton=_TEMP_NAME.sub(lambda m: new_name[m.group(0)], skeleton),
            tables=tuple(f"t{n}" for n in range(1, len(table_number) + 1)),
            columns=tuple(columns),
            links=links,
            values=tuple(values),
        )


def extract_template(sql: str, schema: Schema) -> Template:
    """The template of one seed query on its schema; raises TemplateError with a reason."""
    return _Extractor(sql, schema).extract()


@dataclasses.dataclass(frozen=True)
class TemplateFailure:
    index: int  # position in the seeds given to build_templates
    db_id: str
    sql: str
    reason: str  # one of FAILURE_REASONS
    message: str


@dataclasses.dataclass(frozen=True)
class TemplateBank:
    """Distinct templates of a seed set, how often each occurred, and the seeds that failed."""

    templates: tuple[Template, ...]  # in order of their first seed
    frequency: Mapping[str, int]  # template id -> number of seeds with that template
    seed_indices: Mapping[str, tuple[int, ...]]  # template id -> positions of those seeds
    failures: tuple[TemplateFailure, ...]

    @property
    def seed_count(self) -> int:
        return sum(self.frequency.values()) + len(self.failures)

    def failure_counts(self) -> Counter:
        return Counter(f.reason for f in self.failures)

    def by_id(self, template_id: str) -> Template:
        try:
            return self._by_id[template_id]
        except KeyError:
            raise KeyError(f"no template with id {template_id!r}") from None

    @functools.cached_property
    def _by_id(self) -> dict[str, Template]:
        return {t.id: t for t in self.templates}


def build_templates(seeds: Iterable[Example], schemas: Mapping[str, Schema]) -> TemplateBank:
    """Templates of every seed query (`Example.query` on `schemas[Example.db_id]`), deduplicated
    by id, with frequencies; seeds that cannot be templated are listed with their reason."""
    templates: dict[str, Template] = {}
    indices: dict[str, list[int]] = {}
    failures = []
    for index, seed in enumerate(seeds):
        schema = schemas.get(seed.db_id)
        try:
            if schema is None:
                raise TemplateError("unknown_database", f"db_id {seed.db_id!r} has no schema")
            template = extract_template(seed.query, schema)
        except TemplateError as error:
            failures.append(
                TemplateFailure(index, seed.db_id, seed.query, error.reason, str(error))
            )
            continue
        templates.setdefault(template.id, template)
        indices.setdefault(template.id, []).append(index)
    return TemplateBank(
        templates=tuple(templates.values()),
        frequency={tid: len(ix) for tid, ix in indices.items()},
        seed_indices={tid: tuple(ix) for tid, ix in indices.items()},
        failures=tuple(failures),
    )
