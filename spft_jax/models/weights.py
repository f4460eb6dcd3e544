"""Loading weights into a `Decoder`: Hugging Face safetensors directories and GGUF files.

Both loaders work the same way:
1. list the file's tensors (names, shapes) without reading them, and check them against the
   tensors the config needs (`hf_names.hf_tensor_specs`): a missing, unexpected or misshapen
   tensor is a `WeightsError` naming it, raised before anything is read;
2. build the model abstractly (`nnx.eval_shape`, so no random initialisation ever runs);
3. stream the tensors one at a time from the memory-mapped file: read, transpose to our layout,
   cast to `config.param_dtype`, place on the parameter's sharding (or the default device);
4. `nnx.merge` the filled state into a ready `Decoder`.
The host therefore holds at most one tensor beyond the (mapped) file at any time.

`shardings` is a pytree of `jax.sharding.Sharding` with the model state's structure (for example
`nnx.get_named_sharding(state, mesh)` or any tree with the same paths); with a sharding, each
device receives only its slice (`jax.make_array_from_callback`), which also works across hosts.
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import struct
from collections.abc import Callable, Mapping
from typing import Any

import gguf
import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
from flax import nnx
from safetensors import SafetensorError, safe_open

from spft_jax.errors import ConfigError, WeightsError
from spft_jax.models import hf_names
from spft_jax.models.config import ModelConfig
from spft_jax.models.decoder import Decoder
from spft_jax.models.gguf_file import GGUFFile, GGUFTensor, read_gguf

SAFETENSORS_FILE = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"

# safetensors dtype names numpy (with ml_dtypes) can represent and we accept for weights.
_SAFETENSORS_DTYPES = {
    "F64": np.dtype(np.float64),
    "F32": np.dtype(np.float32),
    "F16": np.dtype(np.float16),
    "BF16": np.dtype(ml_dtypes.bfloat16),
}
GGUF_ARCHITECTURES = ("llama", "qwen2")


# --------------------------------------------------------------------------------------------
# Shared: check a tensor catalogue against the config, then fill an abstract model.


def abstract_decoder(config: ModelConfig) -> tuple[nnx.GraphDef, dict[hf_names.ParamPath, nnx.Variable]]:
    """The decoder's graph and its parameters as shape-only variables, built without running
    any initialiser."""
    graphdef, state = nnx.split(nnx.eval_shape(lambda: Decoder(config, nnx.Rngs(0))))
    return graphdef, dict(nnx.to_flat_state(state))


def _path_text(path: tuple) -> str:
    return "/".join(str(part) for part in path)


def flat_shardings(shardings: Any, param_paths) -> dict[hf_names.ParamPath, jax.sharding.Sharding]:
    """Flattens a sharding pytree shaped like the model state to {parameter path: sharding}."""
    if shardings is None:
        return {}
    leaves, _ = jax.tree_util.tree_flatten_with_path(
        shardings, is_leaf=lambda x: isinstance(x, jax.sharding.Sharding))
    flat: dict[hf_names.ParamPath, jax.sharding.Sharding] = {}
    for keypath, leaf in leaves:
        path = []
        for key in keypath:
            if isinstance(key, jax.tree_util.DictKey):
                path.append(key.key)
            elif isinstance(key, jax.tree_util.SequenceKey):
                path.append(key.idx)
            elif isinstance(key, jax.tree_util.GetAttrKey):
                path.append(key.name)
            else:
                path.append(getattr(key, "key", str(key)))
        if path and path[-1] == "value":  # the leaf of an nnx.Variable holding the sharding
            path.pop()
        if not isinstance(leaf, jax.sharding.Sharding):
            raise ConfigError(f"shardings: entry {_path_text(tuple(path))!r} is {type(leaf).__name__}, "
                              "not a jax.sharding.Sharding")
        flat[tuple(path)] = leaf
    expected = set(param_paths)
    missing = sorted(_path_text(p) for p in expected - flat.keys())
    extra = sorted(_path_text(p) for p in flat.keys() - expected)
    if missing or extra:
        raise ConfigError(
            "shardings do not match the model's parameters: "
            + "; ".join(part for part in (
                f"no sharding for {', '.join(missing[:5])}" if missing else "",
                f"sharding for unknown parameter {', '.join(extra[:5])}" if extra else "",
            ) if part))
    return flat


def check_tensor_catalog(config: ModelConfig, shapes: Mapping[str, tuple[int, ...]], source: str,
                         describe: Callable[[str], str] = repr) -> dict[str, hf_names.TensorSpec]:
    """Checks a file's tensors (Hugging Face names -> shapes) against what `config` needs.
    Returns the specs to load; raises WeightsError naming the first missing, unexpected or
    misshapen tensors."""
    specs = hf_names.hf_tensor_specs(config)
    missing = [name for name in specs if name not in shapes]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise WeightsError(f"{source}: tensor {describe(missing[0])} is missing{more}; "
                           f"missing: {', '.join(missing[:8])}")
    unexpected = [name for name in shapes
                  if name not in specs and not hf_names.is_ignorable_hf_tensor(name, config)]
    if unexpected:
        raise WeightsError(f"{source}: unexpected tensor {describe(unexpected[0])} "
                           f"(the {config.architecture} config has no such parameter); "
                           f"unexpected: {', '.join(unexpected[:8])}")
    for name, spec in specs.items():
        found = tuple(int(n) for n in shapes[name])
        if found != spec.hf_shape:
            raise WeightsError(f"{source}: tensor {describe(name)} has shape {list(found)}, "
                               f"the config needs {list(spec.hf_shape)}")
    return specs


def _place(host: np.ndarray, sharding: jax.sharding.Sharding | None) -> jax.Array:
    if sharding is None:
        return jax.device_put(host)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def fill_decoder(config: ModelConfig, specs: Mapping[str, hf_names.TensorSpec],
                 read: Callable[[str], np.ndarray], shardings: Any = None) -> Decoder:
    """Builds a Decoder from tensors returned one at a time by `read(hf_name)` (checkpoint
    layout, any float dtype)."""
    graphdef, flat = abstract_decoder(config)
    unmapped = set(flat) - {spec.path for spec in specs.values()}
    if unmapped:  # the name table and the module disagree: a bug, not a user error
        raise AssertionError(f"parameters without a checkpoint name: {sorted(map(_path_text, unmapped))}")
    placements = flat_shardings(shardings, flat.keys())
    dtype = jnp.dtype(config.param_dtype)
    for name, spec in specs.items():
        array = read(name)
        # One owned, contiguous host copy in the target layout and dtype.
        host = np.array(spec.to_param(array), dtype=dtype, order="C")
        flat[spec.path] = flat[spec.path].replace(value=_place(host, placements.get(spec.path)))
        del array, host
    return nnx.merge(graphdef, nnx.from_flat_state(list(flat.items())))


# --------------------------------------------------------------------------------------------
# Hugging Face safetensors directories.


class _SafetensorsFile:
    """One .safetensors file: validated and listed by `safe_open`, read tensor by tensor.

    `safe_open` with numpy cannot return bfloat16 (numpy has no such dtype), so tensors of that
    dtype are read straight from the memory-mapped file at the offsets the header gives and
    viewed as `ml_dtypes.bfloat16`; every other dtype goes through `get_tensor`.
    """

    def __init__(self, path: pathlib.Path, stack: contextlib.ExitStack):
        self.path = path
        try:
            self._handle = stack.enter_context(safe_open(str(path), framework="numpy"))
            self.shapes: dict[str, tuple[int, ...]] = {}
            self.dtypes: dict[str, str] = {}
            for name in self._handle.keys():
                view = self._handle.get_slice(name)
                self.shapes[name] = tuple(view.get_shape())
                self.dtypes[name] = view.get_dtype()
        except (SafetensorError, OSError) as e:
            raise WeightsError(f"{path} is truncated or corrupt: {e}") from e
        self._raw: np.memmap | None = None
        self._header: dict[str, Any] | None = None

    def _raw_bytes(self, name: str) -> np.ndarray:
        if self._raw is None:
            with open(self.path, "rb") as f:
                (header_size,) = struct.unpack("<Q", f.read(8))
                self._header = json.loads(f.read(header_size))
            self._raw = np.memmap(self.path, dtype=np.uint8, mode="r", offset=8 + header_size)
        begin, end = self._header[name]["data_offsets"]
        return self._raw[begin:end]

    def read(self, name: str) -> np.ndarray:
        dtype = self.dtypes[name]
        if dtype not in _SAFETENSORS_DTYPES:
            raise WeightsError(f"{self.path}: tensor {name!r} has dtype {dtype}; "
                               f"supported: {', '.join(_SAFETENSORS_DTYPES)}")
        try:
            if dtype == "BF16":
                return self._raw_bytes(name).view(ml_dtypes.bfloat16).reshape(self.shapes[name])
            return self._handle.get_tensor(name)
        except (SafetensorError, OSError, ValueError) as e:
            raise WeightsError(f"{self.path}: cannot read tensor {name!r}: {e}") from e


def _index_weight_map(directory: pathlib.Path) -> dict[str, str] | None:
    index_path = directory / SAFETENSORS_INDEX
    if not index_path.is_file():
        return None
    try:
        weight_map = json.loads(index_path.read_text())["weight_map"]
        if not isinstance(weight_map, dict):
            raise TypeError("'weight_map' is not an object")
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise WeightsError(f"{index_path} is not a valid safetensors index "
                           f"(needs a 'weight_map'): {e}") from e
    return weight_map


def safetensors_files(path: str | pathlib.Path) -> list[pathlib.Path]:
    """The weight files of a Hugging Face directory: the shards its index names, or the single
    model.safetensors."""
    directory = pathlib.Path(path)
    weight_map = _index_weight_map(directory)
    if weight_map is not None:
        files = []
        for name, file in weight_map.items():
            shard = directory / file
            if not shard.is_file():
                raise WeightsError(f"{directory / SAFETENSORS_INDEX}: tensor {name!r} is in shard "
                                   f"{file!r}, which does not exist in {directory}")
            if shard not in files:
                files.append(shard)
        return files
    single = directory / SAFETENSORS_FILE
    if single.is_file():
        return [single]
    others = sorted(p.name for p in directory.glob("*.bin"))
    hint = f" (found {', '.join(others)}: PyTorch .bin checkpoints are not supported)" if others else ""
    raise WeightsError(f"no {SAFETENSORS_FILE} or {SAFETENSORS_INDEX} in {directory}{hint}")


def load_safetensors_dir(path: str | pathlib.Path, config: ModelConfig | None = None,
                         shardings: Any = None) -> Decoder:
    """Loads a Hugging Face checkpoint directory (single or sharded safetensors) into a Decoder.
    `config` defaults to the directory's config.json."""
    directory = pathlib.Path(path)
    if not directory.is_dir():
        raise WeightsError(f"checkpoint directory {directory} does not exist")
    if config is None:
        config = ModelConfig.from_pretrained_dir(directory)
    with contextlib.ExitStack() as stack:
        owner: dict[str, _SafetensorsFile] = {}
        for file_path in safetensors_files(directory):
            shard = _SafetensorsFile(file_path, stack)
            for name in shard.shapes:
                if name in owner:
                    raise WeightsError(f"tensor {name!r} appears in both {owner[name].path.name} "
                                       f"and {file_path.name}")
                owner[name] = shard
        for name, file in (_index_weight_map(directory) or {}).items():
            if name not in owner or owner[name].path.name != pathlib.Path(file).name:
                raise WeightsError(f"{directory / SAFETENSORS_INDEX}: tensor {name!r} should be "
                                   f"in {file!r}, which does not contain it")
        specs = check_tensor_catalog(config, {n: s.shapes[n] for n, s in owner.items()}, str(directory))
        return fill_decoder(config, specs, lambda name: owner[name].read(name), shardings)


# --------------------------------------------------------------------------------------------
# GGUF files (llama.cpp).


def open_gguf(path: str | pathlib.Path) -> GGUFFile:
    """Opens (memory-maps) a GGUF file and parses its metadata (see gguf_file.py); a truncated
    or corrupt file is a WeightsError."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise WeightsError(f"GGUF file {path} does not exist")
    return read_gguf(path)


_MISSING = object()


def gguf_field(reader: GGUFFile, key: str, default: Any = _MISSING) -> Any:
    """A metadata value; a required key that is absent is a ConfigError naming it."""
    if key not in reader.metadata:
        if default is _MISSING:
            raise ConfigError(f"GGUF metadata has no field {key!r}")
        return default
    return reader.metadata[key]


def gguf_architecture(reader: GGUFFile) -> str:
    arch = gguf_field(reader, "general.architecture")
    if arch not in GGUF_ARCHITECTURES:
        raise ConfigError(f"GGUF metadata field 'general.architecture': {arch!r} is not supported "
                          f"(supported: {', '.join(GGUF_ARCHITECTURES)})")
    return arch


def gguf_model_config(reader: GGUFFile, **overrides) -> ModelConfig:
    """A ModelConfig from a GGUF file's metadata (llama.cpp's `<arch>.*` keys)."""
    arch = gguf_architecture(reader)
    tensor_names = {t.name for t in reader.tensors}
    if "rope_freqs.weight" in tensor_names:
        raise ConfigError("GGUF tensor 'rope_freqs.weight' bakes in Llama-3 rope scaling whose "
                          "parameters the metadata does not state; load the Hugging Face checkpoint")

    def field(name: str, default: Any = _MISSING) -> Any:
        return gguf_field(reader, f"{arch}.{name}", default)

    heads = int(field("attention.head_count"))
    hidden = int(field("embedding_length"))
    vocab = field("vocab_size", None)
    if vocab is None:
        vocab = len(gguf_field(reader, "tokenizer.ggml.tokens"))
    scaling = None
    scaling_type = field("rope.scaling.type", "none")
    if scaling_type == "linear":
        scaling = {"rope_type": "linear", "factor": _from_float32(field("rope.scaling.factor"))}
    elif scaling_type != "none":
        raise ConfigError(f"GGUF metadata field '{arch}.rope.scaling.type': {scaling_type!r} is "
                          "not supported (supported: none, linear)")
    eos = gguf_field(reader, "tokenizer.ggml.eos_token_id", None)
    sliding = field("attention.sliding_window", None)
    values = dict(
        architecture=arch,
        vocab_size=int(vocab),
        hidden_size=hidden,
        intermediate_size=int(field("feed_forward_length")),
        num_layers=int(field("block_count")),
        num_heads=heads,
        num_kv_heads=int(field("attention.head_count_kv", heads)),
        head_dim=int(field("attention.key_length", hidden // heads)),
        rope_theta=_from_float32(field("rope.freq_base", 10_000.0)),
        rope_scaling=scaling,
        rms_norm_eps=_from_float32(field("attention.layer_norm_rms_epsilon")),
        attention_bias=arch == "qwen2" or "blk.0.attn_q.bias" in tensor_names,
        sliding_window=None if sliding is None else int(sliding),
        tie_word_embeddings="output.weight" not in tensor_names,
        max_position_embeddings=int(field("context_length", 4096)),
        bos_token_id=gguf_field(reader, "tokenizer.ggml.bos_token_id", None),
        eos_token_ids=() if eos is None else (int(eos),),
    )
    values.update(overrides)
    return ModelConfig(**values)


def _from_float32(value: Any) -> float:
    """GGUF stores these floats as float32; take the shortest decimal that rounds to it
    (1e-05, not 9.999999747378752e-06), which is what the original config said."""
    return float(str(np.float32(value)))


def unpermute_gguf_rows(array: np.ndarray, heads: int) -> np.ndarray:
    """Undoes llama.cpp's Q/K row permutation.

    For the llama architecture llama.cpp's converter reorders the rows of each head from the
    "rotate half" layout of Hugging Face (first half of the head dimension, then second half)
    to interleaved pairs (row i of the first half next to row i of the second), i.e. rows
    viewed as [heads, 2, head_dim/2] become [heads, head_dim/2, 2]. This puts them back.
    """
    rows = array.shape[0]
    half = rows // heads // 2
    return array.reshape(heads, half, 2, *array.shape[1:]).swapaxes(1, 2).reshape(array.shape)


def load_gguf(path: str | pathlib.Path | GGUFFile, config: ModelConfig | None = None,
              shardings: Any = None, *, dtype: str | None = None,
              param_dtype: str | None = None) -> Decoder:
    """Loads a llama.cpp GGUF file (any quantisation gguf can dequantize) into a Decoder.

    `path` may also be a file already opened by `open_gguf` (callers that also read the
    tokenizer and the config from it parse the file once).
    `config` defaults to the one the GGUF metadata describes; `dtype`/`param_dtype` override
    its compute/storage dtypes (float32 when neither config nor override says otherwise).
    Quantised tensors are dequantized to float32 one at a time, then cast to param_dtype.
    """
    if isinstance(path, GGUFFile):
        reader, path = path, path.path
    else:
        reader = open_gguf(path)
    arch = gguf_architecture(reader)
    overrides = {k: v for k, v in (("dtype", dtype), ("param_dtype", param_dtype)) if v is not None}
    config = (gguf_model_config(reader) if config is None else config).replace(**overrides)
    tensors: dict[str, GGUFTensor] = {}
    for tensor in reader.tensors:
        hf_name = hf_names.hf_name_for_gguf(tensor.name)
        if hf_name is None:
            raise WeightsError(f"{path}: unexpected tensor {tensor.name!r} (no counterpart in the "
                               f"{config.architecture} decoder)")
        tensors[hf_name] = tensor
    specs = check_tensor_catalog(
        config, {name: t.shape for name, t in tensors.items()}, str(path),
        describe=lambda name: f"{name!r} (GGUF {hf_names.gguf_name_for_hf(name)!r})")

    def read(name: str) -> np.ndarray:
        tensor = tensors[name]
        try:
            values = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
        except (NotImplementedError, ValueError) as e:
            raise WeightsError(f"{path}: cannot dequantize tensor {tensor.name!r} "
                               f"({tensor.tensor_type.name}): {e}") from e
        values = values.reshape(specs[name].hf_shape)
        if arch == "llama":
            if ".self_attn.q_proj." in name:
                values = unpermute_gguf_rows(values, config.num_heads)
            elif ".self_attn.k_proj." in name:
                values = unpermute_gguf_rows(values, config.num_kv_heads)
        return values

    return fill_decoder(config, specs, read, shardings)

