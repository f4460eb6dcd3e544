"""Tokenizers rebuilt from GGUF metadata (the packaged SmolLM2 and small hand-written files) and
loaded from Hugging Face directories."""

import json

import numpy as np
import pytest
import transformers

from spft_jax.errors import ConfigError
from spft_jax.models.tokenizer import Tokenizer, gguf_pre_tokenizer
from spft_jax.models.weights import open_gguf
from tests.models.helpers import byte_level_vocab, write_gguf

TEXTS = [
    "SELECT T1.name, COUNT(*) FROM singer AS T1 JOIN concert AS T2 ON T1.singer_id = T2.singer_id "
    "GROUP BY T1.name HAVING COUNT(*) >= 2 ORDER BY T1.name DESC LIMIT 10;",
    "How many   singers are older than 30?\n\nList their names,\tplease.  ",
    "SELECT avg(price)\n  FROM products\n WHERE category = 'Books' AND year BETWEEN 1999 AND 2024\n",
    "  leading spaces, trailing newline\n",
    "Ünïcödé café — naïve 東京 😀 'quoted' \"double\" it's we'll",
    "CREATE TABLE \"head\" (\n    \"head_ID\" int,\n    \"age\" real,\n    PRIMARY KEY (\"head_ID\")\n);",
]


# --- the packaged SmolLM2 tokenizer --------------------------------------------------------


def test_smollm2_special_tokens(smollm2_tokenizer):
    tok = smollm2_tokenizer
    assert tok.hf.convert_ids_to_tokens([0, 1, 2]) == ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    assert (tok.bos_id, tok.eos_id, tok.pad_id, tok.hf.unk_token_id) == (1, 2, 2, 0)
    assert tok.eos_ids == (2,)
    assert tok.vocab_size == 49152
    # special tokens in text become their single ids, and are never split
    assert tok.encode("<|im_start|>user\nhi<|im_end|>")[0] == 1
    assert tok.encode("<|im_start|>user\nhi<|im_end|>")[-1] == 2
    assert tok.encode("x<|endoftext|>y") == tok.encode("x") + [0] + tok.encode("y")
    assert tok.decode(tok.encode("<|im_start|>a<|im_end|>"), skip_special_tokens=True) == "a"
    assert tok.encode("hello") == tok.encode("hello", add_special_tokens=True)  # no bos added


def test_smollm2_chat_template(smollm2_tokenizer):
    prompt = smollm2_tokenizer.apply_chat_template([{"role": "user", "content": "How many singers?"}])
    assert prompt.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    assert prompt.endswith("<|im_start|>user\nHow many singers?<|im_end|>\n<|im_start|>assistant\n")
    own_system = smollm2_tokenizer.apply_chat_template(
        [{"role": "system", "content": "Write SQL."}, {"role": "user", "content": "Q"}],
        add_generation_prompt=False)
    assert own_system == "<|im_start|>system\nWrite SQL.<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n"
    ids = smollm2_tokenizer.encode(prompt)
    assert ids[0] == 1 and ids.count(1) == 3 and ids.count(2) == 2


@pytest.mark.parametrize("text", TEXTS)
def test_smollm2_round_trip(smollm2_tokenizer, text):
    ids = smollm2_tokenizer.encode(text)
    assert smollm2_tokenizer.decode(ids) == text
    assert all(0 <= i < 49152 for i in ids)


def test_smollm2_pre_tokenizer_isolates_digits(smollm2_tokenizer):
    # tokenizer.ggml.pre == "smollm": llama.cpp splits every digit (\p{N}) off first, then applies
    # GPT-2's split. So does SmolLM2's own tokenizer.json (Digits(individual_digits) + ByteLevel).
    pre = smollm2_tokenizer.hf.backend_tokenizer.pre_tokenizer
    pieces = [piece for piece, _ in pre.pre_tokenize_str("age > 30 AND id=2024")]
    assert pieces == ["age", "Ġ>", "Ġ", "3", "0", "ĠAND", "Ġid", "=", "2", "0", "2", "4"]
    ids = smollm2_tokenizer.encode("LIMIT 12345")
    digits = smollm2_tokenizer.hf.convert_ids_to_tokens(ids[-5:])
    assert digits == ["1", "2", "3", "4", "5"]
    # GPT-2's split keeps words with their leading space and runs of spaces before a word apart
    assert [p for p, _ in pre.pre_tokenize_str("a  b\n c")] == ["a", "Ġ", "Ġb", "Ċ", "Ġc"]


def test_smollm2_saved_tokenizer_reloads_identically(smollm2_tokenizer, smollm2_export_dir):
    reloaded = Tokenizer.from_pretrained(smollm2_export_dir)
    as_hf = transformers.AutoTokenizer.from_pretrained(smollm2_export_dir)
    for text in TEXTS:
        ids = smollm2_tokenizer.encode(text)
        assert reloaded.encode(text) == ids
        assert as_hf.encode(text, add_special_tokens=False) == ids
    messages = [{"role": "user", "content": TEXTS[1]}]
    assert reloaded.apply_chat_template(messages) == smollm2_tokenizer.apply_chat_template(messages)
    assert (reloaded.bos_id, reloaded.eos_id, reloaded.pad_id) == (1, 2, 2)


def test_smollm2_agrees_with_transformers_gguf_tokenizer(smollm2_path, smollm2_tokenizer):
    # transformers builds its own tokenizer from the GGUF's vocabulary and merges; ids must agree
    # (its pre-tokenizer ignores "smollm", but this vocabulary has no multi-digit tokens, so
    # digit isolation does not change the ids here).
    theirs = transformers.AutoTokenizer.from_pretrained(str(smollm2_path.parent), gguf_file=smollm2_path.name)
    for text in TEXTS + ["<|im_start|>assistant\nSELECT 1<|im_end|>"]:
        assert smollm2_tokenizer.encode(text) == theirs.encode(text, add_special_tokens=False), text


# --- hand-written GGUF tokenizers ----------------------------------------------------------


def _tokenizer_gguf(path, **changes):
    tokens, types, merges = byte_level_vocab()
    metadata = {
        "llama.context_length": 256,
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": "smollm",
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.token_type": types,
        "tokenizer.ggml.merges": merges,
        "tokenizer.ggml.bos_token_id": 1,
        "tokenizer.ggml.eos_token_id": 2,
    }
    metadata.update(changes)
    metadata = {k: v for k, v in metadata.items() if v is not None}
    return write_gguf(path, "llama", metadata, {"token_embd.weight": np.zeros((len(tokens), 4), np.float32)})


def test_gguf_tokenizer_merges_and_added_tokens(tmp_path):
    tok = Tokenizer.from_gguf(_tokenizer_gguf(tmp_path / "t.gguf"))
    names = tok.hf.convert_ids_to_tokens(tok.encode("SELECT the FROM 12"))
    assert names == ["SELECT", "Ġthe", "ĠFROM", "Ġ", "1", "2"]  # "1 2" merge cannot apply: digits are split
    # <sql> is user-defined: matched verbatim, kept by skip_special_tokens; <|im_end|> is control
    ids = tok.encode("a<sql>b<|im_end|>")
    assert ids[1] == 3 and ids[-1] == 2
    assert tok.decode(ids, skip_special_tokens=True) == "a<sql>b"
    assert tok.pad_id == 2  # no pad token: falls back to eos
    assert tok.hf.model_max_length == 256
    with pytest.raises(ConfigError, match="no chat template"):
        tok.apply_chat_template([{"role": "user", "content": "x"}])


def test_gguf_tokenizer_adds_bos_when_the_file_says_so(tmp_path):
    tok = Tokenizer.from_gguf(_tokenizer_gguf(tmp_path / "t.gguf", **{"tokenizer.ggml.add_bos_token": True}))
    assert tok.encode("SELECT", add_special_tokens=True) == [1, tok.encode("SELECT")[0]]
    assert tok.encode("SELECT") == tok.encode("SELECT", add_special_tokens=False)


def test_gguf_tokenizer_errors(tmp_path):
    with pytest.raises(ConfigError, match="'tokenizer.ggml.model': 'llama'"):
        Tokenizer.from_gguf(_tokenizer_gguf(tmp_path / "a.gguf", **{"tokenizer.ggml.model": "llama"}))
    with pytest.raises(ConfigError, match="'tokenizer.ggml.pre': 'mystery'"):
        Tokenizer.from_gguf(_tokenizer_gguf(tmp_path / "b.gguf", **{"tokenizer.ggml.pre": "mystery"}))
    with pytest.raises(ConfigError, match="no field 'tokenizer.ggml.merges'"):
        Tokenizer.from_gguf(_tokenizer_gguf(tmp_path / "c.gguf", **{"tokenizer.ggml.merges": None}))
    with pytest.raises(ConfigError, match="bos_token_id': 5000 is outside"):
        Tokenizer.from_gguf(_tokenizer_gguf(tmp_path / "d.gguf", **{"tokenizer.ggml.bos_token_id": 5000}))
    reader = open_gguf(_tokenizer_gguf(tmp_path / "e.gguf"))
    assert Tokenizer.from_gguf(reader).bos_id == 1  # an open reader is accepted too


@pytest.mark.parametrize("name,pieces", [
    ("gpt-2", ["Ġx", "Ġ12345", "Ġ", "Ġy"]),
    ("smollm", ["Ġx", "Ġ", "1", "2", "3", "4", "5", "Ġ", "Ġy"]),
    ("qwen2", ["Ġx", "Ġ", "1", "2", "3", "4", "5", "Ġ", "Ġy"]),
    ("llama-bpe", ["Ġx", "Ġ", "123", "45", "Ġ", "Ġy"]),
])
def test_pre_tokenizers_split_digits_like_llama_cpp(name, pieces):
    assert [p for p, _ in gguf_pre_tokenizer(name).pre_tokenize_str(" x 12345  y")] == pieces


# --- Hugging Face directories ---------------------------------------------------------------


def test_from_pretrained_adds_generation_config_eos_ids(tmp_path):
    Tokenizer.from_gguf(_tokenizer_gguf(tmp_path / "t.gguf")).save_pretrained(tmp_path / "hf")
    (tmp_path / "hf" / "generation_config.json").write_text(json.dumps({"eos_token_id": [2, 0]}))
    tok = Tokenizer.from_pretrained(tmp_path / "hf")
    assert tok.eos_id == 2 and tok.eos_ids == (2, 0)
    with pytest.raises(ConfigError, match="cannot load a tokenizer"):
        Tokenizer.from_pretrained(tmp_path / "empty")
