"""A small, fast reader of GGUF files (llama.cpp's single-file model format).

Why not `gguf.GGUFReader`: it builds one numpy view per value, so a file whose metadata holds a
49k-token vocabulary and 48k merges takes seconds just to open, and every process that loads
the packaged model paid that. Here the file is memory-mapped once and the header, the
key/value metadata and the tensor infos are walked with `struct` at byte offsets (numeric
arrays in one `np.frombuffer`), which takes tens of milliseconds. Tensor data is not read:
each tensor's `data` is a uint8 slice of the memory map, of exactly its byte length and shaped
as rows of bytes, which `gguf.quants.dequantize` (still the dequantiser) accepts as is.

Layout (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md, little-endian, versions 2
and 3): magic "GGUF", uint32 version, uint64 tensor count, uint64 key/value count; the
key/values (string key, uint32 value type, value; strings are a uint64 byte length then UTF-8
bytes; arrays are a uint32 element type, a uint64 length, then the elements, possibly arrays
themselves); the tensor infos (string name, uint32 number of dimensions, that many uint64
dimensions innermost first, uint32 ggml type, uint64 offset into the data section); then, at
the next multiple of `general.alignment` (default 32), the data section.

Anything truncated or inconsistent is a `WeightsError` that names the path and what is wrong.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
import struct
from typing import Any

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFValueType

from spft_jax.errors import WeightsError

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32

# Fixed-size value types: struct format (little-endian) and numpy dtype for bulk arrays.
_SCALARS: dict[int, tuple[str, np.dtype]] = {
    GGUFValueType.UINT8: ("<B", np.dtype("<u1")),
    GGUFValueType.INT8: ("<b", np.dtype("<i1")),
    GGUFValueType.UINT16: ("<H", np.dtype("<u2")),
    GGUFValueType.INT16: ("<h", np.dtype("<i2")),
    GGUFValueType.UINT32: ("<I", np.dtype("<u4")),
    GGUFValueType.INT32: ("<i", np.dtype("<i4")),
    GGUFValueType.FLOAT32: ("<f", np.dtype("<f4")),
    GGUFValueType.BOOL: ("<?", np.dtype("<u1")),
    GGUFValueType.UINT64: ("<Q", np.dtype("<u8")),
    GGUFValueType.INT64: ("<q", np.dtype("<i8")),
    GGUFValueType.FLOAT64: ("<d", np.dtype("<f8")),
}
_U32, _U64 = struct.Struct("<I"), struct.Struct("<Q")


@dataclasses.dataclass(frozen=True)
class GGUFTensor:
    """One tensor's info and its bytes (not copied: a slice of the file's memory map)."""

    name: str
    dims: tuple[int, ...]  # as stored: innermost (fastest-varying) dimension first
    tensor_type: GGMLQuantizationType
    offset: int  # of the first data byte, from the start of the file
    # uint8, exactly n_bytes long, shaped [*shape[:-1], bytes per row]
    data: np.memmap = dataclasses.field(repr=False)

    @property
    def shape(self) -> tuple[int, ...]:
        """numpy / Hugging Face order: outermost dimension first."""
        return self.dims[::-1]

    @property
    def n_elements(self) -> int:
        return math.prod(self.dims)

    @property
    def n_bytes(self) -> int:
        return int(self.data.nbytes)


@dataclasses.dataclass(frozen=True)
class GGUFFile:
    """A parsed GGUF file: metadata values as Python objects (int, float, bool, str, lists;
    nested arrays as nested lists), their value types, and the tensors in file order."""

    path: pathlib.Path
    version: int
    metadata: dict[str, Any]
    # (ARRAY, ..., element type) for arrays, (type,) for scalars
    value_types: dict[str, tuple[GGUFValueType, ...]]
    tensors: list[GGUFTensor]
    alignment: int
    data_offset: int  # where the data section starts


class _Parser:
    """Walks the bytes before the data section; every read is bounds-checked."""

    def __init__(self, path: pathlib.Path, buffer: memoryview):
        self.path, self.buf, self.size, self.pos = path, buffer, len(buffer), 0

    def fail(self, detail: str) -> WeightsError:
        return WeightsError(f"{self.path} is not a readable GGUF file: {detail}")

    def need(self, n: int, what: str) -> None:
        if self.pos + n > self.size:
            raise self.fail(f"{what} runs past the end of the file (needs bytes {self.pos}.."
                            f"{self.pos + n}, the file has {self.size}): truncated?")

    def u32(self, what: str) -> int:
        self.need(4, what)
        (value,) = _U32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return value

    def u64(self, what: str) -> int:
        self.need(8, what)
        (value,) = _U64.unpack_from(self.buf, self.pos)
        self.pos += 8
        return value

    def string(self, what: str) -> str:
        length = self.u64(what)
        self.need(length, what)
        start, self.pos = self.pos, self.pos + length
        try:
            return str(self.buf[start:self.pos], "utf-8")
        except UnicodeDecodeError as e:
            raise self.fail(f"{what} is not valid UTF-8 ({e.reason} at byte {start + e.start})") from None

    def value_type(self, what: str) -> GGUFValueType:
        code = self.u32(what)
        try:
            return GGUFValueType(code)
        except ValueError:
            raise self.fail(f"{what} has unknown value type {code}") from None

    def value(self, kind: GGUFValueType, what: str) -> tuple[Any, tuple[GGUFValueType, ...]]:
        """A value of type `kind` and its type chain."""
        scalar = _SCALARS.get(kind)
        if scalar is not None:
            fmt, dtype = scalar
            self.need(dtype.itemsize, what)
            (value,) = struct.unpack_from(fmt, self.buf, self.pos)
            self.pos += dtype.itemsize
            return value, (kind,)
        if kind == GGUFValueType.STRING:
            return self.string(what), (kind,)
        item_kind = self.value_type(f"{what} (array element type)")
        count = self.u64(f"{what} (array length)")
        values, item_types = self.array(item_kind, count, what)
        return values, (kind, *item_types)

    def array(self, kind: GGUFValueType, count: int, what: str
              ) -> tuple[list, tuple[GGUFValueType, ...]]:
        """`count` elements of type `kind`, and the element type chain."""
        scalar = _SCALARS.get(kind)
        if scalar is not None:  # one bulk read
            dtype = scalar[1]
            self.need(count * dtype.itemsize, f"{what} ({count} {kind.name} values)")
            values = np.frombuffer(self.buf, dtype, count, self.pos) if count else np.zeros(0, dtype)
            self.pos += count * dtype.itemsize
            return (values != 0).tolist() if kind == GGUFValueType.BOOL else values.tolist(), (kind,)
        if kind == GGUFValueType.STRING:
            return self.strings(count, what), (kind,)
        # Arrays of arrays: each element states its own element type; the chain is the first's.
        items = [self.value(kind, f"{what}[{i}]") for i in range(count)]
        return [value for value, _ in items], items[0][1] if items else (kind,)

    def strings(self, count: int, what: str) -> list[str]:
        # The hot loop (vocabularies, merges): locals only, checks inline.
        buf, size, pos, unpack = self.buf, self.size, self.pos, _U64.unpack_from
        out: list[str] = []
        append = out.append
        try:
            for _ in range(count):
                if pos + 8 > size:
                    break
                (length,) = unpack(buf, pos)
                pos += 8
                end = pos + length
                if end > size:
                    break
                append(str(buf[pos:end], "utf-8"))
                pos = end
        except UnicodeDecodeError as e:
            self.pos = pos
            raise self.fail(f"{what}[{len(out)}] is not valid UTF-8 ({e.reason})") from None
        self.pos = pos
        if len(out) < count:  # let the checked path say exactly where it ran out
            self.string(f"{what}[{len(out)}] (of {count} strings)")
        return out


def read_gguf(path: str | pathlib.Path) -> GGUFFile:
    """Parses a GGUF file's header, metadata and tensor infos; tensor data stays mapped."""
    path = pathlib.Path(path)
    try:
        size = path.stat().st_size
        mapped = np.memmap(path, dtype=np.uint8, mode="r") if size else np.zeros(0, np.uint8)
    except (OSError, ValueError) as e:
        raise WeightsError(f"{path} is not a readable GGUF file: {e}") from e
    p = _Parser(path, memoryview(mapped))

    p.need(4, "the magic number")
    magic = bytes(p.buf[:4])
    if magic != MAGIC:
        raise p.fail(f"bad magic {magic!r} (a GGUF file starts with {MAGIC!r})")
    p.pos = 4
    version = p.u32("the version")
    if version not in SUPPORTED_VERSIONS:
        hint = " (big-endian files are not supported)" if version & 0xFFFF == 0 else ""
        raise p.fail(f"unsupported version {version}{hint}; supported: "
                     f"{', '.join(map(str, SUPPORTED_VERSIONS))}")
    tensor_count = p.u64("the tensor count")
    kv_count = p.u64("the metadata key/value count")

    metadata: dict[str, Any] = {}
    types: dict[str, tuple[GGUFValueType, ...]] = {}
    for index in range(kv_count):
        key = p.string(f"metadata key #{index} (of {kv_count})")
        if key in metadata:
            raise p.fail(f"metadata key {key!r} appears twice")
        kind = p.value_type(f"metadata field {key!r}")
        metadata[key], types[key] = p.value(kind, f"metadata field {key!r}")

    infos = []
    for index in range(tensor_count):
        name = p.string(f"tensor info #{index} (of {tensor_count}) name")
        what = f"tensor info of {name!r}"
        n_dims = p.u32(f"{what} (number of dimensions)")
        p.need(8 * n_dims, f"{what} ({n_dims} dimensions)")
        dims = struct.unpack_from(f"<{n_dims}Q", p.buf, p.pos)
        p.pos += 8 * n_dims
        code = p.u32(f"{what} (ggml type)")
        offset = p.u64(f"{what} (data offset)")
        infos.append((name, dims, code, offset))

    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if "general.alignment" in metadata and types["general.alignment"] != (GGUFValueType.UINT32,):
        raise p.fail("metadata field 'general.alignment' must be a uint32")
    if alignment <= 0 or alignment & (alignment - 1):
        raise p.fail(f"metadata field 'general.alignment' is {alignment}, not a power of two")
    data_offset = -(-p.pos // alignment) * alignment

    tensors: list[GGUFTensor] = []
    seen: set[str] = set()
    for name, dims, code, offset in infos:
        if name in seen:
            raise p.fail(f"tensor {name!r} appears twice")
        seen.add(name)
        try:
            tensor_type = GGMLQuantizationType(code)
            block, type_size = GGML_QUANT_SIZES[tensor_type]
        except (ValueError, KeyError):
            raise p.fail(f"tensor {name!r} has unknown ggml type {code}") from None
        if dims and dims[0] % block:
            raise p.fail(f"tensor {name!r} ({tensor_type.name}): its row of {dims[0]} values is "
                         f"not a whole number of {block}-value blocks")
        if offset % alignment:
            raise p.fail(f"tensor {name!r}: data offset {offset} is not a multiple of the "
                         f"alignment {alignment}")
        n_elements = math.prod(dims)
        n_bytes = n_elements // block * type_size
        start = data_offset + offset
        if start + n_bytes > size:
            raise p.fail(f"tensor {name!r} data (bytes {start}..{start + n_bytes}) runs past the "
                         f"end of the file ({size} bytes): truncated?")
        data = mapped[start:start + n_bytes]
        if dims:  # rows of bytes, the layout gguf.quants.dequantize works on
            data = data.reshape(*dims[:0:-1], dims[0] // block * type_size)
        tensors.append(GGUFTensor(name, dims, tensor_type, start, data))

    return GGUFFile(path=path, version=version, metadata=metadata, value_types=types,
                    tensors=tensors, alignment=alignment, data_offset=data_offset)
