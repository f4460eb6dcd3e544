"""Our GGUF reader (spft_jax.models.gguf_file) against gguf.GGUFReader: same metadata, same
tensors, on the packaged SmolLM2 file and on a file with every value type; and its errors on
truncated or corrupt files."""

import struct

import gguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType as Q
from gguf import GGUFValueType as V

from spft_jax.errors import WeightsError
from spft_jax.models.gguf_file import read_gguf


def _flat(value):
    """gguf.GGUFReader flattens nested arrays into one list."""
    if isinstance(value, list):
        return [leaf for item in value for leaf in _flat(item)]
    return [value]


def assert_same_as_gguf_reader(path, nested=()):
    ours, theirs = read_gguf(path), gguf.GGUFReader(path)
    assert ours.version == theirs.fields["GGUF.version"].contents()
    assert len(ours.tensors) == theirs.fields["GGUF.tensor_count"].contents()
    assert len(ours.metadata) == theirs.fields["GGUF.kv_count"].contents()
    assert list(ours.metadata) == [k for k in theirs.fields if not k.startswith("GGUF.")]
    for key, value in ours.metadata.items():
        field = theirs.fields[key]
        expected = field.contents()
        assert (_flat(value) if key in nested else value) == expected, key
        assert type(value) is type(expected), key
        # GGUFReader leaves out the element type of an empty array
        types = ours.value_types[key][:1] if value == [] else ours.value_types[key]
        assert list(types) == field.types, key
    assert ours.data_offset == theirs.data_offset
    assert len(ours.tensors) == len(theirs.tensors)
    for mine, reference in zip(ours.tensors, theirs.tensors):
        assert mine.name == reference.name
        assert mine.tensor_type == reference.tensor_type
        assert mine.dims == tuple(reference.shape.tolist())
        assert mine.shape == mine.dims[::-1]
        assert (mine.offset, mine.n_bytes, mine.n_elements) == (
            reference.data_offset, reference.n_bytes, reference.n_elements)
        assert isinstance(mine.data, np.memmap) and mine.data.dtype == np.uint8
        assert mine.data.tobytes() == reference.data.tobytes()
    return ours, theirs


def test_packaged_smollm2_matches_gguf_reader(smollm2_path):
    ours, _ = assert_same_as_gguf_reader(smollm2_path)
    assert len(ours.metadata["tokenizer.ggml.tokens"]) == 49152
    assert ours.metadata["tokenizer.ggml.merges"][0] == "Ġ t"


NESTED = {"test.nested_ints": [[1, 2], [3, 4, 5]], "test.nested_strings": [["a", "bé"], ["c"]]}


def _write_every_type(path, alignment=None):
    writer = gguf.GGUFWriter(str(path), "llama")
    if alignment is not None:
        writer.add_custom_alignment(alignment)
    writer.add_uint8("test.uint8", 250)
    writer.add_int8("test.int8", -100)
    writer.add_uint16("test.uint16", 65000)
    writer.add_int16("test.int16", -32000)
    writer.add_uint32("test.uint32", 4_000_000_000)
    writer.add_int32("test.int32", -2_000_000_000)
    writer.add_float32("test.float32", 0.1)
    writer.add_uint64("test.uint64", 2**63 + 5)
    writer.add_int64("test.int64", -(2**62))
    writer.add_float64("test.float64", 1 / 3)
    writer.add_bool("test.true", True)
    writer.add_bool("test.false", False)
    writer.add_string("test.string", "héllo ✓ Ġ")
    writer.add_string("test.empty_string", "")
    for kind in (V.UINT8, V.INT8, V.UINT16, V.INT16, V.UINT32, V.INT32, V.UINT64, V.INT64):
        writer.add_key_value(f"test.array_{kind.name.lower()}", [0, 1, 100], V.ARRAY, sub_type=kind)
    writer.add_key_value("test.array_float32", [0.5, -1.25, 0.1], V.ARRAY, sub_type=V.FLOAT32)
    writer.add_key_value("test.array_float64", [0.5, 1 / 3], V.ARRAY, sub_type=V.FLOAT64)
    writer.add_array("test.array_bool", [True, False, True])
    writer.add_array("test.array_string", ["a", "", "Ġthe", "日本"] * 50)
    for key, value in NESTED.items():
        writer.add_array(key, value)
    rng = np.random.default_rng(0)
    writer.add_tensor("f32", rng.standard_normal((3, 5)).astype(np.float32))
    writer.add_tensor("f16", rng.standard_normal((7,)).astype(np.float16))
    writer.add_tensor("i32", np.arange(6, dtype=np.int32).reshape(2, 3))
    for qtype in (Q.Q8_0, Q.Q4_1):
        data = gguf.quants.quantize(rng.standard_normal((4, 64)).astype(np.float32), qtype)
        writer.add_tensor(qtype.name.lower(), data, raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.mark.parametrize("alignment", [None, 64])
def test_every_value_type_matches_gguf_reader(tmp_path, alignment):
    path = _write_every_type(tmp_path / "all.gguf", alignment)
    ours, theirs = assert_same_as_gguf_reader(path, nested=NESTED)
    assert ours.alignment == (alignment or 32) and ours.data_offset % ours.alignment == 0
    for key, value in NESTED.items():  # we keep the nesting
        assert ours.metadata[key] == value
        assert ours.value_types[key] == (V.ARRAY, V.ARRAY, V.INT32 if "ints" in key else V.STRING)
    assert ours.metadata["test.string"] == "héllo ✓ Ġ"
    assert ours.metadata["test.uint64"] == 2**63 + 5
    assert ours.value_types["test.array_uint16"] == (V.ARRAY, V.UINT16)
    # The raw data goes through gguf's dequantiser unchanged.
    for mine, reference in zip(ours.tensors, theirs.tensors):
        if mine.tensor_type in (Q.F32, Q.F16, Q.Q8_0, Q.Q4_1):
            np.testing.assert_array_equal(
                gguf.quants.dequantize(mine.data, mine.tensor_type).reshape(mine.shape),
                gguf.quants.dequantize(reference.data, reference.tensor_type).reshape(mine.shape))


def _kv(key: str, kind: V, payload: bytes) -> bytes:
    return struct.pack("<Q", len(key)) + key.encode() + struct.pack("<I", kind) + payload


def test_empty_arrays(tmp_path):
    # GGUFWriter refuses empty arrays, so the file is put together by hand.
    body = (_kv("a.ints", V.ARRAY, struct.pack("<IQ", V.INT32, 0))
            + _kv("a.strings", V.ARRAY, struct.pack("<IQ", V.STRING, 0)))
    path = tmp_path / "empty.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 2) + body)
    ours, _ = assert_same_as_gguf_reader(path)
    assert ours.metadata == {"a.ints": [], "a.strings": []}
    assert ours.value_types["a.strings"] == (V.ARRAY, V.STRING)
    assert ours.tensors == []


@pytest.fixture
def small(tmp_path):
    """A valid file, its bytes and gguf.GGUFReader's view of it (to find offsets to break)."""
    path = _write_every_type(tmp_path / "small.gguf")
    return path, path.read_bytes(), gguf.GGUFReader(path)


def _expect(path, data: bytes, match: str):
    path.write_bytes(data)
    with pytest.raises(WeightsError, match=match) as info:
        read_gguf(path)
    assert str(path) in str(info.value)
    return str(info.value)


def test_truncated_files(small):
    path, data, reader = small
    strings = reader.fields["test.array_string"].offset
    info = reader.tensors[0].field.offset
    last = reader.tensors[-1]
    cases = [
        (0, r"the magic number runs past the end"),
        (10, r"the tensor count runs past the end"),
        (strings + 60, r"metadata field 'test.array_string'\[\d+\] \(of 200 strings\) runs past the end"),
        (info + 6, r"tensor info #0 \(of 5\) name runs past the end"),
        (info + 30, r"tensor info of 'f32' .* runs past the end"),
        (last.data_offset + last.n_bytes - 1, r"tensor 'q4_1' data \(bytes \d+\.\.\d+\) runs past the end"),
    ]
    for cut, match in cases:
        _expect(path, data[:cut], match)


def _patched(data: bytes, offset: int, fmt: str, value) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def _value_offset(reader, key: str) -> int:
    """Where a field's value type code is."""
    return reader.fields[key].offset + 8 + len(key)


def test_corrupt_files(small):
    path, data, reader = small
    _expect(path, b"GGUX" + data[4:], r"bad magic b'GGUX'")
    _expect(path, _patched(data, 4, "<I", 1), r"unsupported version 1; supported: 2, 3")
    _expect(path, _patched(data, 4, ">I", 3), r"unsupported version .*big-endian")
    _expect(path, _patched(data, _value_offset(reader, "test.uint8"), "<I", 99),
            r"metadata field 'test.uint8' has unknown value type 99")
    _expect(path, _patched(data, _value_offset(reader, "test.array_bool") + 4, "<I", 77),
            r"'test.array_bool' \(array element type\) has unknown value type 77")
    string_start = _value_offset(reader, "test.string") + 4 + 8
    _expect(path, _patched(data, string_start, "<B", 0xFF),
            r"metadata field 'test.string' is not valid UTF-8")
    _expect(path, _patched(data, _value_offset(reader, "test.array_string") + 4 + 4 + 8 + 8, "<B", 0xFF),
            r"'test.array_string'\[0\] is not valid UTF-8")
    # "test.true" -> "test.int8": a key that is already there
    key = reader.fields["test.true"].offset + 8
    _expect(path, data[:key] + b"test.int8" + data[key + 9:], r"metadata key 'test.int8' appears twice")
    # the tensor "i32" renamed to "f32"
    name = reader.tensors[2].field.offset + 8
    _expect(path, data[:name] + b"f" + data[name + 1:], r"tensor 'f32' appears twice")
    f32 = reader.tensors[0].field
    type_at = f32.offset + 8 + 3 + 4 + 8 * 2
    _expect(path, _patched(data, type_at, "<I", 1000), r"tensor 'f32' has unknown ggml type 1000")
    _expect(path, _patched(data, type_at + 4, "<Q", 8), r"tensor 'f32': data offset 8 is not a multiple")
    _expect(path, _patched(data, type_at + 4, "<Q", 2**40), r"tensor 'f32' data .* runs past the end")
    q8 = reader.tensors[3].field
    _expect(path, _patched(data, q8.offset + 8 + 4 + 4, "<Q", 48),
            r"tensor 'q8_0' \(Q8_0\): its row of 48 values is not a whole number of 32-value blocks")


def test_bad_alignment(tmp_path):
    path = _write_every_type(tmp_path / "a.gguf", alignment=64)
    data, reader = path.read_bytes(), gguf.GGUFReader(path)
    where = _value_offset(reader, "general.alignment")
    _expect(path, _patched(data, where + 4, "<I", 48), r"'general.alignment' is 48, not a power of two")
    _expect(path, _patched(data, where, "<I", V.INT32), r"'general.alignment' must be a uint32")
