"""The training step: one jitted function with explicit shardings and donated state.

    step = TrainStep(graphdef, loss=LossSpec("error_driven", lam=0.1), rule=UpdateRule(...), mesh=...)
    trainable, opt_state, metrics = step(trainable, frozen, opt_state, batch, learning_rate)

The learning rate is an input (the host evaluates the schedule), and the rule (an `UpdateRule`,
or any optax transformation giving update directions) holds everything else, so TrainSteps with
equal (graph, loss, rule, mesh) share one compiled function: the pipeline's many fine-tuning runs
compile once per padded length, not once per run.

The model travels as NNX state split in two: `trainable` (all parameters, or only the LoRA
adapters) and `frozen` (the rest; empty without LoRA). Batches are dicts of arrays with a leading
micro-batch axis [micro, batch, ...]; the step scans over the micro-batches and applies one
optimizer update with their mean gradient (gradient accumulation without extra optimizer state).

The objectives (SFT and the pairwise self-play losses) live in `spft_jax.train.objectives`, one
registered `Objective` each; `LossSpec.kind` names one, and the step calls its loss.

Batch fields (see spft_jax.train.layout for the two layouts):
- padded SFT: tokens, valid, completion_mask — [micro, B, T]; pairwise: [micro, B, 2, T]
  (chosen at 0, rejected at 1); predict_index / predict_mask [..., K]: the positions whose next
  token is a completion token (the output head runs there only);
- shared prefix: prefix_tokens / prefix_valid [micro, G, P], tokens / valid [micro, N, L],
  group [micro, N], predict_index / predict_mask [micro, N, K] (pairs: sequence 2b + side);
- pairwise, both layouts: reference_logps [micro, B, 2] (the opponent's summed completion
  log-probs, computed once beforehand without gradient) and opponent_wrong [micro, B].
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from spft_jax.parallel.distributed import batch_spec
from spft_jax.train import objectives
from spft_jax.train.logprobs import batch_logprobs
from spft_jax.train.optimizer import UpdateRule


@dataclasses.dataclass(frozen=True)
class LossSpec:
    """Which objective to train with and its settings. `kind` names an objective registered in
    `spft_jax.train.objectives` (checked here); the spec holds the name, not the objective, so it
    stays a small hashable key of the compiled step."""

    kind: str = "sft"
    lam: float = 0.1  # beta of the pairwise losses
    logprob_chunk: int = 128  # positions per output-layer chunk (see train/logprobs.py)
    # A rollout objective's settings (GRPO: clip_eps, beta, ...) as sorted (name, value) pairs,
    # so the spec stays hashable.
    options: tuple[tuple[str, object], ...] = ()

    def __post_init__(self):
        objectives.get(self.kind)  # ValueError naming the registered objectives
        if isinstance(self.options, dict):
            object.__setattr__(self, "options", tuple(sorted(self.options.items())))

    @property
    def objective(self) -> objectives.Objective:
        return objectives.get(self.kind)

    @property
    def pairwise(self) -> bool:
        return self.objective.pairwise


def micro_batch_loss(model, batch: Mapping[str, jax.Array], spec: LossSpec):
    """(loss, metrics) of one micro-batch under `model`, in either layout of
    `spft_jax.train.layout` (the same loss: only which positions are computed differs), by the
    loss of the objective `spec.kind` names in `spft_jax.train.objectives`."""
    objective = spec.objective
    per_token, mask = batch_logprobs(model, batch, spec.logprob_chunk)
    if objective.rollout:
        return objective.loss(per_token, mask, batch, dict(spec.options))
    if not objective.pairwise:
        return objective.loss(per_token, mask)
    sequence = per_token.sum(axis=1).reshape(-1, 2)
    reference = batch["reference_logps"]
    return objective.loss(sequence[:, 0], sequence[:, 1], reference[:, 0], reference[:, 1],
                          batch["opponent_wrong"], spec.lam)


_COMPILED: dict[tuple, object] = {}  # (graphdef, loss, rule key, mesh, shardings) -> jitted step


class TrainStep:
    """A compiled training step for one model structure, loss and update rule."""

    def __init__(self, graphdef, loss: LossSpec,
                 rule: UpdateRule | optax.GradientTransformation, mesh: Mesh | None = None):
        self.graphdef = graphdef
        self.loss = loss
        self.rule = rule
        self.transformation = rule.transformation() if isinstance(rule, UpdateRule) else rule
        self.mesh = mesh
        self._compiled = None  # the function of the last batch layout seen
        self._by_layout: dict[tuple, object] = {}  # batch layout -> compiled step

    def _step(self, trainable, frozen, opt_state, batch, learning_rate):
        def loss_fn(params, micro):
            model = nnx.merge(self.graphdef, params, frozen)
            return micro_batch_loss(model, micro, self.loss)

        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

        def accumulate(grads_sum, micro):
            (_, metrics), grads = grad_fn(trainable, micro)
            return jax.tree.map(jnp.add, grads_sum, grads), metrics

        zeros = jax.tree.map(jnp.zeros_like, trainable)
        grads, metrics = jax.lax.scan(accumulate, zeros, batch)
        micro = jax.tree.leaves(batch)[0].shape[0]
        grads = jax.tree.map(lambda g: g / micro, grads)
        directions, opt_state = self.transformation.update(grads, opt_state, trainable)
        updates = jax.tree.map(lambda d: (-learning_rate * d).astype(d.dtype), directions)
        trainable = optax.apply_updates(trainable, updates)
        metrics = jax.tree.map(jnp.mean, metrics)
        metrics["grad_norm"] = optax.tree.norm(grads)
        return trainable, opt_state, metrics

    def _compile(self, trainable, frozen, opt_state, batch):
        if self.mesh is None:
            return jax.jit(self._step, donate_argnums=(0, 2))
        shardings = lambda tree: jax.tree.map(lambda x: x.sharding, tree)  # noqa: E731
        batch_shardings = {k: batch_spec(self.mesh, v.ndim) for k, v in batch.items()}
        replicated = NamedSharding(self.mesh, PartitionSpec())
        return jax.jit(
            self._step,
            in_shardings=(shardings(trainable), shardings(frozen), shardings(opt_state),
                          batch_shardings, replicated),
            out_shardings=(shardings(trainable), shardings(opt_state), replicated),
            donate_argnums=(0, 2),
        )

    def _key(self, trainable, frozen, opt_state, layout: tuple) -> tuple:
        rule = self.rule if isinstance(self.rule, UpdateRule) else id(self.rule)
        placement = None
        if self.mesh is not None:
            placement = tuple(x.sharding for x in jax.tree.leaves((trainable, frozen, opt_state)))
        return (self.graphdef, self.loss, rule, self.mesh, placement, layout)

    def __call__(self, trainable, frozen, opt_state, batch, learning_rate):
        # The batch's fields and ranks (its layout) fix the function's input shardings; the
        # full key (with every parameter's placement) is built once per layout, not per step.
        layout = tuple(sorted((k, v.ndim) for k, v in batch.items()))
        if layout not in self._by_layout:
            key = self._key(trainable, frozen, opt_state, layout)
            if key not in _COMPILED:
                # The step object is kept with its function (a raw transformation's id is only
                # unique while it lives).
                _COMPILED[key] = (self._compile(trainable, frozen, opt_state, batch), self)
            self._by_layout[layout] = _COMPILED[key][0]
        self._compiled = self._by_layout[layout]
        if self.mesh is not None:
            batch = {k: jax.device_put(v, batch_spec(self.mesh, v.ndim)) for k, v in batch.items()}
        learning_rate = jnp.asarray(learning_rate, jnp.float32)
        return self._compiled(trainable, frozen, opt_state, batch, learning_rate)


def split_trainable(model: nnx.Module, lora: bool = False):
    """(graphdef, trainable, frozen): with LoRA only the adapters train, else every parameter."""
    if lora:
        return nnx.split(model, nnx.LoRAParam, ...)
    return nnx.split(model, nnx.Param, ...)


def init_optimizer_state(rule: UpdateRule | optax.GradientTransformation, trainable,
                         mesh: Mesh | None = None):
    """Optimizer state placed like the parameters it mirrors (the moments take their shardings
    by propagation); on a mesh, what mirrors no parameter (step counts) is replicated over it."""
    optimizer = rule.transformation() if isinstance(rule, UpdateRule) else rule
    state = jax.jit(optimizer.init)(trainable)
    if mesh is None:
        return state
    replicated = NamedSharding(mesh, PartitionSpec())

    def place(x):
        sharding = getattr(x, "sharding", None)
        on_mesh = isinstance(sharding, NamedSharding) and sharding.mesh.devices.size == mesh.devices.size
        return x if on_mesh else jax.device_put(x, replicated)

    return jax.tree.map(place, state)
