"""The decoder's own invariants: cached == uncached, padding changes nothing, remat changes
nothing, the sliding window and rope scaling act where they should."""

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from spft_jax.models.config import ModelConfig
from spft_jax.models.decoder import Decoder, KVCache, rope_inverse_frequencies

TINY = ModelConfig(
    architecture="qwen2", vocab_size=97, hidden_size=32, intermediate_size=64, num_layers=2,
    num_heads=4, num_kv_heads=2, head_dim=8, attention_bias=True,
)
TOKENS = jnp.asarray(np.random.default_rng(0).integers(0, 97, (2, 9)), jnp.int32)


def model(config=TINY):
    return Decoder(config, nnx.Rngs(0))


def test_cached_decoding_gives_the_uncached_logits():
    m = model()
    full, _ = m(TOKENS)
    cache = KVCache.empty(TINY, 2, 16)
    pieces = []
    start = 0
    for size in (4, 1, 1, 3):  # a prefill, two single steps, then a chunk
        chunk = TOKENS[:, start:start + size]
        positions = jnp.broadcast_to(jnp.arange(start, start + size), chunk.shape)
        logits, cache = m(chunk, positions, jnp.ones(chunk.shape, bool), cache, start)
        pieces.append(logits)
        start += size
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), full, atol=1e-5)


def test_left_padding_does_not_change_valid_positions():
    m = model()
    alone, _ = m(TOKENS[:1, 3:])
    padded = jnp.concatenate([jnp.zeros((1, 3), jnp.int32) + 7, TOKENS[:1, 3:]], axis=1)
    valid = jnp.arange(9)[None, :] >= 3
    logits, _ = m(padded, None, valid)
    np.testing.assert_allclose(logits[:, 3:], alone, atol=1e-5)


def test_remat_gives_the_same_logits():
    for policy in ("full", "dots_saveable"):
        np.testing.assert_array_equal(model(TINY.replace(remat=policy))(TOKENS)[0], model()(TOKENS)[0])


def test_sliding_window_limits_attention():
    windowed = model(TINY.replace(sliding_window=3))
    plain = model()
    a, _ = windowed(TOKENS)
    b, _ = plain(TOKENS)
    # Within the first 3 positions nothing falls outside the window; after that it does.
    np.testing.assert_allclose(a[:, :3], b[:, :3], atol=1e-6)
    assert np.abs(np.asarray(a[:, 3:] - b[:, 3:])).max() > 1e-4
    # Changing a token more than 3 positions back leaves the last logits untouched.
    changed = TOKENS.at[:, 2].set((TOKENS[:, 2] + 1) % 97)
    np.testing.assert_allclose(windowed(changed)[0][:, -1], a[:, -1], atol=1e-6)


def test_rope_scaling():
    base = rope_inverse_frequencies(TINY)
    linear = rope_inverse_frequencies(TINY.replace(rope_scaling={"rope_type": "linear", "factor": 4.0}))
    np.testing.assert_allclose(linear, base / 4, rtol=1e-6)
    llama3 = rope_inverse_frequencies(TINY.replace(rope_scaling={
        "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
        "original_max_position_embeddings": 64,
    }))
    wavelength = 2 * np.pi / np.asarray(base)
    assert np.allclose(llama3[wavelength < 16], base[wavelength < 16])  # high frequencies kept
    assert np.allclose(llama3[wavelength > 64], base[wavelength > 64] / 8)  # low ones slowed


@pytest.mark.parametrize("dtype", ["bfloat16"])
def test_bf16_compute_with_fp32_params(dtype):
    m = model(TINY.replace(dtype=dtype))
    logits, _ = m(TOKENS)
    assert logits.dtype == jnp.float32  # logits always come out in float32
    assert m.layers[0].self_attn.q_proj.kernel.get_value().dtype == jnp.float32
    np.testing.assert_allclose(logits, model()(TOKENS)[0], atol=0.1)


def _hlo_op_names(fn, *args) -> set[str]:
    """The op_name metadata of every instruction of `fn` compiled for `args`."""
    import re

    import jax

    return set(re.findall(r'op_name="([^"]+)"', jax.jit(fn).lower(*args).compile().as_text()))


def test_named_scopes_label_the_blocks_in_the_hlo():
    # Profiles read by block name: the scopes must reach the compiled HLO's op metadata, for the
    # uncached forward (training, prefill) and for a cached single-token decoding step.
    graphdef, state = nnx.split(model())

    def forward(state, tokens):
        return nnx.merge(graphdef, state)(tokens)[0]

    def decode_step(state, cache, token):
        return nnx.merge(graphdef, state)(token, jnp.zeros(token.shape, jnp.int32),
                                          jnp.ones(token.shape, bool), cache, 3)[0]

    def joined(names):
        return "\n".join(sorted(names))

    names = joined(_hlo_op_names(forward, state, TOKENS))
    for scope in ("/embed/", "/final_norm/", "/lm_head/"):
        assert scope in names, scope
    for i in range(TINY.num_layers):
        for block in ("input_norm", "attention/qkv_proj", "attention/rope", "attention/core",
                      "attention/out_proj", "post_attention_norm", "mlp"):
            assert f"/layer_{i}/{block}/" in names, (i, block)
    assert f"/layer_{TINY.num_layers}/" not in names
    steps = joined(_hlo_op_names(decode_step, state, KVCache.empty(TINY, 2, 8), TOKENS[:, :1]))
    for block in ("attention/kv_cache_update", "attention/core", "mlp"):
        assert f"/layer_0/{block}/" in steps, block
