from spft_jax import shape_buckets
from spft_jax.train import layout


def test_round_up():
    assert [shape_buckets.round_up(v, 8) for v in (0, 1, 8, 9, 16)] == [0, 8, 8, 16, 16]


def test_next_power_of_two():
    assert [shape_buckets.next_power_of_two(v) for v in (0, 1, 2, 3, 5, 64, 65)] == [
        1, 1, 2, 4, 8, 64, 128]


def test_layout_dimensions_keep_one_slot_when_empty():
    # An empty continuation or prefix still gets one multiple, so the group's arrays have a shape.
    assert layout.round_up(0, 16) == 16
    assert layout.round_up(17, 16) == 32
