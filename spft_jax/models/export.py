"""Exporting a Decoder as a Hugging Face checkpoint directory.

`export_hf(model, config, tokenizer, out_dir)` writes what `transformers` needs to load the model
(`AutoModelForCausalLM.from_pretrained(out_dir)`, `AutoTokenizer.from_pretrained(out_dir)`):
config.json, generation_config.json, the weights as safetensors under Hugging Face names in
[out, in] layout (tied embeddings written once, as `model.embed_tokens.weight`), and the
tokenizer files.

The safetensors file is written by hand rather than with `safetensors.numpy.save_file`, which
needs every tensor in host memory at once: the header only needs shapes and dtypes, which the
model knows without gathering anything, so each parameter is gathered (`jax.device_get`, or an
all-gather across hosts when it is not fully addressable), converted and written in turn.
Checkpoints larger than `max_shard_bytes` are split into numbered shards with an index, as
`transformers` writes them.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import jax
import numpy as np
from flax import nnx
from jax.experimental import multihost_utils

from spft_jax.errors import WeightsError
from spft_jax.models import hf_names
from spft_jax.models.config import ModelConfig
from spft_jax.models.decoder import Decoder
from spft_jax.parallel import coordination

_SAFETENSORS_DTYPE_NAMES = {"float64": "F64", "float32": "F32", "float16": "F16", "bfloat16": "BF16"}
DEFAULT_MAX_SHARD_BYTES = 5 * 2**30


def _gather(value: jax.Array) -> np.ndarray:
    if isinstance(value, jax.Array) and not value.is_fully_addressable:
        return np.asarray(multihost_utils.process_allgather(value, tiled=True))
    return np.asarray(jax.device_get(value))


def _write_safetensors(path: pathlib.Path, entries: list[tuple[str, hf_names.TensorSpec, jax.Array]],
                       write: bool) -> None:
    """Writes one safetensors file, gathering and converting one tensor at a time. Every
    process must call this (gathers across hosts are collective); only `write` ones write."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, spec, value in entries:
        dtype_name = _SAFETENSORS_DTYPE_NAMES.get(np.dtype(value.dtype).name)
        if dtype_name is None:
            raise WeightsError(f"parameter {name!r} has dtype {value.dtype}, which cannot be exported")
        size = int(np.prod(spec.hf_shape)) * np.dtype(value.dtype).itemsize
        header[name] = {"dtype": dtype_name, "shape": list(spec.hf_shape),
                        "data_offsets": [offset, offset + size]}
        offset += size
    header_bytes = json.dumps(header, separators=(",", ":")).encode()
    header_bytes += b" " * (-len(header_bytes) % 8)  # data starts 8-byte aligned
    handle = open(path, "wb") if write else None
    try:
        if handle is not None:
            handle.write(len(header_bytes).to_bytes(8, "little"))
            handle.write(header_bytes)
        for name, spec, value in entries:
            host = np.ascontiguousarray(spec.to_hf(_gather(value)))
            if handle is not None:
                handle.write(host.tobytes())
            del host
    finally:
        if handle is not None:
            handle.close()


def _eos_ids(config: ModelConfig, tokenizer) -> list[int]:
    ids = list(config.eos_token_ids)
    for token_id in getattr(tokenizer, "eos_ids", ()) if tokenizer is not None else ():
        if token_id not in ids:
            ids.append(token_id)
    return ids


def export_hf(model: Decoder, config: ModelConfig, tokenizer, out_dir: str | pathlib.Path, *,
              max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES) -> pathlib.Path:
    """Writes `model` as a Hugging Face checkpoint directory and returns its path.

    `tokenizer` is our `Tokenizer` (or anything with `save_pretrained`), or None to write the
    weights and configs only. With several processes, all must call this; process 0 writes.
    """
    out = pathlib.Path(out_dir)
    write = coordination.is_writer()
    if write:
        out.mkdir(parents=True, exist_ok=True)
    specs = hf_names.hf_tensor_specs(config)
    params = dict(nnx.to_flat_state(nnx.state(model, nnx.Param)))
    by_path = {spec.path: spec for spec in specs.values()}
    unknown = sorted("/".join(map(str, path)) for path in params if path not in by_path)
    if unknown:
        raise WeightsError(f"parameter {unknown[0]!r} has no Hugging Face name (merge adapters "
                           f"before exporting); unnamed: {', '.join(unknown[:8])}")
    entries = []
    for name, spec in specs.items():
        if spec.path not in params:
            raise WeightsError(f"the model has no parameter for {name!r} "
                               f"(is it built from this config?)")
        value = params[spec.path].get_value()
        if tuple(value.shape) != spec.param_shape:
            raise WeightsError(f"parameter {name!r} has shape {list(value.shape)}, the config "
                               f"needs {list(spec.param_shape)}")
        entries.append((name, spec, value))

    shards: list[list] = [[]]
    shard_bytes = 0
    for entry in entries:
        size = entry[2].size * np.dtype(entry[2].dtype).itemsize
        if shards[-1] and shard_bytes + size > max_shard_bytes:
            shards.append([])
            shard_bytes = 0
        shards[-1].append(entry)
        shard_bytes += size
    if len(shards) == 1:
        file_names = ["model.safetensors"]
    else:
        file_names = [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]
    for file_name, shard in zip(file_names, shards):
        _write_safetensors(out / file_name, shard, write)

    if not write:
        return out
    for stale in ["model.safetensors", "model.safetensors.index.json",
                  *(p.name for p in out.glob("model-*-of-*.safetensors"))]:
        if stale not in file_names and (out / stale).exists():
            (out / stale).unlink()  # left by an earlier export with another shard count
    if len(shards) > 1:
        index = {
            "metadata": {"total_size": sum(e[2].size * np.dtype(e[2].dtype).itemsize for e in entries)},
            "weight_map": {name: file_name for file_name, shard in zip(file_names, shards)
                           for name, _, _ in shard},
        }
        (out / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))

    hf_config = config.to_hf_config()
    bos = config.bos_token_id if config.bos_token_id is not None else getattr(tokenizer, "bos_id", None)
    eos = _eos_ids(config, tokenizer)
    pad = getattr(tokenizer, "pad_id", None) if tokenizer is not None else None
    generation = {}
    if bos is not None:
        hf_config["bos_token_id"] = generation["bos_token_id"] = bos
    if eos:
        hf_config["eos_token_id"] = generation["eos_token_id"] = eos[0] if len(eos) == 1 else eos
    if pad is not None:
        hf_config["pad_token_id"] = generation["pad_token_id"] = pad
    (out / "config.json").write_text(json.dumps(hf_config, indent=2))
    (out / "generation_config.json").write_text(json.dumps(generation, indent=2))
    if tokenizer is not None:
        tokenizer.save_pretrained(out)
    return out
