"""Schema filtering: the tables and columns a question is about, with the foreign-key paths that
join them, within max_tables / max_columns; and on Spider dev, how often the tables the gold SQL
uses are all kept (printed, and held to a floor)."""

import sqlglot
from sqlglot import exp

from spft_jax.data.schema_filter import filter_schema, relevance, stem
from spft_jax.data.value_index import build_value_index
from spft_jax.sql.dataset import load_dataset
from spft_jax.sql.fk_graph import ForeignKeyGraph
from spft_jax.sql.schema import Schema


def chain_schema() -> Schema:
    """artist <- album <- track <- play -> listener, plus a lone table; every table has an id,
    a name and a few other columns."""
    tables = ["artist", "album", "track", "play", "listener", "weather"]
    columns = [[-1, "*"]]
    for number, table in enumerate(tables):
        columns += [[number, f"{table}_id"], [number, "name"], [number, "colour"], [number, "size"],
                    [number, "mood"]]
    columns += [[1, "artist_ref"], [2, "album_ref"], [3, "track_ref"], [3, "listener_ref"]]
    index = {tuple(c): i for i, c in enumerate(columns)}
    fks = [[index[(1, "artist_ref")], index[(0, "artist_id")]],
           [index[(2, "album_ref")], index[(1, "album_id")]],
           [index[(3, "track_ref")], index[(2, "track_id")]],
           [index[(3, "listener_ref")], index[(4, "listener_id")]]]
    return Schema.from_spider_entry({
        "db_id": "chain", "table_names_original": tables, "table_names": tables,
        "column_names_original": columns,
        "column_names": [[t, n.replace("_", " ")] for t, n in columns],
        "column_types": ["text"] * len(columns),
        "primary_keys": [index[(n, f"{t}_id")] for n, t in enumerate(tables)], "foreign_keys": fks})


def assert_fk_paths_kept(full: Schema, kept: Schema) -> None:
    """Two kept tables joined by foreign keys in the full schema are joined within the kept
    tables, by foreign keys the filtered schema still has."""
    whole, part = ForeignKeyGraph(full), ForeignKeyGraph(kept)
    names = [t.name for t in kept.tables]
    for a in names:
        reachable = whole.distances([a])
        within = part.distances([a])
        for b in names:
            if b in reachable:
                assert b in within, (full.db_id, a, b, names)


def table_names(schema: Schema) -> list[str]:
    return [t.name for t in schema.tables]


def test_the_foreign_key_path_between_mentioned_tables_is_kept():
    schema = chain_schema()
    kept = filter_schema(schema, "Which artists are played by which listeners?", 5, 10)
    assert table_names(kept) == ["artist", "album", "track", "play", "listener"]
    assert_fk_paths_kept(schema, kept)
    # The path does not fit in 3: the best table, then the next ones that fit with their path.
    kept = filter_schema(schema, "Which artists are played by which listeners?", 3, 10)
    assert_fk_paths_kept(schema, kept)
    assert len(kept.tables) == 3 and "artist" in table_names(kept)
    # A table of another component needs no path.
    kept = filter_schema(schema, "The weather when listeners played tracks", 4, 10)
    assert table_names(kept) == ["track", "play", "listener", "weather"]
    assert_fk_paths_kept(schema, kept)


def test_columns_keep_keys_and_join_columns_past_the_cap():
    schema = chain_schema()
    question = "What mood do plays of each track have?"
    kept = filter_schema(schema, question, 2, 3)
    assert table_names(kept) == ["track", "play"]
    # Its key, the column joining it to track, then the best scoring one (mood); listener_ref
    # joins a table that is not kept. Schema order.
    assert [c.name for c in kept.table("play").columns] == ["play_id", "mood", "track_ref"]
    # No column scores on track but mood: the next places go in schema order.
    assert [c.name for c in kept.table("track").columns] == ["track_id", "name", "mood"]
    assert [(fk.table, fk.column) for fk in kept.foreign_keys] == [("play", "track_ref")]
    # A cap below the keys: the keys all the same, nothing else.
    kept = filter_schema(schema, question, 2, 1)
    assert [c.name for c in kept.table("play").columns] == ["play_id", "track_ref"]
    assert [c.name for c in kept.table("track").columns] == ["track_id"]


def test_matched_values_count_for_their_column_and_table():
    schema = chain_schema()
    plain = relevance(schema, "Which ones are called Blue Monday?")
    matched = relevance(schema, "Which ones are called Blue Monday?", {("track", "name")})
    assert matched.columns[("track", "name")] == plain.columns[("track", "name")] + 1.0
    kept = filter_schema(schema, "Which ones are called Blue Monday?", 1, 10, {("track", "name")})
    assert table_names(kept) == ["track"]


def test_filtering_is_deterministic_and_keeps_schema_order():
    schema = chain_schema()
    question = "listeners and artists"
    first = filter_schema(schema, question, 5, 3)
    assert first == filter_schema(schema, question, 5, 3)
    order = [t.name for t in schema.tables]
    assert table_names(first) == sorted(table_names(first), key=order.index)


def test_stems():
    assert [stem(w) for w in ("singers", "countries", "matches", "status", "address", "bus")] == [
        "singer", "country", "match", "status", "address", "bus"]


def gold_tables(sql: str, schema: Schema) -> set[str]:
    names = {t.name.lower(): t.name for t in schema.tables}
    # MySQL's dialect reads Spider's double-quoted strings as strings, not names.
    tree = sqlglot.parse_one(sql, read="mysql")
    return {names[t.name.lower()] for t in tree.find_all(exp.Table) if t.name.lower() in names}


def test_on_spider_dev_filtering_keeps_the_gold_tables(spider_dir):
    dev = load_dataset(spider_dir / "dev.json", spider_dir / "tables.json", spider_dir / "database")
    sample = [e for e in dev.examples if e.db_id not in dev.missing_db_ids][::4]
    indexes = {}
    for max_tables, floor in ((6, 0.97), (4, 0.9)):
        kept_all = filtered = kept_filtered = tables_dropped = 0
        for example in sample:
            schema = dev.schemas[example.db_id]
            if example.db_id not in indexes:
                indexes[example.db_id] = build_value_index(schema, dev.db_path(example.db_id), 5000)
            matched = {(m.table.lower(), m.column.lower())
                       for m in indexes[example.db_id].match(example.question, 3)}
            view = filter_schema(schema, example.question, max_tables, 10, matched)
            assert len(view.tables) == min(max_tables, len(schema.tables))
            assert_fk_paths_kept(schema, view)
            kept = gold_tables(example.query, schema) <= set(table_names(view))
            kept_all += kept
            if len(schema.tables) > max_tables:  # the questions where filtering drops tables
                filtered += 1
                kept_filtered += kept
            tables_dropped += len(schema.tables) - len(view.tables)
        recall = kept_all / len(sample)
        print(f"\nschema filter, max_tables={max_tables}: all gold tables kept on "
              f"{kept_all}/{len(sample)} Spider dev questions ({recall:.1%}); on the {filtered} "
              f"whose database has more tables: {kept_filtered}/{filtered} "
              f"({kept_filtered / max(filtered, 1):.1%}); {tables_dropped} tables dropped in all")
        assert recall >= floor and kept_filtered / max(filtered, 1) >= floor - 0.1
