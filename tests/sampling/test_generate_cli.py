"""`python -m spft_jax.generate`: completions printed, bad input -> one line and exit 2."""

import subprocess
import sys

import pytest
from flax import nnx

from spft_jax import generate
from spft_jax.models.config import ModelConfig
from spft_jax.models.decoder import Decoder
from spft_jax.models.export import export_hf
from spft_jax.models.loading import load_model
from spft_jax.models.tokenizer import Tokenizer
from spft_jax.sampling import Sampler, SamplingParams


@pytest.fixture(scope="module")
def tiny_checkpoint(packaged_smollm2, tmp_path_factory):
    """A tiny random Llama with SmolLM2's tokenizer (and chat template), as a HF directory."""
    tokenizer = Tokenizer.from_gguf(packaged_smollm2)
    config = ModelConfig(architecture="llama", vocab_size=tokenizer.vocab_size, hidden_size=16,
                         intermediate_size=32, num_layers=1, num_heads=2, num_kv_heads=1,
                         head_dim=8, tie_word_embeddings=True, eos_token_ids=tokenizer.eos_ids)
    model = Decoder(config, nnx.Rngs(0))
    return export_hf(model, config, tokenizer, tmp_path_factory.mktemp("tiny_chat"))


def test_prints_the_greedy_completion_of_the_chat_prompt(tiny_checkpoint, capsys):
    status = generate.main([f"--model={tiny_checkpoint}", "--prompt=List all singers.",
                            "--max-new-tokens=6"])
    printed = capsys.readouterr().out
    model, _, tokenizer = load_model(tiny_checkpoint)
    prompt = tokenizer.encode(tokenizer.apply_chat_template(
        [{"role": "user", "content": "List all singers."}]))
    assert "<|im_start|>user\nList all singers.<|im_end|>" in tokenizer.decode(prompt)
    (expected,), = Sampler(model, tokenizer).generate([prompt], SamplingParams(max_new_tokens=6))
    assert status == 0
    assert printed == expected.text + "\n"


def test_no_chat_feeds_the_prompt_verbatim(tiny_checkpoint):
    _, _, tokenizer = load_model(tiny_checkpoint)
    assert generate.build_prompt(tokenizer, "SELECT", chat=False, system=None) == \
        tokenizer.encode("SELECT")
    chat = generate.build_prompt(tokenizer, "SELECT", chat=None, system="Be brief.")
    assert tokenizer.decode(chat).startswith("<|im_start|>system\nBe brief.<|im_end|>")


def test_n_samples_are_printed_with_headers(tiny_checkpoint, capsys):
    status = generate.main([f"--model={tiny_checkpoint}", "--prompt=hi", "--max-new-tokens=3",
                            "--n=2", "--temperature=1.0", "--seed=1"])
    printed = capsys.readouterr().out
    assert status == 0
    assert printed.count("--- sample ") == 2 and "--- sample 1 (length, 3 tokens)" in printed


@pytest.mark.parametrize("argv, message", [
    (["--model=smollm2-135m-instruct", "--prompt=x", "--temperature=-1"], "temperature"),
    (["--model=smollm2-135m-instruct", "--prompt=x", "--max-new-tokens=0"], "max_new_tokens"),
])
def test_bad_sampling_settings_are_one_line_and_status_2(argv, message, capsys):
    assert generate.main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_a_missing_model_is_one_line_and_status_2():
    out = subprocess.run([sys.executable, "-m", "spft_jax.generate", "--model=/no/such/model",
                          "--prompt=x"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "is not a checkpoint directory" in lines[0]
