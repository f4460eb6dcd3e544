"""The objective registry (spft_jax/train/objectives.py): each registered loss against its
formula in numpy with every metric, what each objective declares about references and pairs, that
a new objective is one registration away from training, and that no code outside the registry
tells objectives apart by comparing their names.

The two-pair values by hand live in test_losses.py (through `pairwise_loss`, a wrapper over the
registry); here the registry's losses are called directly on random batches."""

import ast
import pathlib

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import spft_jax
from spft_jax.models.config import ModelConfig
from spft_jax.models.decoder import Decoder
from spft_jax.train import objectives
from spft_jax.train.logprobs import completion_logprobs
from spft_jax.train.losses import implicit_rewards, pairwise_loss, pairwise_metrics, sft_loss
from spft_jax.train.optimizer import UpdateRule
from spft_jax.train.step import LossSpec, TrainStep, init_optimizer_state, micro_batch_loss, split_trainable

BUILT_IN_PAIRWISE = ("spin", "error_driven", "exspin", "error_driven_positive", "dpo")
TRL_METRICS = {"loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies",
               "rewards/margins", "logps/chosen", "logps/rejected", "pairs/opponent_wrong"}


def l(t):  # log(1 + e^-t)
    return np.logaddexp(0.0, -t)


# The formulas of the module docstring, per pair, in numpy; c, j = chosen and rejected rewards.
FORMULAS = {
    "spin": lambda c, j, r: l(c - j).mean(),
    "dpo": lambda c, j, r: l(c - j).mean(),
    "error_driven": lambda c, j, r: l(c - r * j).mean(),
    "exspin": lambda c, j, r: (r * l(c - j)).sum() / max(r.sum(), 1.0),
    "error_driven_positive": lambda c, j, r: (r * l(c - j)
                                              + (1 - r) * 0.5 * (l(c) + l(j))).mean(),
}


def random_pairs(seed, pairs=7):
    rng = np.random.default_rng(seed)
    pc, pr, rc, rr = (-rng.uniform(1, 20, pairs).astype(np.float32) for _ in range(4))
    r = (rng.uniform(size=pairs) < 0.5).astype(np.float32)
    r[0], r[1] = 1.0, 0.0  # both kinds of pair every time
    return pc, pr, rc, rr, r


def test_the_built_in_objectives_are_registered():
    assert set(BUILT_IN_PAIRWISE) <= set(objectives.pairwise_names())
    assert "sft" in objectives.names() and "sft" not in objectives.pairwise_names()
    assert set(FORMULAS) == set(BUILT_IN_PAIRWISE)


@pytest.mark.parametrize("name", BUILT_IN_PAIRWISE)
@pytest.mark.parametrize("seed", [0, 1])
def test_each_registered_loss_is_its_formula_with_trl_metrics(name, seed):
    pc, pr, rc, rr, r = random_pairs(seed)
    lam = 0.3
    loss, metrics = objectives.get(name).loss(*map(jnp.asarray, (pc, pr, rc, rr, r)), lam)
    c, j = lam * (pc - rc), lam * (pr - rr)
    assert float(loss) == pytest.approx(FORMULAS[name](c, j, r), rel=1e-5)
    assert set(metrics) == TRL_METRICS
    expected = {"loss": float(loss), "rewards/chosen": c.mean(), "rewards/rejected": j.mean(),
                "rewards/accuracies": (c > j).mean(), "rewards/margins": (c - j).mean(),
                "logps/chosen": pc.mean(), "logps/rejected": pr.mean(),
                "pairs/opponent_wrong": r.mean()}
    for key, value in expected.items():
        assert float(metrics[key]) == pytest.approx(float(value), rel=1e-5, abs=1e-6), key
    wrapped, _ = pairwise_loss(name, *map(jnp.asarray, (pc, pr, rc, rr, r)), lam)
    assert float(wrapped) == float(loss)


def test_sft_is_the_non_pairwise_objective():
    sft = objectives.get("sft")
    assert sft.loss is sft_loss and not sft.pairwise
    assert not LossSpec("sft").pairwise and LossSpec("spin").pairwise


def test_what_each_objective_declares():
    dpo = objectives.get("dpo")
    assert dpo.reference == "main" and dpo.only_wrong_opponent  # frozen main, preference pairs
    exspin = objectives.get("exspin")
    assert exspin.needs_wrong_opponent and not exspin.only_wrong_opponent
    for name in ("spin", "error_driven", "error_driven_positive", "exspin"):
        assert objectives.get(name).reference == "opponent"
    for name in ("spin", "error_driven", "error_driven_positive"):
        objective = objectives.get(name)
        assert not objective.only_wrong_opponent and not objective.needs_wrong_opponent


def test_unknown_names_and_bad_registrations():
    with pytest.raises(ValueError, match=r"unknown objective 'ppo'; expected one of \(.*'spin'"):
        objectives.get("ppo")
    with pytest.raises(ValueError, match="unknown objective 'ppo'"):
        LossSpec("ppo")
    with pytest.raises(ValueError, match="already registered"):
        objectives.register(objectives.Objective("spin", objectives.spin_loss))
    with pytest.raises(ValueError, match="reference must be one of"):
        objectives.Objective("x", objectives.spin_loss, reference="teacher")
    with pytest.raises(ValueError, match="only pairwise objectives select pairs"):
        objectives.Objective("x", sft_loss, pairwise=False, needs_wrong_opponent=True)


def test_loss_spec_is_a_hashable_key():
    assert hash(LossSpec("dpo", lam=0.5)) == hash(LossSpec("dpo", lam=0.5))
    assert LossSpec("dpo", lam=0.5) != LossSpec("spin", lam=0.5)
    assert LossSpec("dpo").objective is objectives.get("dpo")


# -- a new objective is one registration ----------------------------------------------------------

NEW = "_test_hinge_objective"


def hinge_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected,
               opponent_wrong, lam):
    chosen, rejected = implicit_rewards(policy_chosen, policy_rejected, reference_chosen,
                                        reference_rejected, lam)
    loss = jnp.maximum(0.0, 1.0 - (chosen - rejected)).mean()
    metrics = pairwise_metrics(loss, chosen, rejected, policy_chosen, policy_rejected,
                               opponent_wrong)
    return loss, metrics | {"hinge": jnp.ones(())}


@pytest.fixture
def new_objective():
    objective = objectives.register(objectives.Objective(NEW, hinge_loss))
    try:
        yield objective
    finally:
        objectives.unregister(NEW)
    assert NEW not in objectives.names()


CONFIG = ModelConfig(architecture="llama", vocab_size=64, hidden_size=32, intermediate_size=64,
                     num_layers=1, num_heads=4, num_kv_heads=2, head_dim=8)


def pair_batch(model, pairs=4, length=10):
    rng = np.random.default_rng(5)
    tokens = jnp.asarray(rng.integers(0, 64, (pairs, 2, length)), jnp.int32)
    valid = jnp.ones_like(tokens, bool)
    mask = jnp.broadcast_to(jnp.arange(length) >= 4, tokens.shape)
    _, reference = completion_logprobs(model, tokens.reshape(-1, length),
                                       valid.reshape(-1, length), mask.reshape(-1, length))
    return {"tokens": tokens, "valid": valid, "completion_mask": mask,
            "reference_logps": reference.reshape(pairs, 2),
            "opponent_wrong": jnp.asarray([1, 0, 1, 1], jnp.float32)}


def test_a_registered_objective_trains_without_any_other_change(new_objective):
    assert NEW in objectives.pairwise_names()  # what validate.py accepts as selfplay.loss
    spec = LossSpec(NEW, lam=0.5)
    assert spec.pairwise and spec.objective is new_objective
    model = Decoder(CONFIG, nnx.Rngs(0))
    batch = pair_batch(model)
    loss, metrics = micro_batch_loss(model, batch, spec)
    assert float(loss) == pytest.approx(1.0, abs=1e-5)  # policy == reference: margin 0
    assert float(metrics["hinge"]) == 1.0  # the new loss ran, not a built-in one
    # And through the jitted step, keyed by the spec.
    graphdef, trainable, frozen = split_trainable(model)
    rule = UpdateRule()
    step = TrainStep(graphdef, spec, rule)
    micro = {k: v[None] for k, v in batch.items()}
    _, _, metrics = step(trainable, frozen, init_optimizer_state(rule, trainable), micro, 1e-3)
    assert float(metrics["hinge"]) == 1.0
    assert float(metrics["loss"]) == pytest.approx(1.0, abs=1e-5)


# -- nothing outside the registry compares objective names ----------------------------------------

# Only the pairwise names are checked: "sft" is an objective but also a stage name (and a model
# base entry), and comparing stage names is fine. An objective's behaviour must come from its
# registered attributes, so `loss == "dpo"`, `loss in ("spin", "dpo")` or `case "exspin":` outside
# the registry would be a second, unregistered definition of what the objective does.
PACKAGE = pathlib.Path(spft_jax.__file__).parent
REGISTRY = PACKAGE / "train" / "objectives.py"


def _is_name(node, names) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names


def name_comparisons(source: str, names) -> list[int]:
    """Lines of `source` comparing against one of `names`: ==/!=/is (not) with a string
    constant, in/not in with a tuple/list/set holding one, or a match case on one."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(_is_name(o, names) for o in operands):
                lines.append(node.lineno)
            elif any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops) and any(
                    isinstance(o, (ast.Tuple, ast.List, ast.Set))
                    and any(_is_name(e, names) for e in o.elts) for o in operands):
                lines.append(node.lineno)
        elif isinstance(node, ast.MatchValue) and _is_name(node.value, names):
            lines.append(node.value.lineno)
    return sorted(lines)


def test_the_checker_finds_comparisons_and_only_them():
    names = {"dpo", "spin"}
    source = '''
"""Docstring mentioning dpo and "spin"."""
c.selfplay.loss = "dpo"
defaults = {"loss": "spin"}
LossSpec("dpo")
if loss == "dpo":
    pass
ok = "spin" != loss
inside = loss in ("spin", "other")
outside = loss not in ["dpo"]
also = loss in {"spin"}
fine = loss in ("sft", "stage1")
match loss:
    case "dpo":
        pass
'''
    assert name_comparisons(source, names) == [6, 8, 9, 10, 11, 14]


def test_no_objective_name_is_compared_outside_the_registry():
    names = set(objectives.pairwise_names())
    assert set(BUILT_IN_PAIRWISE) <= names
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == REGISTRY:
            continue
        for line in name_comparisons(path.read_text(), names):
            found.append(f"{path.relative_to(PACKAGE.parent)}:{line}")
    assert not found, ("objective names compared outside spft_jax/train/objectives.py (use the "
                       "objective's registered attributes instead): " + ", ".join(found))
