"""Template filling and synthesis: JOINs rebuilt on foreign keys (directly and through bridge
tables), values drawn from the database, the naive binder, determinism, template weights, the
discard reasons, and on Spider train databases: the executable rate and the safety invariant
(no name outside the schema, no literal outside the database)."""

import hashlib
import json
import random
import sqlite3

import pytest
import sqlglot
from sqlglot import exp

from spft_jax.sql.database_content import (
    CONTENT_LIMITS,
    DatabaseContent,
    TargetDatabase,
    target_databases,
)
from spft_jax.sql.dataset import Example, load_questions
from spft_jax.sql.executor import SqlExecutor
from spft_jax.sql.fk_graph import ForeignKeyGraph
from spft_jax.sql.identifiers import quote_identifier
from spft_jax.sql.sandbox import ConnectionCache, ExecutionLimits
from spft_jax.sql.schema import Schema, load_schemas
from spft_jax.synthesis.synthesize import SynthesisError, synthesize
from spft_jax.synthesis.filling import FillError, fill_template
from spft_jax.synthesis.templates import build_templates, extract_template
from tests.sql.tiny_benchmark import SHOP_TABLES_ENTRY, make_shop_database

SHOP = Schema.from_spider_entry(SHOP_TABLES_ENTRY)

# A chain author <- book <- review: review reaches author only through book.
LIBRARY_ENTRY = {
    "db_id": "library",
    "table_names_original": ["author", "book", "review"],
    "table_names": ["author", "book", "review"],
    "column_names_original": [
        [-1, "*"], [0, "author_id"], [0, "name"], [1, "book_id"], [1, "author_id"], [1, "pages"],
        [2, "review_id"], [2, "book_id"], [2, "day"],
    ],
    "column_names": [
        [-1, "*"], [0, "author id"], [0, "name"], [1, "book id"], [1, "author id"], [1, "pages"],
        [2, "review id"], [2, "book id"], [2, "day"],
    ],
    "column_types": [
        "text", "number", "text", "number", "number", "number", "number", "number", "time",
    ],
    "primary_keys": [1, 3, 6],
    "foreign_keys": [[4, 1], [7, 3]],
}
LIBRARY_SQL = """
CREATE TABLE author (author_id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE book (book_id INTEGER PRIMARY KEY, author_id INTEGER REFERENCES author, pages INTEGER);
CREATE TABLE review (review_id INTEGER PRIMARY KEY, book_id INTEGER REFERENCES book, day TEXT);
INSERT INTO author VALUES (1, 'Ursula Le Guin'), (2, 'Iain Banks');
INSERT INTO book VALUES (1, 1, 300), (2, 1, 250), (3, 2, 400);
INSERT INTO review VALUES (1, 1, '2024-01-02'), (2, 3, '2024-03-04');
"""
SHOP_SEEDS = [
    "SELECT T1.name FROM customer AS T1 JOIN purchase AS T2 ON T1.customer_id = T2.customer_id "
    "WHERE T2.amount > 6",
    "SELECT name FROM customer WHERE city = 'Paris'",
    "SELECT count(*) FROM purchase WHERE day BETWEEN '2024-01-01' AND '2024-12-31'",
    "SELECT city, count(*) FROM customer GROUP BY city HAVING count(*) > 1",
    "SELECT name FROM customer WHERE customer_id NOT IN (SELECT customer_id FROM purchase)",
    "SELECT name FROM customer WHERE name LIKE '%a%'",
    "SELECT max(amount) FROM purchase",
    "SELECT name FROM customer ORDER BY name LIMIT 2",
]


def _write_database(path, script):
    conn = sqlite3.connect(path)
    conn.executescript(script)
    conn.close()
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Shop, library and a database whose only column is empty, with a shop-seeded template bank."""
    root = tmp_path_factory.mktemp("synthesis")
    shop = TargetDatabase(SHOP, make_shop_database(root / "shop.sqlite"))
    library = TargetDatabase(
        Schema.from_spider_entry(LIBRARY_ENTRY),
        _write_database(root / "library.sqlite", LIBRARY_SQL),
    )
    empty_entry = {
        "db_id": "empty", "table_names_original": ["note"], "table_names": ["note"],
        "column_names_original": [[-1, "*"], [0, "body"]], "column_names": [[-1, "*"], [0, "body"]],
        "column_types": ["text", "text"], "primary_keys": [], "foreign_keys": [],
    }
    empty = TargetDatabase(
        Schema.from_spider_entry(empty_entry),
        _write_database(
            root / "empty.sqlite", "CREATE TABLE note (body TEXT); INSERT INTO note VALUES (NULL);"
        ),
    )
    seeds = [Example(i, "shop", "q", sql) for i, sql in enumerate(SHOP_SEEDS)]
    bank = build_templates(seeds, {"shop": SHOP})
    assert not bank.failures
    connections = ConnectionCache(CONTENT_LIMITS)
    yield {
        "shop": shop, "library": library, "empty": empty, "bank": bank,
        "content": {d.db_id: DatabaseContent(d, connections) for d in (shop, library, empty)},
    }
    connections.close()


def _fill(tiny, seed_sql, db_id, seed=0, binder="fk_graph"):
    template = extract_template(seed_sql, SHOP)
    return fill_template(template, tiny["content"][db_id], random.Random(seed), binder)


def test_foreign_key_graph_distances_and_paths():
    graph = ForeignKeyGraph(Schema.from_spider_entry(LIBRARY_ENTRY))
    assert graph.distances(["author"]) == {"author": 0, "book": 1, "review": 2}
    path = graph.shortest_path(["author"], "review")
    assert [(a, b, fk.column) for a, b, fk in path] == [
        ("author", "book", "author_id"),
        ("book", "review", "book_id"),
    ]
    assert graph.shortest_path(["author"], "review", avoid=["book"]) is None
    assert graph.shortest_path(["book"], "book") == []
    assert [fk.table for fk in graph.foreign_keys_between("author", "book")] == ["book"]


def test_join_is_rebuilt_on_the_foreign_key(tiny):
    # The only table with a foreign key to a table with a text column: author <- book.
    sql = _fill(tiny, SHOP_SEEDS[0], "library")
    assert sql.startswith(
        "SELECT T1.name FROM author AS T1 JOIN book AS T2 ON T1.author_id = T2.author_id "
        "WHERE T2.pages > "
    )
    assert int(sql.rsplit(" ", 1)[1]) in (250, 300, 400)


def test_tables_without_a_link_are_joined_through_a_bridge(tiny):
    # The seed joins two tables without ON; on library they can only be author (the text
    # column) and review (the time column), which only book connects.
    seed = "SELECT T1.name FROM customer AS T1 JOIN purchase AS T2 WHERE T2.day = '2024-01-02'"
    sql = _fill(tiny, seed, "library")
    assert sql in (
        "SELECT T1.name FROM author AS T1 JOIN book AS T2 ON T1.author_id = T2.author_id "
        f"JOIN review AS T3 ON T2.book_id = T3.book_id WHERE T3.day = '{day}'"
        for day in ("2024-01-02", "2024-03-04")
    )
    # The naive binder has no foreign-key path: a cross join.
    naive = _fill(tiny, seed, "library", binder="uniform")
    assert naive.startswith("SELECT T1.name FROM author AS T1, review AS T2 WHERE T2.day = '2024-")


def test_naive_binder_joins_on_random_columns_of_the_slot_type(tiny):
    seen = {_fill(tiny, SHOP_SEEDS[0], "library", seed, binder="uniform") for seed in range(40)}
    on_fk = {s for s in seen if "ON T1.author_id = T2.author_id" in s}
    assert on_fk and len(on_fk) < len(seen)  # sometimes the foreign key, mostly not


def test_values_come_from_the_compared_column(tiny):
    like = _fill(tiny, "SELECT name FROM customer WHERE name LIKE '%a%'", "library", seed=3)
    word = like.split("LIKE '%")[1].rstrip("%'")
    assert word in ("Ursula", "Le", "Guin", "Iain", "Banks")
    for seed in range(10):
        sql = _fill(tiny, SHOP_SEEDS[2], "shop", seed)
        low, high = sql.split("BETWEEN ")[1].split(" AND ")
        assert low <= high and {low, high} <= {"'2024-01-02'", "'2024-02-03'", "'2024-02-04'"}


def test_key_links_and_key_markers_bind_to_keys(tiny):
    sql = _fill(tiny, SHOP_SEEDS[4], "library")
    # `number key` slot -> a primary key, its link partner -> the foreign key that references it
    assert sql == "SELECT name FROM author WHERE NOT author_id IN (SELECT author_id FROM book)"


def test_templates_that_do_not_fit_say_why(tiny):
    with pytest.raises(FillError) as raised:
        _fill(tiny, SHOP_SEEDS[0], "empty")
    assert raised.value.reason == "no_binding"
    with pytest.raises(FillError) as raised:
        _fill(tiny, SHOP_SEEDS[1].replace("name FROM", "count(*) FROM"), "empty")
    assert raised.value.reason == "no_values"


def test_synthesis_is_deterministic_and_accounts_for_every_attempt(tiny):
    databases = [tiny["shop"], tiny["library"], tiny["empty"]]

    def run(seed, workers=0, **kwargs):
        with SqlExecutor(workers=workers) as executor:
            return synthesize(tiny["bank"], databases, 20, executor, random.Random(seed), **kwargs)

    first, again, other = run(0), run(0), run(1)
    assert first.queries == again.queries and first.queries != other.queries
    assert run(0, workers=1).queries == first.queries
    stats = first.stats
    reasons = dict(stats.discarded)
    assert stats.kept == len(first.queries) == 20
    unfit = sum(reasons.get(r, 0) for r in ("no_binding", "no_join_path", "no_values"))
    failed = sum(n for r, n in reasons.items() if r.startswith("exec_"))
    assert stats.attempts == stats.candidates + unfit
    assert stats.candidates == stats.executed + reasons.get("duplicate", 0)
    assert stats.executed == stats.executable + failed
    assert stats.executable == stats.kept + reasons.get("empty_result", 0)
    assert stats.nonempty == stats.kept
    assert sum(stats.hardness.values()) == 20 and reasons["no_binding"] > 0  # `empty` fits little
    assert len({(q.db_id, q.sql) for q in first.queries}) == 20
    assert all(q.rows > 0 for q in first.queries)
    record = first.queries[0].to_dict()
    assert set(record) == {"db_id", "sql", "template_id", "hardness", "rows"}
    assert json.loads(json.dumps(stats.to_dict()))["kept"] == 20

    # queries produced before count as duplicates; without require_rows, empty results are kept
    produced = {(q.db_id, q.sql) for q in first.queries}
    excluded = run(0, exclude=produced)
    assert not {(q.db_id, q.sql) for q in excluded.queries} & produced
    assert excluded.stats.discarded["duplicate"] >= 1
    loose = run(0, require_rows=False)
    assert "empty_result" not in loose.stats.discarded


def test_template_weights_steer_sampling(tiny):
    bank = tiny["bank"]
    only = bank.templates[3].id
    weights = {t.id: 0.0 for t in bank.templates} | {only: 2.0}
    databases = [tiny["shop"], tiny["library"]]
    with SqlExecutor(workers=0) as executor:

        def run(weights, databases=databases):
            return synthesize(
                bank, databases, 3, executor, random.Random(0), template_weights=weights,
                max_attempts=50,
            )

        assert {q.template_id for q in run(weights).queries} == {only}
        with pytest.raises(SynthesisError, match="does not have"):
            run({"nope": 1.0})
        with pytest.raises(SynthesisError, match="weight 0"):
            run({t.id: 0.0 for t in bank.templates})
        with pytest.raises(SynthesisError, match="no target databases"):
            run(None, databases=[])


def test_database_content_drops_names_the_file_lacks(tiny, tmp_path):
    entry = json.loads(json.dumps(SHOP_TABLES_ENTRY))
    entry["table_names_original"].append("ghost")
    entry["table_names"].append("ghost")
    for names in (entry["column_names_original"], entry["column_names"]):
        names += [[0, "nickname"], [3, "boo"]]
    entry["column_types"] += ["text", "text"]
    entry["foreign_keys"].append([9, 2])  # customer.nickname -> customer.name: both must go
    database = TargetDatabase(Schema.from_spider_entry(entry), tiny["shop"].path)
    connections = ConnectionCache(CONTENT_LIMITS)
    try:
        content = DatabaseContent(database, connections)
        assert [t.name for t in content.schema.tables] == ["customer", "purchase", "numbers"]
        assert [c.name for c in content.schema.table("customer").columns] == [
            "customer_id", "name", "city",
        ]
        assert content.schema.foreign_keys == SHOP.foreign_keys
        assert content.values(content.schema.table("customer"), "city") == ("Paris", "Oslo")
    finally:
        connections.close()
    shop_file = make_shop_database(tmp_path / "shop" / "shop.sqlite")
    present, missing = target_databases(
        {"shop": SHOP, "gone": SHOP}, tmp_path, ["typo", "shop", "gone", "shop"]
    )
    assert present == [TargetDatabase(SHOP, shop_file)] and missing == ["gone", "typo"]


# ------------------------------------------------------------------------------------------
# Spider train databases
# ------------------------------------------------------------------------------------------

SAFETY_DATABASES = [
    "aircraft", "bike_1", "college_2", "store_1", "hr_1", "department_store", "inn_1", "wine_1",
]


@pytest.fixture(scope="module")
def spider(spider_dir):
    seeds = (
        load_questions(spider_dir / "train_spider.reconstructed.json")
        + load_questions(spider_dir / "train_others.reconstructed.json")
    )[::3]
    schemas = load_schemas(spider_dir / "tables.json")
    databases, missing = target_databases(
        schemas, spider_dir / "database", {s.db_id for s in seeds}
    )
    assert set(missing) <= {"baseball_1", "soccer_1"}  # Spider ships without them
    return {"bank": build_templates(seeds, schemas), "databases": databases, "schemas": schemas}


def test_filled_queries_execute_on_spider_train_databases(spider):
    with SqlExecutor(ExecutionLimits(timeout_s=5.0), workers=0) as executor:
        result = synthesize(spider["bank"], spider["databases"], 300, executor, random.Random(7),
                            require_rows=False)
    stats = result.stats
    assert stats.executed == 300
    assert stats.executable_rate >= 0.95, stats.discarded
    assert stats.nonempty_rate >= 0.7
    assert len({q.db_id for q in result.queries}) >= 60


def _checksum(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tables_in_from(select: exp.Select) -> list[exp.Table]:
    from_ = select.args.get("from_")
    items = [from_.this] + [j.this for j in select.args.get("joins") or []]
    return [item for item in items if isinstance(item, exp.Table)]


def _owner(column: exp.Column, schema: Schema, defined: set[str]):
    """The schema (table, column) a column reference names; None for an alias of the query."""
    tables = _tables_in_from(column.find_ancestor(exp.Select))
    visible = {(t.alias or t.name).lower(): schema.table(t.name) for t in tables}
    if column.table:
        table = visible[column.table.lower()]
        return table, table.column(column.name)
    name = column.name.lower()
    hits = [(t, c) for t in visible.values() for c in t.columns if c.name.lower() == name]
    if hits:
        assert len(hits) == 1, f"{column.sql()} is ambiguous"
        return hits[0]
    assert column.name.lower() in defined, f"{column.sql()} names nothing in the schema"
    return None


def _check_names_and_values(sql: str, schema: Schema, conn: sqlite3.Connection) -> None:
    """Independent of the filler: every table/column name is in the schema, every literal is a
    value of the column it is compared with (LIKE: matches one), except LIMIT counts and numbers
    compared with COUNT; every ON equality is a declared foreign key."""
    tree = sqlglot.parse_one(sql, read="sqlite")
    defined = {a.alias.lower() for a in tree.find_all(exp.Alias)}
    for table in tree.find_all(exp.Table):
        schema.table(table.name)  # KeyError if invented
    for column in tree.find_all(exp.Column):
        if not isinstance(column.this, exp.Star):
            _owner(column, schema, defined)
    foreign_keys = {(f.table, f.column, f.ref_table, f.ref_column) for f in schema.foreign_keys}
    for join in tree.find_all(exp.Join):
        for equality in join.args["on"].find_all(exp.EQ):
            (ta, ca), (tb, cb) = (
                _owner(side, schema, defined) for side in (equality.this, equality.expression)
            )
            pairs = {(ta.name, ca.name, tb.name, cb.name), (tb.name, cb.name, ta.name, ca.name)}
            assert pairs & foreign_keys, f"{equality.sql()} is no foreign key: {sql}"
    for literal in tree.find_all(exp.Literal):
        node = literal.parent if isinstance(literal.parent, exp.Neg) else literal
        context = node.parent
        if isinstance(context, (exp.Limit, exp.Offset)):
            assert literal.is_int, sql
            continue
        other = context.this if node is not context.this else context.expression
        while isinstance(other, (exp.Max, exp.Min, exp.Sum, exp.Avg, exp.Distinct)):
            other = other.expressions[0] if isinstance(other, exp.Distinct) else other.this
        if isinstance(other, exp.Count):
            assert literal.is_int, sql
            continue
        assert isinstance(other, exp.Column), f"{literal.sql()} is compared with no column: {sql}"
        table, column = _owner(other, schema, defined)
        if literal.is_string:
            value = literal.this
        else:
            value = int(literal.this) if literal.is_int else float(literal.this)
            value = -value if node is not literal else value
        operator = "LIKE" if isinstance(context, exp.Like) else "="
        probe = (
            f"SELECT 1 FROM {quote_identifier(table.name)} WHERE {quote_identifier(column.name)} "
            f"{operator} ? LIMIT 1"
        )
        found = conn.execute(probe, (value,)).fetchone()
        assert found, f"{literal.sql()} is not in {table.name}.{column.name}: {sql}"


def test_the_safety_check_catches_invented_names_and_values(tiny):
    conn = sqlite3.connect(f"{tiny['shop'].path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        real = "SELECT name FROM customer WHERE city = 'Paris' LIMIT 2"
        _check_names_and_values(real, SHOP, conn)
        for invented in (
            "SELECT name FROM customer WHERE city = 'Atlantis'",
            "SELECT name FROM customer WHERE customer_id > 99 + 1",
            "SELECT nickname FROM customer",
            "SELECT name FROM client",
            "SELECT T1.name FROM customer AS T1 JOIN purchase AS T2 "
            "ON T1.customer_id = T2.purchase_id",
        ):
            with pytest.raises((AssertionError, KeyError)):
                _check_names_and_values(invented, SHOP, conn)
    finally:
        conn.close()


def test_filled_queries_hold_only_schema_names_and_database_values(spider):
    databases = [d for d in spider["databases"] if d.db_id in SAFETY_DATABASES]
    assert len(databases) == len(SAFETY_DATABASES)
    before = {d.db_id: _checksum(d.path) for d in databases}
    with SqlExecutor(ExecutionLimits(timeout_s=5.0), workers=0) as executor:
        result = synthesize(
            spider["bank"], databases, 400, executor, random.Random(11), require_rows=False
        )
    assert result.stats.kept == 400
    by_db = {d.db_id: d for d in databases}
    connections = {  # read-only, like the sandbox
        d.db_id: sqlite3.connect(f"{d.path.resolve().as_uri()}?mode=ro", uri=True)
        for d in databases
    }
    try:
        for query in result.queries:
            _check_names_and_values(query.sql, by_db[query.db_id].schema, connections[query.db_id])
    finally:
        for conn in connections.values():
            conn.close()
    assert {d.db_id: _checksum(d.path) for d in databases} == before
    # the sample exercised what the invariant is about
    sqls = [q.sql for q in result.queries]
    assert sum(" JOIN " in s for s in sqls) >= 40 and sum(" LIKE " in s for s in sqls) >= 3
    assert sum("'" in s for s in sqls) >= 100
