"""The embedded demo benchmark: the committed data is what the builder makes, and it is sound.

These tests read the committed files under spft_jax/demo/data, so a domain edited without
rebuilding (python -m spft_jax.demo.build) fails here rather than in a pipeline run.
"""

from __future__ import annotations

import collections
import contextlib
import json
import pathlib
import re
import sqlite3

import pytest

from spft_jax.demo import DATA_DIR, DEV_DB_IDS, TRAIN_DB_IDS, build, demo_paths
from spft_jax.demo.domains import load_domain
from spft_jax.sql.hardness import HARDNESS_LEVELS, sql_hardness

PATHS = demo_paths()
ALL_DB_IDS = TRAIN_DB_IDS + DEV_DB_IDS
OUTPUT_FILES = ("tables.json", "train.json", "dev.json", "train_gold.sql", "dev_gold.sql")
MAX_ROWS = 500
MAX_DB_BYTES = 300 * 1024


def db_path(db_dir: pathlib.Path, db_id: str) -> pathlib.Path:
    return db_dir / db_id / f"{db_id}.sqlite"


def connect_read_only(path: pathlib.Path) -> contextlib.closing:
    if not path.is_file():  # sqlite3 would otherwise report a vague "unable to open"
        raise FileNotFoundError(path)
    return contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True))


def load_json(path: pathlib.Path):
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def fresh_build(tmp_path_factory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("demo_build")
    build.build(out)
    return out


@pytest.fixture(scope="module")
def questions() -> dict[str, list[dict]]:
    return {"train": load_json(PATHS.train), "dev": load_json(PATHS.dev)}


@pytest.fixture(scope="module")
def tables() -> dict[str, dict]:
    return {entry["db_id"]: entry for entry in load_json(PATHS.tables)}


@pytest.fixture(scope="module")
def gold_results(questions) -> dict[str, list[tuple[dict, object]]]:
    """Every gold query's result rows, or the exception it raised, per split."""
    results: dict[str, list[tuple[dict, object]]] = {}
    for split, records in questions.items():
        results[split] = []
        for record in records:
            with connect_read_only(db_path(PATHS.db_dir, record["db_id"])) as conn:
                try:
                    outcome: object = conn.execute(record["query"]).fetchall()
                except sqlite3.Error as e:
                    outcome = e
            results[split].append((record, outcome))
    return results


# ------------------------------------------------------------------------------------------
# The committed data is exactly what the builder writes.
# ------------------------------------------------------------------------------------------


def test_demo_paths_point_into_the_package():
    assert PATHS.tables == DATA_DIR / "tables.json"
    assert PATHS.train == DATA_DIR / "train.json"
    assert PATHS.dev == DATA_DIR / "dev.json"
    assert PATHS.db_dir == DATA_DIR / "database"
    for path in (PATHS.tables, PATHS.train, PATHS.dev):
        assert path.is_file(), path


@pytest.mark.parametrize("name", OUTPUT_FILES)
def test_committed_files_equal_a_fresh_build(fresh_build, name):
    committed = (DATA_DIR / name).read_text(encoding="utf-8")
    rebuilt = (fresh_build / name).read_text(encoding="utf-8")
    if name.endswith(".json"):
        assert json.loads(committed) == json.loads(rebuilt)
    assert committed == rebuilt, f"{name} is stale: run python -m spft_jax.demo.build"


def test_committed_databases_equal_a_fresh_build(fresh_build):
    committed = sorted(p.name for p in PATHS.db_dir.iterdir() if p.is_dir())
    assert committed == sorted(ALL_DB_IDS)
    for db_id in ALL_DB_IDS:
        with connect_read_only(db_path(PATHS.db_dir, db_id)) as ours, connect_read_only(
            db_path(fresh_build / "database", db_id)
        ) as rebuilt:
            assert list(ours.iterdump()) == list(rebuilt.iterdump()), (
                f"{db_id} is stale: run python -m spft_jax.demo.build"
            )


def test_databases_are_small():
    for db_id in ALL_DB_IDS:
        size = db_path(PATHS.db_dir, db_id).stat().st_size
        assert size < MAX_DB_BYTES, f"{db_id} is {size} bytes"


def test_build_output_does_not_depend_on_the_run(tmp_path, fresh_build):
    # A second build into another folder gives the same bytes, databases included.
    build.build(tmp_path)
    for name in OUTPUT_FILES:
        assert (tmp_path / name).read_bytes() == (fresh_build / name).read_bytes(), name
    for db_id in ALL_DB_IDS:
        assert (
            db_path(tmp_path / "database", db_id).read_bytes()
            == db_path(fresh_build / "database", db_id).read_bytes()
        ), db_id


def test_build_rejects_a_misspelt_column_key(tmp_path, monkeypatch):
    domain = load_domain("public_library")
    monkeypatch.setattr(domain, "TIME_COLUMNS", domain.TIME_COLUMNS | {"loan.lone_date"})
    with pytest.raises(ValueError, match="loan.lone_date"):
        build.build(tmp_path)


# ------------------------------------------------------------------------------------------
# Gold queries run, return something, and stay small.
# ------------------------------------------------------------------------------------------


def test_every_gold_query_executes(gold_results):
    failures = [
        f"{record['db_id']}: {record['query']} -> {outcome}"
        for records in gold_results.values()
        for record, outcome in records
        if isinstance(outcome, Exception)
    ]
    assert not failures, "\n".join(failures)


def test_gold_results_are_mostly_non_empty_and_bounded(gold_results):
    for split, records in gold_results.items():
        rows = [outcome for _, outcome in records if not isinstance(outcome, Exception)]
        non_empty = sum(1 for r in rows if r)
        assert non_empty >= 0.9 * len(records), f"{split}: only {non_empty}/{len(records)} non-empty"
        too_big = [rec["question"] for rec, out in records if isinstance(out, list) and len(out) > MAX_ROWS]
        assert not too_big, f"{split}: results over {MAX_ROWS} rows: {too_big}"


# ------------------------------------------------------------------------------------------
# Databases and tables.json agree, and references hold.
# ------------------------------------------------------------------------------------------


def test_foreign_key_check_is_clean():
    for db_id in ALL_DB_IDS:
        with connect_read_only(db_path(PATHS.db_dir, db_id)) as conn:
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == [], db_id


def test_tables_json_covers_exactly_the_databases(tables):
    assert sorted(tables) == sorted(ALL_DB_IDS)


def test_tables_json_foreign_keys_point_at_existing_columns(tables):
    for db_id, entry in tables.items():
        n_columns = len(entry["column_names_original"])
        assert entry["foreign_keys"], f"{db_id} has no foreign keys"
        for source, target in entry["foreign_keys"]:
            assert 0 < source < n_columns and 0 < target < n_columns, (db_id, source, target)
            source_table = entry["column_names_original"][source][0]
            target_table = entry["column_names_original"][target][0]
            assert 0 <= source_table < len(entry["table_names_original"])
            assert 0 <= target_table < len(entry["table_names_original"])


def _actual_schema(conn: sqlite3.Connection):
    """Tables, their columns (name, declared type, pk position) and FKs, read from SQLite."""
    names = [
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
        )
    ]
    columns = {t: conn.execute(f'PRAGMA table_info("{t}")').fetchall() for t in names}
    fks = {
        (t, row[3], row[2], row[4])
        for t in names
        for row in conn.execute(f'PRAGMA foreign_key_list("{t}")').fetchall()
    }
    return names, columns, fks


def test_tables_json_matches_each_database(tables):
    allowed_types = {"INTEGER": {"number", "boolean"}, "REAL": {"number"}, "TEXT": {"text", "time"}}
    for db_id, entry in tables.items():
        with connect_read_only(db_path(PATHS.db_dir, db_id)) as conn:
            names, columns, fks = _actual_schema(conn)
        assert entry["table_names_original"] == names, db_id
        assert len(entry["table_names"]) == len(names)
        assert entry["column_names_original"][0] == [-1, "*"]
        assert entry["column_names"][0] == [-1, "*"]
        assert entry["column_types"][0] == "text"
        assert len(entry["column_names"]) == len(entry["column_names_original"]) == len(entry["column_types"])

        expected_columns = [[-1, "*"]]
        expected_pks = []
        for table_index, table in enumerate(names):
            pk = []
            for cid, name, declared, _, _, pk_position in columns[table]:
                expected_columns.append([table_index, name])
                index = len(expected_columns) - 1
                assert entry["column_types"][index] in allowed_types[declared], (db_id, table, name)
                assert entry["column_names"][index][0] == table_index
                if pk_position:
                    pk.append((pk_position, index))
            pk = [i for _, i in sorted(pk)]
            expected_pks.append(pk[0] if len(pk) == 1 else pk)
        assert entry["column_names_original"] == expected_columns, db_id
        assert entry["primary_keys"] == expected_pks, db_id

        where = {tuple(c): i for i, c in enumerate(entry["column_names_original"])}
        expected_fks = {
            (where[(names.index(t), col)], where[(names.index(ref_t), ref_col)])
            for t, col, ref_t, ref_col in fks
        }
        assert {tuple(pair) for pair in entry["foreign_keys"]} == expected_fks, db_id


def test_coarse_types_describe_the_stored_values(tables):
    # "time" columns hold ISO dates and "boolean" columns hold 0/1, as their tables.json type says.
    iso_date = re.compile(r"^\d{4}-\d{2}-\d{2}$")
    for db_id, entry in tables.items():
        with connect_read_only(db_path(PATHS.db_dir, db_id)) as conn:
            for index, kind in enumerate(entry["column_types"]):
                if kind not in ("time", "boolean"):
                    continue
                table_index, column = entry["column_names_original"][index]
                table = entry["table_names_original"][table_index]
                values = {v for (v,) in conn.execute(f'SELECT DISTINCT "{column}" FROM "{table}"')}
                values.discard(None)
                assert values, f"{db_id}.{table}.{column} is empty"
                if kind == "time":
                    assert all(isinstance(v, str) and iso_date.match(v) for v in values), (db_id, column)
                else:
                    assert values <= {0, 1}, (db_id, column, values)


def test_composite_primary_keys_are_listed_as_one_entry(tables):
    composite = [pk for entry in tables.values() for pk in entry["primary_keys"] if isinstance(pk, list)]
    assert composite, "expected at least one composite key (enrollment, order_item, prescription)"
    assert all(len(pk) >= 2 for pk in composite)


def test_project_schema_loader_reads_tables_json():
    from spft_jax.sql.schema import load_schemas

    schemas = load_schemas(PATHS.tables)
    assert sorted(schemas) == sorted(ALL_DB_IDS)


# ------------------------------------------------------------------------------------------
# Question files.
# ------------------------------------------------------------------------------------------


def test_question_records_have_exactly_the_spider_fields(questions):
    for records in questions.values():
        for record in records:
            assert set(record) == {"db_id", "question", "query"}
            assert record["question"].strip() and record["query"].strip()


def test_splits_use_disjoint_databases_and_meet_the_size_thresholds(questions, tables):
    train_dbs = {r["db_id"] for r in questions["train"]}
    dev_dbs = {r["db_id"] for r in questions["dev"]}
    assert train_dbs == set(TRAIN_DB_IDS) and dev_dbs == set(DEV_DB_IDS)
    assert not train_dbs & dev_dbs
    assert len(TRAIN_DB_IDS) >= 6 and len(DEV_DB_IDS) >= 2
    assert len(questions["train"]) >= 250
    assert len(questions["dev"]) >= 90
    assert (train_dbs | dev_dbs) <= set(tables)


def test_no_duplicate_questions(questions):
    normalized = collections.Counter(
        " ".join(r["question"].lower().split()) for records in questions.values() for r in records
    )
    duplicates = [q for q, n in normalized.items() if n > 1]
    assert not duplicates, duplicates


def test_gold_files_line_up_with_question_files(questions):
    for split, records in questions.items():
        lines = (DATA_DIR / f"{split}_gold.sql").read_text(encoding="utf-8").splitlines()
        assert lines == [f"{r['query']}\t{r['db_id']}" for r in records]


def test_hardness_mix_covers_every_level(questions):
    for split, records in questions.items():
        counts = collections.Counter(sql_hardness(r["query"]) for r in records)
        assert set(counts) == set(HARDNESS_LEVELS), (split, counts)
        for level in HARDNESS_LEVELS:
            share = counts[level] / len(records)
            assert share >= 0.10, f"{split}: only {share:.0%} {level} ({counts})"
