"""Our decoder against transformers (PyTorch), float32.

Tiny random Llama / Qwen2 / Mistral checkpoints written by `save_pretrained` and read by our
loader must give the same logits at every position, unpadded and left-padded; the features that
set the families apart (attention bias, sliding window, rope scaling) are checked to matter at
the test lengths, so a decoder ignoring them would fail. The real SmolLM2-135M-Instruct, loaded
from its packaged GGUF and exported, must give the same last-position logits in transformers.
"""

import jax.numpy as jnp
import numpy as np
import pytest
import torch
import transformers

from spft_jax.models.config import ModelConfig
from spft_jax.models.weights import load_safetensors_dir
from tests.models.helpers import hf_logits, left_pad, tiny_hf_model

LLAMA3_SCALING = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                  "high_freq_factor": 4.0, "original_max_position_embeddings": 16}
CASES = {
    "llama": ("llama", {}),
    "llama_tied": ("llama", {"tie_word_embeddings": True}),
    "qwen2_bias": ("qwen2", {}),
    "mistral_window": ("mistral", {"sliding_window": 5}),
    "llama3_rope": ("llama", {"rope_scaling": LLAMA3_SCALING}),
    "linear_rope": ("llama", {"rope_scaling": {"rope_type": "linear", "factor": 4.0}}),
}
# What each feature is, removed: the logits must then move, or the case proves nothing.
WITHOUT_FEATURE = {
    "qwen2_bias": None,  # checked through the biases themselves, below
    "mistral_window": {"sliding_window": None},
    "llama3_rope": {"rope_scaling": None},
    "linear_rope": {"rope_scaling": None},
}
TOLERANCE = 1e-4


def _prompts(vocab: int) -> list[list[int]]:
    rng = np.random.default_rng(7)
    return [rng.integers(0, vocab, size=n).tolist() for n in (4, 11, 19, 26)]


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request, tmp_path_factory):
    family, overrides = CASES[request.param]
    hf_model = tiny_hf_model(family, seed=len(request.param), **overrides)
    directory = tmp_path_factory.mktemp(request.param)
    hf_model.save_pretrained(directory)  # safetensors
    config = ModelConfig.from_pretrained_dir(directory)
    ours = load_safetensors_dir(directory, config)
    prompts = _prompts(config.vocab_size)
    return request.param, hf_model, config, ours, directory, prompts, hf_logits(hf_model, prompts)


def test_every_position_matches_transformers(case):
    name, _, config, ours, _, prompts, reference = case
    worst = 0.0
    for prompt, expected in zip(prompts, reference):
        logits, _ = ours(jnp.asarray([prompt]))
        worst = max(worst, float(np.abs(np.asarray(logits[0]) - expected).max()))
    assert worst < TOLERANCE, f"{name}: max abs diff {worst}"
    assert max(float(np.abs(r).max()) for r in reference) > 1.0  # logits are not all ~0


def test_left_padded_batch_matches_transformers(case):
    name, _, _, ours, _, prompts, reference = case
    tokens, valid = left_pad(prompts, pad_id=3)
    logits, _ = ours(jnp.asarray(tokens), valid=jnp.asarray(valid))
    logits = np.asarray(logits)
    width = tokens.shape[1]
    for row, (prompt, expected) in enumerate(zip(prompts, reference)):
        got = logits[row, width - len(prompt):]
        assert np.abs(got - expected).max() < TOLERANCE, name
        # last position: what generation samples from
        assert np.abs(logits[row, -1] - expected[-1]).max() < TOLERANCE, name


@pytest.mark.parametrize("case", sorted(WITHOUT_FEATURE), indirect=True)
def test_the_feature_under_test_matters(case):
    name, hf_model, config, _, directory, prompts, reference = case
    if name == "qwen2_bias":
        assert config.attention_bias
        biases = [p.detach() for n, p in hf_model.named_parameters() if n.endswith("proj.bias")]
        assert len(biases) == 3 * config.num_layers and all(float(b.abs().max()) > 0.1 for b in biases)
        return
    without = load_safetensors_dir(directory, config.replace(**WITHOUT_FEATURE[name]))
    logits, _ = without(jnp.asarray([prompts[-1]]))
    assert np.abs(np.asarray(logits[0]) - reference[-1]).max() > 100 * TOLERANCE, name


# --- the real SmolLM2-135M-Instruct ---------------------------------------------------------

SQL_QUESTIONS = [
    ("CREATE TABLE singer (singer_id INT PRIMARY KEY, name TEXT, country TEXT, age INT);",
     "How many singers are there?"),
    ("CREATE TABLE stadium (stadium_id INT, location TEXT, name TEXT, capacity INT, average INT);",
     "What is the maximum capacity and the average of all stadiums?"),
    ("CREATE TABLE department (id INT, name TEXT, budget_in_billions REAL);\n"
     "CREATE TABLE head (head_id INT, name TEXT, born_state TEXT, age REAL);",
     "List the name, born state and age of the heads of departments ordered by age."),
    ("CREATE TABLE flights (flight_no INT, origin TEXT, destination TEXT, price REAL);",
     "Which destinations have more than 10 flights from  'Los Angeles'?\nAnswer with SQL only."),
]


@pytest.fixture(scope="module")
def smollm2_prompts(smollm2_tokenizer):
    prompts = []
    for schema, question in SQL_QUESTIONS:
        text = smollm2_tokenizer.apply_chat_template(
            [{"role": "system", "content": "Translate the question into SQLite SQL."},
             {"role": "user", "content": f"{schema}\n\nQuestion: {question}"}])
        prompts.append(smollm2_tokenizer.encode(text))
    return prompts


@pytest.fixture(scope="module")
def smollm2_hf(smollm2_export_dir):
    model = transformers.AutoModelForCausalLM.from_pretrained(smollm2_export_dir, dtype=torch.float32)
    return model.eval()


def test_smollm2_gguf_export_matches_transformers(smollm2, smollm2_hf, smollm2_prompts):
    model, _, _ = smollm2
    reference = hf_logits(smollm2_hf, smollm2_prompts)
    tokens, valid = left_pad(smollm2_prompts, pad_id=2)
    logits, _ = model(jnp.asarray(tokens), valid=jnp.asarray(valid))
    last = np.asarray(logits[:, -1])
    diffs = [float(np.abs(last[i] - reference[i][-1]).max()) for i in range(len(reference))]
    assert max(diffs) < 1e-3, diffs
    # the same next token, and a confident model (the weights are not garbage)
    assert [int(np.argmax(r[-1])) for r in reference] == np.argmax(last, axis=-1).tolist()
    assert min(float(r[-1].max()) for r in reference) > 10.0


def test_smollm2_knows_a_fact(smollm2):
    # Would fail with mis-permuted attention rows or a wrong tokenizer: the output is then noise.
    model, _, tokenizer = smollm2
    logits, _ = model(jnp.asarray([tokenizer.encode("The capital of France is")]))
    assert tokenizer.decode([int(np.argmax(logits[0, -1]))]) == " Paris"
