"""What a SQL template is: a query skeleton with typed table, column and value slots.

A template keeps the structure of a seed query and forgets its names and values, so that the
same structure can be filled on any database. Its skeleton is the seed query in SQLite syntax
with every name and value replaced by a slot:

    SELECT t1.c1 FROM t1 JOIN t2 ON fk1 WHERE t2.c2 = :v1
    c1: text of t1
    c2: number of t2
    c3: number key of t1, fk #1
    c4: number of t2, fk #1
    fk #1: t1.c3 = t2.c4
    v1: number value of c2

- `t1`, `t2`, ... are table slots, one per distinct table of the seed (a table that the outer
  query and a subquery share is one slot, so filling keeps them the same table);
- `t1.c1`, ... are column slots: each belongs to one table slot (filling binds it to a column of
  that table), has a type (text / number / time / boolean) and a `key` marker when the seed
  column was a primary key;
- `fk #k` is a key link: two column slots that the seed joined (an ON equality, or an equality /
  IN between a declared foreign key and its target). Filling binds each link to one foreign key
  of the target schema, and both ends to its columns;
- a FROM clause keeps only which table slots it holds (`FROM t1 JOIN t2 ON fk1`): the JOINs are
  rebuilt from foreign-key paths when the template is filled;
- `:v1`, ... are value slots, each tied to the column slot it is compared with (filling draws the
  value from that column's content); LIMIT counts and numbers compared with COUNT(...) stay in
  the skeleton as they were.

Slot names are numbered by first appearance in the skeleton, so two seeds that differ only in
names and values give the same text; the template id is a hash of that text and survives reruns.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Mapping
from typing import Any

from spft_jax.errors import DataError

SLOT_TYPES = ("text", "number", "time", "boolean")
# Spider's coarse column types onto slot types. Seven of the eight "others" columns in Spider's
# tables.json are yes/no flags (If_full_time, Is_male, ...), so "others" fills like "boolean".
SLOT_TYPE_OF_COLUMN_TYPE = {
    "text": "text",
    "number": "number",
    "time": "time",
    "boolean": "boolean",
    "others": "boolean",
}
# How a value slot's value is written: plain, or inside one of the LIKE patterns Spider uses.
VALUE_PATTERNS = ("{}", "%{}%", "{}%", "%{}")


@dataclasses.dataclass(frozen=True)
class ColumnSlot:
    name: str  # "c1"
    table: str  # the table slot it belongs to, "t1"
    type: str  # one of SLOT_TYPES
    is_key: bool  # the seed column was (part of) its table's primary key
    links: tuple[int, ...] = ()  # numbers k of the key links ("fk #k") it is an end of

    def describe(self) -> str:
        """e.g. "number key of t1, fk #1"."""
        text = f"{self.type}{' key' if self.is_key else ''} of {self.table}"
        return text + "".join(f", fk #{k}" for k in self.links)


@dataclasses.dataclass(frozen=True)
class KeyLink:
    number: int  # k in "fk #k"
    left: str  # column slot names; left's table slot is numbered no later than right's
    right: str


@dataclasses.dataclass(frozen=True)
class ValueSlot:
    name: str  # "v1"
    column: str  # the column slot it is compared with
    type: str  # that column slot's type
    pattern: str = "{}"  # one of VALUE_PATTERNS: "%{}%" is LIKE '%...%'

    def describe(self) -> str:
        like = "" if self.pattern == "{}" else f" as LIKE '{self.pattern.format('...')}'"
        return f"{self.type} value of {self.column}{like}"


@dataclasses.dataclass(frozen=True)
class Template:
    skeleton: str  # the slotted query, see the module docstring
    tables: tuple[str, ...]  # table slots, "t1", "t2", ...
    columns: tuple[ColumnSlot, ...]
    links: tuple[KeyLink, ...]
    values: tuple[ValueSlot, ...]

    @functools.cached_property
    def text(self) -> str:
        """The canonical text: the skeleton, then one line per column slot, link and value."""
        lines = [self.skeleton]
        lines += [f"{c.name}: {c.describe()}" for c in self.columns]
        column_table = {c.name: c.table for c in self.columns}
        lines += [
            f"fk #{link.number}: {column_table[link.left]}.{link.left} = "
            f"{column_table[link.right]}.{link.right}"
            for link in self.links
        ]
        lines += [f"{v.name}: {v.describe()}" for v in self.values]
        return "\n".join(lines)

    @functools.cached_property
    def id(self) -> str:
        """A stable id: the first 16 hex digits of the SHA-256 of `text`."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:16]

    @functools.cached_property
    def column_slot(self) -> Mapping[str, ColumnSlot]:
        return {c.name: c for c in self.columns}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form; `from_dict` reads it back to an equal template (same id)."""
        return {
            "id": self.id,
            "skeleton": self.skeleton,
            "tables": list(self.tables),
            "columns": [dataclasses.asdict(c) for c in self.columns],
            "links": [dataclasses.asdict(link) for link in self.links],
            "values": [dataclasses.asdict(v) for v in self.values],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Template":
        template = cls(
            skeleton=data["skeleton"],
            tables=tuple(data["tables"]),
            columns=tuple(
                ColumnSlot(**{**c, "links": tuple(c["links"])}) for c in data["columns"]
            ),
            links=tuple(KeyLink(**link) for link in data["links"]),
            values=tuple(ValueSlot(**v) for v in data["values"]),
        )
        if "id" in data and data["id"] != template.id:
            # a stored template edited by hand, or written by another version of the format
            raise DataError(f"template id {data['id']!r} does not match its text ({template.id})")
        return template
