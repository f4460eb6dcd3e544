"""A tiny Spider-format benchmark written by the tests: one shop database, a tables.json entry
and a question file, for tests that must not depend on external data."""

from __future__ import annotations

import json
import pathlib
import sqlite3

SHOP_SCHEMA = """
CREATE TABLE customer (
  customer_id INTEGER PRIMARY KEY,
  name TEXT,
  city TEXT
);
CREATE TABLE purchase (
  purchase_id INTEGER PRIMARY KEY,
  customer_id INTEGER REFERENCES customer (customer_id),
  amount REAL,
  day TEXT
);
CREATE TABLE numbers (n INTEGER);
"""

SHOP_TABLES_ENTRY = {
    "db_id": "shop",
    "table_names_original": ["customer", "purchase", "numbers"],
    "table_names": ["customer", "purchase", "numbers"],
    "column_names_original": [
        [-1, "*"], [0, "customer_id"], [0, "name"], [0, "city"],
        [1, "purchase_id"], [1, "customer_id"], [1, "amount"], [1, "day"], [2, "n"],
    ],
    "column_names": [
        [-1, "*"], [0, "customer id"], [0, "name"], [0, "city"],
        [1, "purchase id"], [1, "customer id"], [1, "amount"], [1, "day"], [2, "n"],
    ],
    "column_types": ["text", "number", "text", "text", "number", "number", "number", "time",
                     "number"],
    "primary_keys": [1, 4],
    "foreign_keys": [[5, 1]],
}


def make_shop_database(path: pathlib.Path, numbers: int = 2000) -> pathlib.Path:
    """Creates the shop database; `numbers` rows in `numbers` make cross joins expensive."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.executescript(SHOP_SCHEMA)
    conn.executemany(
        "INSERT INTO customer VALUES (?, ?, ?)",
        [(1, "Ada", "Paris"), (2, "Bo", "Oslo"), (3, "Cy", "Paris")],
    )
    conn.executemany(
        "INSERT INTO purchase VALUES (?, ?, ?, ?)",
        [(1, 1, 10.0, "2024-01-02"), (2, 1, 5.5, "2024-02-03"), (3, 2, 7.25, "2024-02-04")],
    )
    conn.executemany("INSERT INTO numbers VALUES (?)", [(i,) for i in range(numbers)])
    conn.commit()
    conn.close()
    return path


def make_benchmark(root: pathlib.Path, questions: list[dict]) -> dict[str, pathlib.Path]:
    """Writes tables.json (shop plus a described-but-absent database `gone`), the question file
    and the shop database under `root`; returns their paths."""
    gone = dict(SHOP_TABLES_ENTRY, db_id="gone")
    tables = root / "tables.json"
    tables.write_text(json.dumps([SHOP_TABLES_ENTRY, gone]))
    gold = root / "questions.json"
    gold.write_text(json.dumps(questions))
    db_dir = root / "database"
    make_shop_database(db_dir / "shop" / "shop.sqlite")
    return {"tables": tables, "gold": gold, "db_dir": db_dir}
