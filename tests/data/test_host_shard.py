"""Per-host shards (disjoint, together the dataset) and the seeded, resumable reader."""

from __future__ import annotations

import itertools
import sys
import types

import pytest

from spft_jax.data.host_shard import (
    ReaderPosition,
    ShardReader,
    epoch_order,
    host_identity,
    shard_positions,
)
from spft_jax.data.source import DataSourceConfig, load_examples
from spft_jax.errors import ConfigError, DataError


def shards(source, split, n):
    return [load_examples(source, split, process_index=i, process_count=n) for i in range(n)]


def assert_partition(whole, parts):
    """The shards interleave back into the dataset: disjoint positions, nothing left out."""
    hosts = len(parts)
    positions = [set(shard_positions(len(whole.examples), i, hosts)) for i in range(hosts)]
    assert set.union(*positions) == set(range(len(whole.examples)))
    assert sum(len(p) for p in positions) == len(whole.examples)  # disjoint
    merged = [None] * len(whole.examples)
    for i, part in enumerate(parts):
        merged[i::hosts] = part.examples
    assert merged == list(whole.examples)


def test_two_hosts_partition_prepared_spider(spider_dir, spider_data_dir):
    source = DataSourceConfig(
        dataset="spider", format="tfds", manual_dir=str(spider_dir), data_dir=str(spider_data_dir)
    )
    whole = load_examples(source, "train", process_index=0, process_count=1)
    parts = shards(source, "train", 2)
    assert [len(p.examples) for p in parts] == [4330, 4329]
    assert_partition(whole, parts)
    assert parts[0].name == "spider train (host 0 of 2)"
    # Each host counts only its own questions on missing databases.
    assert parts[0].missing + parts[1].missing == whole.missing


@pytest.mark.parametrize("fmt", ["raw", "tfds"])
def test_hosts_partition_the_demo(demo_data_dir, fmt):
    source = DataSourceConfig(dataset="demo", format=fmt, data_dir=str(demo_data_dir))
    whole = load_examples(source, "validation", process_index=0, process_count=1)
    for hosts in (2, 3):
        assert_partition(whole, shards(source, "validation", hosts))


def test_reader_order_is_seeded_per_epoch_and_repeatable():
    examples = list(range(50))
    first = list(itertools.islice(ShardReader(examples, seed=7), 125))
    again = list(itertools.islice(ShardReader(examples, seed=7), 125))
    assert first == again
    epochs = [first[0:50], first[50:100]]
    assert all(sorted(epoch) == examples for epoch in epochs)  # each epoch sees every example once
    assert epochs[0] != epochs[1] and epochs[0] != examples  # shuffled, differently per epoch
    assert list(itertools.islice(ShardReader(examples, seed=8), 50)) != epochs[0]


def test_reader_resumes_from_a_saved_position():
    examples = [f"q{i}" for i in range(30)]
    uninterrupted = ShardReader(examples, seed=3).take(100)
    for stop in (0, 1, 29, 30, 31, 77):
        reader = ShardReader(examples, seed=3)
        head = reader.take(stop)
        saved = reader.position.to_dict()  # what a checkpoint stores
        resumed = ShardReader(examples, seed=3, position=ReaderPosition.from_dict(saved))
        assert head + resumed.take(100 - stop) == uninterrupted, stop


def test_position_rolls_over_at_the_end_of_an_epoch():
    reader = ShardReader(list(range(4)), seed=0)
    reader.take(3)
    assert reader.position == ReaderPosition(epoch=0, index=3)
    next(reader)
    assert reader.position == ReaderPosition(epoch=1, index=0)


def test_epoch_size_evens_out_hosts():
    reader = ShardReader(list(range(10)), seed=1, epoch_size=9)
    first, second = reader.take(9), reader.take(9)
    assert reader.position == ReaderPosition(epoch=2, index=0)
    assert len(set(first)) == len(set(second)) == 9
    assert first == [x for x in epoch_order(10, 1, 0)][:9]


def test_reader_rejects_bad_positions_and_sizes():
    with pytest.raises(DataError, match="past the end of an epoch of 5"):
        ShardReader(list(range(5)), seed=0, position=ReaderPosition(epoch=2, index=6))
    with pytest.raises(ConfigError, match="epoch_size must be in 1..5"):
        ShardReader(list(range(5)), seed=0, epoch_size=6)
    with pytest.raises(DataError, match="shard is empty"):
        ShardReader([], seed=0)
    for saved in ({"epoch": 1}, {"epoch": -1, "index": 0}, {"epoch": "1", "index": 0}, None):
        with pytest.raises(DataError, match="reader position"):
            ReaderPosition.from_dict(saved)


def test_host_identity_follows_jax_only_when_imported(monkeypatch):
    monkeypatch.delitem(sys.modules, "jax", raising=False)
    assert host_identity() == (0, 1)
    fake = types.SimpleNamespace(process_index=lambda: 3, process_count=lambda: 4)
    monkeypatch.setitem(sys.modules, "jax", fake)
    assert host_identity() == (3, 4)
    assert host_identity(1, 2) == (1, 2)
    with pytest.raises(ConfigError, match="process_index must be in 0..1"):
        host_identity(2, 2)
    with pytest.raises(ConfigError, match="process_count must be at least 1"):
        host_identity(0, 0)
