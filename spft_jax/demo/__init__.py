"""The embedded demo benchmark: a small Spider-format Text-to-SQL benchmark made by this project.

It ships as package data (`data/`), so the whole pipeline can run on a fresh machine without
downloading Spider. `python -m spft_jax.demo.build` regenerates `data/` from the domain modules
in `domains/`; the committed files are exactly what that command writes.
"""

from __future__ import annotations

import dataclasses
import pathlib

DATA_DIR = pathlib.Path(__file__).parent / "data"

# Spider-style split: the dev databases are never seen in training, so dev measures how well a
# model carries over to unseen schemas, not how well it remembers these ones.
TRAIN_DB_IDS = [
    "public_library",
    "hospital_clinic",
    "university_courses",
    "airline_flights",
    "online_retail",
    "music_festival",
]
DEV_DB_IDS = [
    "football_league",
    "real_estate",
]


@dataclasses.dataclass(frozen=True)
class BenchmarkPaths:
    """Where a Spider-format benchmark lives: schema file, question files, database folder.

    Databases are at `db_dir / db_id / f"{db_id}.sqlite"`, as in Spider.
    """

    tables: pathlib.Path
    train: pathlib.Path
    dev: pathlib.Path
    db_dir: pathlib.Path


def benchmark_paths(root: pathlib.Path) -> BenchmarkPaths:
    """The Spider file layout under `root` (what `build` writes)."""
    return BenchmarkPaths(
        tables=root / "tables.json",
        train=root / "train.json",
        dev=root / "dev.json",
        db_dir=root / "database",
    )


def demo_paths() -> BenchmarkPaths:
    """The paths of the demo benchmark shipped inside the package."""
    return benchmark_paths(DATA_DIR)
