"""The base LLM, loaded once, and every model the pipeline derives from it.

A derived model (SFT, each stage-1 round, each self-play iteration, the SQL-to-Text model) is
its *trainable state*: the LoRA adapters when `lora.rank > 0` (the paper fine-tunes with LoRA),
else every weight. The frozen rest is the base model's, shared by all of them, so the model base
costs adapters' worth of memory and disk per member. The base model itself is the trainable
state `initial` (fresh adapters, B = 0: exactly the base LLM), which keeps one graph, one set
of compiled functions, for every model.

Training donates its input buffers, so `model(...)` always hands out copies of a trainable
state: a stored state is never consumed by a run that starts from it.
"""

from __future__ import annotations

import logging
import pathlib

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp
from flax import nnx
from jax.sharding import Mesh

from spft_jax.errors import WeightsError
from spft_jax.models.config import ModelConfig
from spft_jax.models.decoder import Decoder
from spft_jax.models.loading import load_model, model_config_and_tokenizer
from spft_jax.models.lora import add_lora, merge_lora
from spft_jax.parallel.coordination import is_writer
from spft_jax.parallel.distributed import barrier, create_sharded_model
from spft_jax.parallel.rules import shard_model, state_shardings
from spft_jax.pipeline.run_config import RunConfig
from spft_jax.train.step import split_trainable

log = logging.getLogger(__name__)

WEIGHTS_DIR = "weights"


def _abstract_shardings(config: ModelConfig, mesh: Mesh):
    state = nnx.state(nnx.eval_shape(lambda: Decoder(config, nnx.Rngs(0))))
    return state_shardings(state, mesh)


class ModelFactory:
    """Builds models as (shared graph and frozen weights) + a trainable state."""

    def __init__(self, config: RunConfig, mesh: Mesh | None = None):
        model_cfg = config.model
        dtypes = dict(dtype=model_cfg.dtype, param_dtype=model_cfg.param_dtype, remat=model_cfg.remat)
        if model_cfg.random_init:
            arch, self.tokenizer = model_config_and_tokenizer(model_cfg.name, **dtypes)
            arch = arch.replace(**model_cfg.overrides)
            build = lambda: Decoder(arch, nnx.Rngs(config.seed))  # noqa: E731
            # One compiled initialiser for every parameter (and each created on its shards).
            model = build() if mesh is None else create_sharded_model(build, mesh)
        else:
            arch, self.tokenizer = model_config_and_tokenizer(model_cfg.name, **dtypes)
            shardings = None if mesh is None else _abstract_shardings(arch, mesh)
            model, arch, self.tokenizer = load_model(model_cfg.name, shardings=shardings, **dtypes)
        self.model_config: ModelConfig = arch
        self.lora = config.lora.rank > 0
        if self.lora:
            add_lora(model, config.lora.rank, config.lora.alpha, nnx.Rngs(config.seed + 1),
                     tuple(config.lora.targets))
        if mesh is not None:
            shard_model(model, mesh)  # places the adapters (the base weights already are)
        self.mesh = mesh
        self.graphdef, self.initial, self.frozen = split_trainable(model, lora=self.lora)
        self._checkpointer = ocp.StandardCheckpointer()
        trainable = sum(x.size for x in jax.tree.leaves(self.initial))
        log.info("model %s: %.1fM parameters, %.2fM trainable (%s)", model_cfg.name,
                 arch.num_params / 1e6, trainable / 1e6, "LoRA" if self.lora else "full")

    @property
    def eos_ids(self) -> tuple[int, ...]:
        return self.model_config.eos_token_ids

    def copy(self, trainable: nnx.State) -> nnx.State:
        return jax.tree.map(jnp.copy, trainable)

    def model(self, trainable: nnx.State | None = None) -> Decoder:
        """A model with `trainable` (default: the base model's) over the shared frozen weights;
        its trainable arrays are copies, free to be donated by training."""
        state = self.copy(self.initial if trainable is None else trainable)
        return nnx.merge(self.graphdef, state, self.frozen)

    def view(self, trainable: nnx.State | None = None) -> Decoder:
        """Like `model` but sharing `trainable`'s arrays: for inference only (nothing donated)."""
        return nnx.merge(self.graphdef, self.initial if trainable is None else trainable, self.frozen)

    def merged(self, trainable: nnx.State | None = None) -> Decoder:
        """A plain model (adapters folded into the kernels), for export."""
        model = self.model(trainable)
        if self.lora:
            merge_lora(model)
        return model

    # -- storage -------------------------------------------------------------------------------
    def save(self, trainable: nnx.State, directory: str | pathlib.Path) -> None:
        """Writes the trainable state under `directory/weights` (complete once this returns)."""
        path = pathlib.Path(directory).absolute() / WEIGHTS_DIR
        if path.exists() and is_writer():  # a save cut short before its metadata
            import shutil

            shutil.rmtree(path)
        barrier("spft_jax weights save")
        self._checkpointer.save(path, {"trainable": trainable})  # every process writes its shards
        self._checkpointer.wait_until_finished()
        barrier("spft_jax weights saved")

    def load(self, directory: str | pathlib.Path) -> nnx.State:
        """The trainable state saved in `directory`, placed like the current one."""
        path = pathlib.Path(directory).absolute() / WEIGHTS_DIR
        if not path.is_dir():
            raise WeightsError(f"no saved weights in {directory}")
        target = jax.tree.map(
            lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), self.initial)
        try:
            restored = self._checkpointer.restore(path, {"trainable": target})
        except (ValueError, KeyError, FileNotFoundError, OSError) as e:
            raise WeightsError(f"weights in {path} do not fit this model (another model or LoRA "
                               f"setting wrote them?): {e}") from e
        return restored["trainable"]
