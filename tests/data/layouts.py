"""Small dataset folders in the layouts of Spider, Spider-Syn and BIRD, made from the demo
benchmark (its databases linked, not copied), for tests that must not need external data."""

from __future__ import annotations

import json
import pathlib

from spft_jax.demo import DEV_DB_IDS, demo_paths

# What BIRD's tables files say where Spider says number / time / boolean / text.
BIRD_TYPES = {"number": "integer", "time": "date", "boolean": "integer", "text": "text"}


def _read(path: pathlib.Path):
    return json.loads(path.read_text(encoding="utf-8"))


def _write(path: pathlib.Path, value) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=1), encoding="utf-8")
    return path


def _link_databases(db_dir: pathlib.Path, db_ids) -> None:
    db_dir.mkdir(parents=True, exist_ok=True)
    for db_id in db_ids:
        (db_dir / db_id).symlink_to(demo_paths().db_dir / db_id, target_is_directory=True)


def make_spider_layout(root: pathlib.Path, with_dev: bool = True) -> pathlib.Path:
    """Spider's file names over the demo: train_spider/train_others split the demo's train."""
    paths = demo_paths()
    train = _read(paths.train)
    _write(root / "train_spider.json", train[:200])
    _write(root / "train_others.json", train[200:])
    if with_dev:
        _write(root / "dev.json", _read(paths.dev))
    (root / "tables.json").write_bytes(paths.tables.read_bytes())
    _link_databases(root / "database", [e["db_id"] for e in _read(paths.tables)])
    return root


def make_dev_only_layout(root: pathlib.Path, question_file: str) -> pathlib.Path:
    """Spider-Realistic's or Spider-DK's layout: one dev question file beside Spider's files."""
    paths = demo_paths()
    _write(root / question_file, _read(paths.dev))
    (root / "tables.json").write_bytes(paths.tables.read_bytes())
    _link_databases(root / "database", [e["db_id"] for e in _read(paths.tables)])
    return root


def make_syn_layout(root: pathlib.Path) -> pathlib.Path:
    """Spider-Syn's layout: the question under SpiderSynQuestion, the original in SpiderQuestion."""
    paths = demo_paths()

    def syn(entries):
        return [
            {
                "db_id": e["db_id"],
                "query": e["query"],
                "SpiderQuestion": e["question"],
                "SpiderSynQuestion": "Paraphrased: " + e["question"],
            }
            for e in entries
        ]

    _write(root / "train_spider.json", syn(_read(paths.train)))
    _write(root / "dev.json", syn(_read(paths.dev)))
    (root / "tables.json").write_bytes(paths.tables.read_bytes())
    _link_databases(root / "database", [e["db_id"] for e in _read(paths.tables)])
    return root


def make_bird_layout(root: pathlib.Path, missing_dev_db: str | None = None) -> pathlib.Path:
    """BIRD's layout: SQL as the query field, evidence, SQLite type names in the tables files.
    `missing_dev_db` leaves that dev database out, as Spider's shared copy lacks a few."""
    paths = demo_paths()
    tables = _read(paths.tables)
    for entry in tables:
        entry["column_types"] = [BIRD_TYPES[t] for t in entry["column_types"]]
    for split, source, prefix in (("train", paths.train, "train"), ("dev", paths.dev, "dev")):
        entries = [
            {
                "question_id": i,
                "db_id": e["db_id"],
                "question": e["question"],
                "evidence": f"hint {i}" if i % 3 else "",
                "SQL": e["query"],
                **({"difficulty": "simple"} if split == "dev" else {}),
            }
            for i, e in enumerate(_read(source))
        ]
        db_ids = sorted({e["db_id"] for e in entries})
        _write(root / split / f"{prefix}.json", entries)
        _write(root / split / f"{prefix}_tables.json", [t for t in tables if t["db_id"] in db_ids])
        present = [db for db in db_ids if db != missing_dev_db]
        _link_databases(root / split / f"{prefix}_databases", present)
    assert missing_dev_db in (None, *DEV_DB_IDS)
    return root
