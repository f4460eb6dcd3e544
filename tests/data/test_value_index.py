"""The value index: fuzzy mentions (case, spacing, a typo), one database's values only, numbers and
dates left out, BM25's ranking, and the cache (reused, rebuilt when stale or corrupt)."""

import json
import logging
import os
import sqlite3

import pytest

from spft_jax.data import value_index as value_index_module
from spft_jax.data.bm25 import BM25
from spft_jax.data.text_match import QuestionText, is_text_value, mention_distance
from spft_jax.data.value_index import (ValueIndex, build_value_index, cache_path,
                                       load_column_values)
from spft_jax.sql.schema import Schema


def make_database(folder, db_id, tables):
    """A small SQLite file and its Schema: tables = {name: (columns, rows)}, text columns."""
    path = folder / db_id / f"{db_id}.sqlite"
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    columns_original, columns_nl, types = [[-1, "*"]], [[-1, "*"]], ["text"]
    for number, (table, (columns, rows)) in enumerate(tables.items()):
        conn.execute(f"CREATE TABLE {table} ({', '.join(columns)})")
        conn.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})", rows)
        for column in columns:
            columns_original.append([number, column])
            columns_nl.append([number, column.replace("_", " ")])
            types.append("text")
    conn.commit()
    conn.close()
    schema = Schema.from_spider_entry({
        "db_id": db_id, "table_names_original": list(tables), "table_names": list(tables),
        "column_names_original": columns_original, "column_names": columns_nl,
        "column_types": types, "primary_keys": [], "foreign_keys": []})
    return schema, path


@pytest.fixture
def music(tmp_path):
    return make_database(tmp_path, "music", {
        "singer": (["name", "country", "birth_date", "fee"], [
            ("Joe Sharp", "United States", "1985-03-01", "1000"),
            ("Anna Lind", "United Kingdom", "1990-11-30", "2500"),
            ("Ren Aoki", "Japan", "1979-01-05", "3000")]),
        "concert": (["theme", "year"], [("Free choice", "2014"), ("Party All Night", "2015")]),
    })


@pytest.fixture
def sports(tmp_path):
    return make_database(tmp_path, "sports", {
        "team": (["name", "country"], [("Maple Leafs", "Canada"), ("Rangers", "United States"),
                                       ("Celtic", "Scotland")]),
    })


def matches_of(index, text, top_k=3):
    return {(m.table, m.column): m.values for m in index.match(text, top_k)}


@pytest.mark.parametrize("mention", [
    "unitedstaets",  # lowercase, no space, two letters swapped
    "UNITED  STATS",  # upper case, two spaces, a letter missing
    "United-Sttates",  # a hyphen for the space, a letter doubled
])
def test_a_value_is_found_despite_case_spacing_and_a_typo(music, mention):
    schema, path = music
    index = build_value_index(schema, path, max_values_per_column=100)
    found = matches_of(index, f"How many singers come from the {mention}?")
    assert found == {("singer", "country"): ("United States",)}


def test_exact_mentions_rank_first_and_top_k_caps_a_column(music):
    schema, path = music
    index = build_value_index(schema, path, max_values_per_column=100)
    text = "Singers from the United Kingdom or the United States or Japan"
    assert matches_of(index, text) == {
        ("singer", "country"): ("United Kingdom", "United States", "Japan")}
    assert matches_of(index, text, top_k=1) == {("singer", "country"): ("United Kingdom",)}
    assert matches_of(index, "Which concerts had the theme 'free choice'?") == {
        ("concert", "theme"): ("Free choice",)}
    assert matches_of(index, "How many concerts are there?") == {}


def test_a_value_of_another_database_is_never_suggested(music, sports):
    text = "Teams and singers from Canada, Scotland, Japan or the United States"
    music_index = build_value_index(*music, max_values_per_column=100)
    sports_index = build_value_index(*sports, max_values_per_column=100)
    assert matches_of(music_index, text) == {("singer", "country"): ("United States", "Japan")}
    # Exact mentions, longer values first.
    assert matches_of(sports_index, text) == {("team", "country"): ("United States", "Scotland",
                                                                    "Canada")}


def test_numbers_and_dates_are_left_to_the_model(music):
    index = build_value_index(*music, max_values_per_column=100)
    assert "1985-03-01" not in index.values and "2014" not in index.values
    assert "1000" not in index.values and "Joe Sharp" in index.values
    assert not matches_of(index, "Which singer was born on 1985-03-01 with a fee of 1000?")
    for value in ("12:30", "2009-01-01T00:00:00", "5A", "$1,000", "the", "Name", "x"):
        assert not is_text_value(value), value
    for value in ("NY", "Zürich", "New York", "O'Brien"):
        assert is_text_value(value), value


@pytest.mark.parametrize("value, question, distance", [
    ("usa", "how much usage is there", None),  # inside a word is no mention
    ("cat", "students with cats", 0),  # a plural "s" may follow
    ("asia", "the asian countries", 0),  # and a few other endings
    ("engineer", "the engineering department", 0),
    ("asia", "in asiatic lands", None),  # but not any
    ("ohio", "clubs in ohoi", None),  # up to 4 letters: exact only
    ("paris", "all pairs of cities", 1),  # from 5 letters one edit (a swap is one)
    ("usairways", "jetblue airways flights", None),  # a missing word is not a typo
    ("northcarolina", "students in north carolina", 0),
    ("unitedstates", "from the untied states", 1),
    ("unitedkingdom", "from the united states", None),
])
def test_mention_distance(value, question, distance):
    assert mention_distance(value, QuestionText.of(question)) == distance


def test_bm25_ranks_by_shared_rare_terms_and_breaks_ties_by_document():
    bm25 = BM25([["red", "apple"], ["green", "apple"], ["red", "car"], ["blue", "sky"],
                 ["red", "car"]])
    assert bm25.top(["red", "car"], 3) == [2, 4, 0]
    assert bm25.top(["apple"], 5) == [0, 1]
    assert bm25.top(["nothing"], 5) == []
    scores = bm25.scores(["red", "red", "car"])
    assert scores.tolist() == bm25.scores(["car", "red"]).tolist()  # a repeated term counts once


def test_the_index_is_cached_and_reused(music, tmp_path, monkeypatch):
    schema, path = music
    cache = tmp_path / "cache"
    reads = []
    real = value_index_module.read_column_values

    def counting(*args, **kwargs):
        reads.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(value_index_module, "read_column_values", counting)
    first = build_value_index(schema, path, 100, cache)
    file = cache_path(cache, "music", path)
    assert file.is_file() and file.parent == cache and file.name.startswith("music-")
    written = file.read_bytes()
    second = build_value_index(schema, path, 100, cache)
    assert len(reads) == 1 and second.values == first.values
    text = "Singers from the untied states who sang at Party all night"
    assert second.match(text, 3) == first.match(text, 3)
    # Another setting, or another version of the file: rebuilt, and the same bytes for the same input.
    build_value_index(schema, path, 2, cache)
    assert len(reads) == 2 and json.loads(file.read_text())["key"]["max_values_per_column"] == 2
    build_value_index(schema, path, 100, cache)
    assert len(reads) == 3 and file.read_bytes() == written
    os.utime(path, ns=(0, 10**18))
    build_value_index(schema, path, 100, cache)
    assert len(reads) == 4 and json.loads(file.read_text())["key"]["mtime_ns"] == 10**18


@pytest.mark.parametrize("content", ['{"key": {}, "columns": [[1, 2', "[]",
                                     '{"key": {}, "columns": [["singer", "name", [1]]]}'])
def test_a_corrupt_cache_file_is_rebuilt_with_a_warning(music, tmp_path, caplog, content):
    schema, path = music
    cache = tmp_path / "cache"
    expected = load_column_values(schema, path, 100, cache)
    file = cache_path(cache, "music", path)
    file.write_text(content)
    with caplog.at_level(logging.WARNING, logger="spft_jax.data.value_index"):
        assert load_column_values(schema, path, 100, cache) == expected
    assert f"value index cache {file} is corrupt" in caplog.text and "rebuilding it" in caplog.text
    assert load_column_values(schema, path, 100, cache) == expected
    assert json.loads(file.read_text())["columns"] == [list(c) for c in expected]


def test_reading_values_never_writes_the_database(music):
    schema, path = music
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    build_value_index(schema, path, 100)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert not list(path.parent.glob("*-journal")) and not list(path.parent.glob("*-wal"))


def test_a_missing_database_or_column_gives_what_there_is(music, tmp_path, caplog):
    schema, path = music
    assert len(build_value_index(schema, tmp_path / "nowhere.sqlite", 100)) == 0
    entry_schema = Schema.from_spider_entry({
        "db_id": "music", "table_names_original": ["singer"], "table_names": ["singer"],
        "column_names_original": [[-1, "*"], [0, "name"], [0, "ghost"]],
        "column_names": [[-1, "*"], [0, "name"], [0, "ghost"]], "column_types": ["text"] * 3,
        "primary_keys": [], "foreign_keys": []})
    with caplog.at_level(logging.WARNING):
        index = build_value_index(entry_schema, path, 100)
    assert index.columns == [("singer", "name")] and "singer.ghost" in caplog.text


def test_values_shared_by_columns_are_offered_for_each():
    index = ValueIndex("db", [("a", "city", ["Ashford", "Brill"]), ("b", "town", ["Ashford"])])
    assert matches_of(index, "Clubs in Ashford") == {("a", "city"): ("Ashford",),
                                                     ("b", "town"): ("Ashford",)}


def test_on_spider_dev_every_suggested_value_is_in_the_questions_database(spider_dir):
    from spft_jax.sql.dataset import load_dataset
    from spft_jax.sql.identifiers import quote_identifier

    dev = load_dataset(spider_dir / "dev.json", spider_dir / "tables.json", spider_dir / "database")
    present = [e for e in dev.examples if e.db_id not in dev.missing_db_ids]
    indexes, checked = {}, 0
    for example in present[::10]:
        if example.db_id not in indexes:
            indexes[example.db_id] = build_value_index(dev.schemas[example.db_id],
                                                       dev.db_path(example.db_id), 5000)
        # Each question against its own database and against another one.
        other = present[(example.index * 7919) % len(present)].db_id
        for db_id in {example.db_id, other} & set(indexes):
            conn = sqlite3.connect(f"file:{dev.db_path(db_id)}?mode=ro", uri=True)
            for match in indexes[db_id].match(example.question, 3):
                for value in match.values:
                    row = conn.execute(
                        f"SELECT 1 FROM {quote_identifier(match.table)} WHERE "
                        f"{quote_identifier(match.column)} = ? LIMIT 1", (value,)).fetchone()
                    assert row is not None, (db_id, match, value)
                    checked += 1
            conn.close()
    assert checked > 20
