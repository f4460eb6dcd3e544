"""Build the demo benchmark in Spider's file layout.

    python -m spft_jax.demo.build [--out DIR]

writes DIR/tables.json, DIR/train.json, DIR/dev.json, DIR/train_gold.sql, DIR/dev_gold.sql and
DIR/database/<db_id>/<db_id>.sqlite (DIR defaults to the package's data folder). The output is a
pure function of the domain modules: rebuilding gives the same JSON bytes and the same database
contents, which the tests check against the committed copy.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import random
import sqlite3
import tempfile
import types
from typing import Any

from spft_jax.demo import DATA_DIR, DEV_DB_IDS, TRAIN_DB_IDS, benchmark_paths
from spft_jax.demo.domains import load_domain

# Spider's coarse column types, from the declared SQLite type. Dates and booleans are stored as
# TEXT and INTEGER, so their coarse type comes from the domain's TIME/BOOLEAN_COLUMNS instead.
_DECLARED_TO_COARSE = {"INTEGER": "number", "REAL": "number", "TEXT": "text"}


def natural_name(identifier: str) -> str:
    """Spider's convention for natural names: lower case, words split at underscores."""
    return identifier.replace("_", " ").lower()


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _write_atomically(path: pathlib.Path, write: Any) -> None:
    """Call write(tmp_path) on a temporary file beside `path`, then move it into place, so a
    crash never leaves a half-written file where a reader expects a whole one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = pathlib.Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes owner-only files; data files are for everyone to read
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def table_order(conn: sqlite3.Connection) -> list[str]:
    """User tables in creation order (sqlite_master's rowid follows CREATE order)."""
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY rowid"
    )
    return [name for (name,) in rows]


def create_database(domain: types.ModuleType, path: pathlib.Path) -> None:
    """Create `path` from the domain's schema and rows (path must not exist yet)."""
    conn = sqlite3.connect(path)
    try:
        # Enforced while inserting, so a generator bug that breaks a reference fails the build.
        conn.execute("PRAGMA foreign_keys = ON")
        for statement in domain.SCHEMA:
            conn.execute(statement)
        tables = table_order(conn)
        data = domain.rows(random.Random(domain.SEED))
        if sorted(data) != sorted(tables):
            raise ValueError(f"{domain.DB_ID}: rows() gives tables {sorted(data)}, schema has {tables}")
        for table in tables:
            width = len(conn.execute(f"PRAGMA table_info({_quote(table)})").fetchall())
            placeholders = ", ".join("?" * width)
            conn.executemany(f"INSERT INTO {_quote(table)} VALUES ({placeholders})", data[table])
        conn.commit()
        problems = conn.execute("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise ValueError(f"{domain.DB_ID}: foreign key violations {problems[:5]}")
    finally:
        conn.close()


def build_database(domain: types.ModuleType, path: pathlib.Path) -> None:
    def write(tmp: pathlib.Path) -> None:
        tmp.unlink()  # sqlite3 wants to create the file itself
        create_database(domain, tmp)

    _write_atomically(path, write)


def _check_column_keys(domain: types.ModuleType, known: set[str]) -> None:
    """Catch a misspelt key in NATURAL_NAMES / TIME_COLUMNS / BOOLEAN_COLUMNS: it would
    otherwise be ignored silently."""
    for label, keys in (
        ("NATURAL_NAMES", domain.NATURAL_NAMES),
        ("TIME_COLUMNS", domain.TIME_COLUMNS),
        ("BOOLEAN_COLUMNS", domain.BOOLEAN_COLUMNS),
    ):
        unknown = sorted(set(keys) - known)
        if unknown:
            raise ValueError(f"{domain.DB_ID}: {label} names unknown tables/columns {unknown}")


def describe_database(domain: types.ModuleType, path: pathlib.Path) -> dict[str, Any]:
    """The tables.json entry of a built database, read back from the database itself."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = table_order(conn)
        names = domain.NATURAL_NAMES
        entry: dict[str, Any] = {
            "db_id": domain.DB_ID,
            "table_names_original": tables,
            "table_names": [names.get(t, natural_name(t)) for t in tables],
            "column_names_original": [[-1, "*"]],
            "column_names": [[-1, "*"]],
            "column_types": ["text"],
            "primary_keys": [],
            "foreign_keys": [],
        }
        index: dict[tuple[str, str], int] = {}
        for table_index, table in enumerate(tables):
            key_columns = []
            for _cid, column, declared, _notnull, _default, pk in conn.execute(
                f"PRAGMA table_info({_quote(table)})"
            ):
                key = f"{table}.{column}"
                index[(table, column)] = len(entry["column_names_original"])
                entry["column_names_original"].append([table_index, column])
                entry["column_names"].append([table_index, names.get(key, natural_name(column))])
                if key in domain.TIME_COLUMNS:
                    coarse = "time"
                elif key in domain.BOOLEAN_COLUMNS:
                    coarse = "boolean"
                else:
                    coarse = _DECLARED_TO_COARSE.get(declared.upper(), "others")
                entry["column_types"].append(coarse)
                if pk:  # pk is the column's position within the key, 1-based
                    key_columns.append((pk, index[(table, column)]))
            key_columns.sort()
            if len(key_columns) == 1:
                entry["primary_keys"].append(key_columns[0][1])
            elif key_columns:  # composite key: one entry listing its columns, as newer Spider does
                entry["primary_keys"].append([i for _, i in key_columns])
        for table in tables:
            for fk in conn.execute(f"PRAGMA foreign_key_list({_quote(table)})"):
                ref_table, column, ref_column = fk[2], fk[3], fk[4]
                if ref_column is None:
                    raise ValueError(f"{domain.DB_ID}: {table}.{column} must name the column it references")
                entry["foreign_keys"].append([index[(table, column)], index[(ref_table, ref_column)]])
        entry["foreign_keys"].sort()
        known = set(tables) | {f"{t}.{c}" for t, c in index}
        _check_column_keys(domain, known)
        return entry
    finally:
        conn.close()


def question_records(domain: types.ModuleType) -> list[dict[str, str]]:
    records = []
    for question, query in domain.QUESTIONS:
        if not question.strip() or not query.strip():
            raise ValueError(f"{domain.DB_ID}: empty question or query")
        if any(ch in query for ch in "\t\n\r"):
            # The gold file is one `SQL<TAB>db_id` line per question.
            raise ValueError(f"{domain.DB_ID}: query must be one line without tabs: {query!r}")
        records.append({"db_id": domain.DB_ID, "question": question, "query": query})
    return records


def _dump_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _write_text(path: pathlib.Path, text: str) -> None:
    _write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def build(out: pathlib.Path) -> None:
    """Write the whole benchmark under `out`."""
    paths = benchmark_paths(out)
    tables = []
    splits: dict[str, list[dict[str, str]]] = {"train": [], "dev": []}
    for split, db_ids in (("train", TRAIN_DB_IDS), ("dev", DEV_DB_IDS)):
        for db_id in db_ids:
            domain = load_domain(db_id)
            if domain.DB_ID != db_id:
                raise ValueError(f"module {db_id} declares DB_ID {domain.DB_ID!r}")
            db_path = paths.db_dir / db_id / f"{db_id}.sqlite"
            build_database(domain, db_path)
            tables.append(describe_database(domain, db_path))
            splits[split].extend(question_records(domain))
    seen: set[str] = set()
    for record in splits["train"] + splits["dev"]:
        if record["question"] in seen:
            raise ValueError(f"duplicate question: {record['question']!r}")
        seen.add(record["question"])
    _write_text(paths.tables, _dump_json(tables))
    for split, records in splits.items():
        _write_text(out / f"{split}.json", _dump_json(records))
        gold = "".join(f"{r['query']}\t{r['db_id']}\n" for r in records)
        _write_text(out / f"{split}_gold.sql", gold)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=pathlib.Path, default=DATA_DIR, help="output folder")
    args = parser.parse_args(argv)
    build(args.out)
    print(f"wrote the demo benchmark to {args.out}")


if __name__ == "__main__":
    main()
