"""The one way the pipeline gets a split's examples: raw question files or a prepared TFDS data_dir.

Both give the same `spft_jax.sql.dataset.Dataset` (examples, schemas, database folder, missing
databases), restricted to this host's shard, so nothing downstream knows which was read. The
config section the pipeline keeps for it (e.g. `config.data.source`) has the fields of
`DataSourceConfig`:

    dataset     one of catalog.DATASETS: spider, spider_syn, spider_realistic, spider_dk, bird,
                demo
    format      "raw": read the question files in manual_dir; "tfds": read the questions from
                data_dir, written by `python -m spft_jax.data.prepare`
    manual_dir  the dataset's folder (question files, tables file, databases); with "tfds" only
                its tables file and databases are read; unset for demo, which ships with the
                package
    data_dir    the TFDS data_dir (format "tfds" only)

tensorflow_datasets is imported only when a "tfds" source is read.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from spft_jax.data.catalog import get_spec
from spft_jax.data.host_shard import host_identity, shard_positions
from spft_jax.data.raw import load_raw_split
from spft_jax.errors import ConfigError
from spft_jax.sql.dataset import Dataset

log = logging.getLogger(__name__)

FORMATS = ("raw", "tfds")


@dataclasses.dataclass(frozen=True)
class DataSourceConfig:
    """Where a dataset's questions are read from; see the module docstring for the fields."""

    dataset: str = "demo"
    format: str = "raw"
    manual_dir: str | None = None
    data_dir: str | None = None

    def __post_init__(self):
        try:
            get_spec(self.dataset)
        except ConfigError as e:
            raise ConfigError(f"data source field 'dataset': {e}") from None
        if self.format not in FORMATS:
            raise ConfigError(
                f"data source field 'format' must be one of {', '.join(FORMATS)}, "
                f"got {self.format!r}"
            )
        if self.format == "tfds" and not self.data_dir:
            raise ConfigError(
                "data source field 'data_dir' must be set when format is 'tfds' "
                "(the folder python -m spft_jax.data.prepare wrote)"
            )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> "DataSourceConfig":
        """From a config section (e.g. `config.data.source.to_dict()`); unknown fields are
        errors, so a misspelt field is not silently ignored. Empty strings mean unset."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"data source has unknown field(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        return cls(**{k: (None if v == "" else v) for k, v in values.items()})


def load_examples(
    source: DataSourceConfig,
    split: str,
    process_index: int | None = None,
    process_count: int | None = None,
) -> Dataset:
    """This host's shard of `split` ("train" or "validation"): positions process_index,
    process_index + process_count, ... of the split, in file order. The host defaults to
    JAX's process index and count when JAX is imported, else to a single host."""
    spec = get_spec(source.dataset)
    index, count = host_identity(process_index, process_count)
    if source.format == "tfds":
        # Imported here: a raw source must not need (or pay for importing) TFDS.
        from spft_jax.data.prepared import load_prepared_split

        dataset = load_prepared_split(
            spec, source.data_dir, source.manual_dir, split, index, count
        )
    else:
        whole = load_raw_split(spec, source.manual_dir, split).dataset
        dataset = _select(whole, shard_positions(len(whole.examples), index, count))
    if count > 1:
        dataset = dataclasses.replace(dataset, name=f"{dataset.name} (host {index} of {count})")
    if dataset.missing:
        log.warning("%s", dataset.summary())
    return dataset


def _select(dataset: Dataset, positions: Iterable[int]) -> Dataset:
    """The examples at `positions`, with the missing databases of those examples only."""
    examples = tuple(dataset.examples[i] for i in positions)
    used = {e.db_id for e in examples}
    return dataclasses.replace(
        dataset, examples=examples, missing_db_ids=dataset.missing_db_ids & used
    )
