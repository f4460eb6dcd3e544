"""TFDS builders for the catalog's datasets, written as array_record files without TensorFlow.

tensorflow-datasets 4.9.10 needs TensorFlow only for `tf.data` pipelines and for tfrecord
files; a `GeneratorBasedBuilder` serialises examples with its own copy of the tf.Example proto
(`tensorflow_datasets.proto`), writes them with `array_record`, and `tfds.data_source` reads
them back through NumPy decoders. That is the whole path used here; `as_dataset` (tf.data)
and `file_format="tfrecord"` are the parts that would import TensorFlow, and are not used.

One builder per source layout: `spider` with a config per Spider-format variant (spider, syn,
realistic, dk), `bird`, and `spft_demo` (the packaged demo, no manual dir). Each record:

    source_file  name of the question file it came from (Spider's train has two)
    index        its position in that file, to match it one to one with the raw loader
    db_id, question, query
    schema       the schema prompt (see `schema_prompts`: 3 sample values per column,
                 none when the database file is missing)
    has_database whether the database file was present when the dataset was prepared
    extra        every other field of the question entry, as a JSON object
    evidence     BIRD only: the question's evidence text ("" when the entry has none)

Records keep the question files' order (shuffling is disabled and keys are positions), so a
record's position in the split is the example's position in the raw loader's split.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import pathlib

import numpy as np
import tensorflow_datasets as tfds
from tqdm import tqdm

from spft_jax.data.catalog import DATASETS, DatasetSpec
from spft_jax.data.raw import RawSplit, load_raw_split
from spft_jax.data.schema_prompts import SAMPLE_VALUES_PER_COLUMN, database_schema_prompt

log = logging.getLogger(__name__)

FILE_FORMAT = "array_record"


@dataclasses.dataclass(eq=False)
class TextToSqlConfig(tfds.core.BuilderConfig):
    """A builder config that names its dataset in `catalog.DATASETS`."""

    dataset: str = ""


def _config(dataset: str) -> TextToSqlConfig:
    spec = DATASETS[dataset]
    return TextToSqlConfig(name=spec.config, description=spec.description, dataset=dataset)


class _TextToSqlBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """What every builder here shares: features, info and generation from the catalog."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {
        "1.0.0": "Questions with schema prompt (3 sample values per column), source file "
        "and index, extra fields as JSON; BIRD adds evidence.",
    }

    def __init__(self, *, show_progress: bool = True, **kwargs):
        self._show_progress = show_progress
        super().__init__(**kwargs)

    @property
    def spec(self) -> DatasetSpec:
        return DATASETS[self.builder_config.dataset]

    def _info(self) -> tfds.core.DatasetInfo:
        spec = self.spec
        features = {
            "source_file": tfds.features.Text(),
            "index": tfds.features.Scalar(np.int64),
            "db_id": tfds.features.Text(),
            "question": tfds.features.Text(),
            "query": tfds.features.Text(),
            "schema": tfds.features.Text(),
            "has_database": tfds.features.Scalar(np.bool_),
            "extra": tfds.features.Text(),
        }
        if spec.evidence_field:
            features["evidence"] = tfds.features.Text()
        description = (
            f"{spec.description}\n\nschema: CREATE TABLE statements with up to "
            f"{SAMPLE_VALUES_PER_COLUMN} sample values per column (from tables.json alone, "
            "without values, when the database file is missing: see has_database)."
        )
        return tfds.core.DatasetInfo(
            builder=self,
            description=description,
            features=tfds.features.FeaturesDict(features),
            homepage=spec.homepage or None,
            citation=spec.citation or None,
            license=spec.license,
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager):
        spec = self.spec
        manual_dir = None if spec.packaged_root is not None else pathlib.Path(dl_manager.manual_dir)
        # Every split is read (and checked) before any is written, so a missing dev file fails
        # before train has been spent on.
        raw = {split: load_raw_split(spec, manual_dir, split) for split in spec.splits}
        for split, data in raw.items():
            if data.dataset.missing:
                detail = ", ".join(f"{db} ({n})" for db, n in sorted(data.dataset.missing.items()))
                log.warning(
                    "%s %s: %d questions whose database file is missing are kept, with the "
                    "schema from tables.json and no sample values: %s",
                    spec.name, split, sum(data.dataset.missing.values()), detail,
                )
        return {split: self._generate_examples(split, data) for split, data in raw.items()}

    def _generate_examples(self, split: str, raw: RawSplit):
        spec = self.spec
        dataset = raw.dataset
        prompts: dict[str, str] = {}
        pairs = zip(dataset.examples, raw.source_files)
        bar = tqdm(
            pairs,
            total=len(dataset.examples),
            desc=f"{spec.name} {split}",
            unit="question",
            disable=not self._show_progress,
        )
        for position, (example, source_file) in enumerate(bar):
            if example.db_id not in prompts:
                prompts[example.db_id] = database_schema_prompt(dataset, example.db_id)
            record = {
                "source_file": source_file,
                "index": example.index,
                "db_id": example.db_id,
                "question": example.question,
                "query": example.query,
                "schema": prompts[example.db_id],
                "has_database": dataset.has_database(example),
                "extra": json.dumps(dict(example.extra), ensure_ascii=False),
            }
            if spec.evidence_field:
                record["evidence"] = _evidence(example.extra, spec.evidence_field)
            yield position, record


def _evidence(extra, field: str) -> str:
    value = extra.get(field, "")
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class Spider(_TextToSqlBuilder):
    """Spider and its Spider-format variants, one config each (see `catalog`)."""

    name = "spider"
    BUILDER_CONFIGS = [
        _config(name) for name in ("spider", "spider_syn", "spider_realistic", "spider_dk")
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
    spider: the unzipped Spider release: train_spider.json, train_others.json (or their
    *.reconstructed.json), dev.json, tables.json, database/<db_id>/<db_id>.sqlite.
    syn: Spider-Syn's train_spider.json and dev.json; realistic: spider-realistic.json;
    dk: Spider-DK.json and its tables.json. The variants' folders also hold Spider's
    tables.json (dk: its own) and database/ (copied or symlinked)."""


class Bird(_TextToSqlBuilder):
    """BIRD (train and dev)."""

    name = "bird"
    BUILDER_CONFIGS = [_config("bird")]
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
    The unzipped BIRD train and dev releases side by side: train/train.json,
    train/train_tables.json, train/train_databases/<db_id>/<db_id>.sqlite, dev/dev.json,
    dev/dev_tables.json, dev/dev_databases/<db_id>/<db_id>.sqlite."""


class SpftDemo(_TextToSqlBuilder):
    """The demo benchmark packaged with spft-jax; needs no manual dir."""

    name = "spft_demo"
    BUILDER_CONFIGS = [_config("demo")]


BUILDERS: dict[str, type[_TextToSqlBuilder]] = {b.name: b for b in (Spider, Bird, SpftDemo)}


def make_builder(
    spec: DatasetSpec, data_dir: str | pathlib.Path, show_progress: bool = True
) -> _TextToSqlBuilder:
    """The builder of `spec`, writing array_record files under `data_dir`."""
    return BUILDERS[spec.builder](
        config=spec.config,
        data_dir=str(data_dir),
        file_format=FILE_FORMAT,
        show_progress=show_progress,
    )
