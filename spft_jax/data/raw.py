"""Reading a split straight from a dataset's own files: the raw side of every comparison.

For Spider-format files this gives what `spft_jax.sql.dataset.load_dataset` gives, file after
file (Spider's train split is train_spider then train_others). Two datasets differ from plain
Spider format and are adapted here, once, rather than in every caller:
- Spider-Syn keeps its question under `SpiderSynQuestion` (see `catalog`);
- BIRD's tables files name SQLite column types (`integer`, `real`, `date`, ...) where
  Spider's coarse types are expected; they are mapped the way SQLite assigns type affinity.
A question whose database file is missing is kept and reported, as the raw loader does.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Sequence

from spft_jax.data.catalog import DatasetSpec, split_files
from spft_jax.errors import DataError
from spft_jax.sql.dataset import Dataset, Example, database_path, load_questions
from spft_jax.sql.json_files import read_json_list
from spft_jax.sql.schema import Schema, load_schemas, schema_for


@dataclasses.dataclass(frozen=True)
class RawSplit:
    dataset: Dataset
    source_files: tuple[str, ...]  # per example, the name of the question file it came from


def load_raw_split(
    spec: DatasetSpec, manual_dir: str | pathlib.Path | None, split: str
) -> RawSplit:
    """All of `split`'s examples, in file order, with its schemas and database folder."""
    files = split_files(spec, manual_dir, split)
    schemas = load_split_schemas(spec, files.tables)
    examples: list[Example] = []
    sources: list[str] = []
    for path in files.questions:
        part = load_split_questions(spec, path)
        examples += part
        sources += [path.name] * len(part)
    dataset = dataset_from_examples(
        f"{spec.name} {split}", examples, schemas, files.db_dir, tables=files.tables
    )
    return RawSplit(dataset=dataset, source_files=tuple(sources))


def dataset_from_examples(
    name: str,
    examples: Sequence[Example],
    schemas: dict[str, Schema],
    db_dir: pathlib.Path,
    tables: pathlib.Path,
) -> Dataset:
    """A Dataset over `examples`, with load_dataset's checks: every db_id is described in the
    tables file, and databases absent from `db_dir` are counted as missing, not fatal. The
    caller reports the missing ones (`Dataset.summary`) in its own words."""
    for example in examples:
        schema_for(schemas, example.db_id, source=str(tables))
    used = {e.db_id for e in examples}
    missing = frozenset(db for db in used if not database_path(db_dir, db).is_file())
    return Dataset(
        name=name,
        examples=tuple(examples),
        schemas=schemas,
        db_dir=db_dir,
        missing_db_ids=missing,
    )


def load_split_questions(spec: DatasetSpec, path: pathlib.Path) -> list[Example]:
    """The question file at `path`, read with `spec`'s field names."""
    if spec.question_field == "question":
        return load_questions(path, query_field=spec.query_field)
    own = ("db_id", spec.question_field, spec.query_field)
    examples = []
    for index, entry in enumerate(read_json_list(path, "question file")):
        if not isinstance(entry, dict):
            raise DataError(f"question file {path}: entry {index} is not an object")
        for field in own:
            if not isinstance(entry.get(field), str):
                raise DataError(
                    f"question file {path}: entry {index} has no string field {field!r}"
                )
        examples.append(
            Example(
                index=index,
                db_id=entry["db_id"],
                question=entry[spec.question_field],
                query=entry[spec.query_field],
                extra={k: v for k, v in entry.items() if k not in own},
            )
        )
    return examples


def load_split_schemas(spec: DatasetSpec, tables: pathlib.Path) -> dict[str, Schema]:
    """The tables file, with BIRD's SQLite column types mapped to Spider's coarse ones."""
    if not spec.sqlite_column_types:
        return load_schemas(tables)
    schemas: dict[str, Schema] = {}
    for entry in read_json_list(tables, "tables file"):
        if not isinstance(entry, dict) or "db_id" not in entry:
            raise DataError(f"tables file {tables} has an entry that is not an object with db_id")
        types = entry.get("column_types")
        if isinstance(types, list):
            entry = {**entry, "column_types": [coarse_column_type(t) for t in types]}
        schemas[entry["db_id"]] = Schema.from_spider_entry(entry)
    return schemas


def coarse_column_type(declared: object) -> object:
    """Spider's coarse type for a declared SQLite type, by SQLite's affinity rules (a name
    containing INT, REAL, FLOA, DOUB, NUM or DEC is numeric, CHAR/CLOB/TEXT is text) plus
    dates and booleans, which Spider keeps apart. Non-strings pass through, so the schema
    check reports them."""
    if not isinstance(declared, str):
        return declared
    name = declared.lower()
    if any(key in name for key in ("int", "real", "floa", "doub", "num", "dec")):
        return "number"
    if "date" in name or "time" in name:
        return "time"
    if "bool" in name:
        return "boolean"
    if any(key in name for key in ("char", "clob", "text")):
        return "text"
    return "others"
