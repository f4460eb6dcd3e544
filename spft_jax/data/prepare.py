"""Writes one of the catalog's datasets as a TFDS array_record dataset under a data_dir.

    python -m spft_jax.data.prepare --dataset=spider --manual_dir=<unzipped spider> --data_dir=<out>
    python -m spft_jax.data.prepare --dataset=demo --data_dir=<out>

--dataset is spider, spider_syn, spider_realistic, spider_dk, bird or demo (file names per
dataset: spft_jax/data/catalog.py). The result lands in <out>/<builder>/<config>/<version> and
is read with `load_examples(DataSourceConfig(format="tfds", ...))` or `tfds.data_source`. A
dataset already prepared there is reused unless --overwrite. TensorFlow is not needed.
Bad input (unknown dataset, a missing file) prints one `error: ...` line and exits with 2.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import logging
import pathlib
import sys
import tempfile
from collections.abc import Iterator

import tensorflow_datasets as tfds
from absl import logging as absl_logging

from spft_jax.data.catalog import DATASETS, DatasetSpec, dataset_root, get_spec, split_files
from spft_jax.data.tfds_builders import make_builder
from spft_jax.cli import run_command


@dataclasses.dataclass(frozen=True)
class PreparedDataset:
    path: str  # <data_dir>/<builder>/<config>/<version>
    split_sizes: dict[str, int]
    reused: bool  # it was already prepared, nothing was written


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m spft_jax.data.prepare",
        description="Write a Text-to-SQL dataset as a TFDS array_record dataset.",
    )
    parser.add_argument("--dataset", required=True, help=", ".join(DATASETS))
    parser.add_argument(
        "--manual_dir", "--manual-dir", help="the dataset's unzipped files (not for demo)"
    )
    parser.add_argument("--data_dir", "--data-dir", required=True, help="TFDS data_dir to write")
    parser.add_argument("--overwrite", action="store_true", help="prepare again even if present")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def prepare_dataset(
    spec: DatasetSpec,
    manual_dir: str | pathlib.Path | None,
    data_dir: str | pathlib.Path,
    overwrite: bool = False,
    show_progress: bool = True,
) -> PreparedDataset:
    """Writes `spec` under `data_dir`. Every expected file is checked before TFDS starts, so a
    missing one is reported by name rather than as a failure halfway through writing."""
    root = dataset_root(spec, manual_dir)
    for split in spec.splits:
        split_files(spec, manual_dir, split)
    mode = tfds.download.GenerateMode
    config = tfds.download.DownloadConfig(
        manual_dir=None if spec.packaged_root is not None else str(root),
        download_mode=mode.FORCE_REDOWNLOAD if overwrite else mode.REUSE_DATASET_IF_EXISTS,
    )
    # Nothing is downloaded; a throwaway download_dir keeps TFDS's empty downloads/ folder
    # out of the shared data_dir.
    with _quiet_tfds(), tempfile.TemporaryDirectory() as download_dir:
        builder = make_builder(spec, data_dir, show_progress=show_progress)
        reused = builder.is_prepared() and not overwrite
        builder.download_and_prepare(download_dir=download_dir, download_config=config)
    sizes = {name: info.num_examples for name, info in builder.info.splits.items()}
    return PreparedDataset(path=str(builder.data_dir), split_sizes=sizes, reused=reused)


@contextlib.contextmanager
def _quiet_tfds() -> Iterator[None]:
    """TFDS's own progress bars, logs and bold stdout banners off; ours stay (stderr). Its
    warnings go too: on a first prepare it warns that the folder it is about to write is not
    a dataset yet. Its real failures are exceptions, and still reach the user."""
    verbosity = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    tfds.display_progress_bar(False)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        tfds.display_progress_bar(True)
        absl_logging.set_verbosity(verbosity)


def run(args: argparse.Namespace) -> None:
    spec = get_spec(args.dataset)
    result = prepare_dataset(
        spec, args.manual_dir, args.data_dir, overwrite=args.overwrite, show_progress=not args.quiet
    )
    sizes = ", ".join(f"{split} ({n} questions)" for split, n in result.split_sizes.items())
    if result.reused:
        print(
            f"{spec.name}: already prepared in {result.path}: {sizes}; "
            "pass --overwrite to prepare it again"
        )
    else:
        print(f"{spec.name}: prepared {sizes} in {result.path}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_command(lambda: run(args), logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())
