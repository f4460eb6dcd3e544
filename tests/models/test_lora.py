"""LoRA: only adapter weights train, and the merged model equals base + adapter."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from spft_jax.errors import ConfigError
from spft_jax.models.config import ModelConfig
from spft_jax.models.decoder import Decoder
from spft_jax.models.lora import add_lora, merge_lora

CONFIG = ModelConfig(architecture="llama", vocab_size=64, hidden_size=16, intermediate_size=32,
                     num_layers=2, num_heads=2, num_kv_heads=1, head_dim=8)
TOKENS = jnp.asarray(np.random.default_rng(0).integers(0, 64, (2, 7)), jnp.int32)


def test_fresh_adapters_change_nothing():
    model = Decoder(CONFIG, nnx.Rngs(0))
    before, _ = model(TOKENS)
    assert add_lora(model, rank=4, alpha=8, rngs=nnx.Rngs(1)) == 2 * 7
    np.testing.assert_array_equal(model(TOKENS)[0], before)


def test_only_adapters_train_and_merge_equals_base_plus_adapter():
    model = Decoder(CONFIG, nnx.Rngs(0))
    add_lora(model, rank=4, alpha=8, rngs=nnx.Rngs(1), targets=("q_proj", "v_proj"))
    graphdef, lora, frozen = nnx.split(model, nnx.LoRAParam, ...)
    base = jax.tree.map(lambda x: np.asarray(x), frozen)
    optimizer = optax.adam(1e-2)
    opt_state = optimizer.init(lora)

    def loss_fn(lora_state):
        logits, _ = nnx.merge(graphdef, lora_state, frozen)(TOKENS)
        return -jax.nn.log_softmax(logits)[..., 0].mean()

    for _ in range(5):
        grads = jax.grad(loss_fn)(lora)
        updates, opt_state = optimizer.update(grads, opt_state, lora)
        lora = optax.apply_updates(lora, updates)
    trained = nnx.merge(graphdef, lora, frozen)
    # Base weights are untouched; the adapters moved.
    jax.tree.map(np.testing.assert_array_equal, jax.tree.map(np.asarray, nnx.split(trained, nnx.LoRAParam, ...)[2]), base)
    assert float(jnp.abs(trained.layers[0].self_attn.q_proj.lora_b.get_value()).max()) > 0
    adapted_logits, _ = trained(TOKENS)
    q = trained.layers[1].self_attn.q_proj
    expected_kernel = q.kernel.get_value() + q.lora_a.get_value() @ q.lora_b.get_value() * q.lora_scale
    assert merge_lora(trained) == 4
    assert trained.layers[1].self_attn.q_proj.lora_a is None
    np.testing.assert_allclose(q.kernel.get_value(), expected_kernel, atol=1e-6)
    np.testing.assert_allclose(trained(TOKENS)[0], adapted_logits, atol=1e-5)


def test_bad_lora_settings():
    model = Decoder(CONFIG, nnx.Rngs(0))
    with pytest.raises(ConfigError, match="'rank'"):
        add_lora(model, rank=0, alpha=1, rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match="unknown projections"):
        add_lora(model, rank=2, alpha=1, rngs=nnx.Rngs(0), targets=("qproj",))
