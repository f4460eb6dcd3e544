"""Tokenizers: from a Hugging Face directory, or rebuilt from a GGUF file's metadata.

`Tokenizer` wraps a `transformers` fast tokenizer and exposes what the rest of the project needs:
`encode`/`decode`, the bos/eos/pad ids and `apply_chat_template`. A Hugging Face directory is
loaded with `AutoTokenizer` (tokenizer.json or sentencepiece). A GGUF file carries no
tokenizer.json, only the vocabulary, merges, token types and special ids as metadata; for
byte-level BPE vocabularies (`tokenizer.ggml.model == "gpt2"`) we rebuild the `tokenizers`
pipeline from them, choosing the pre-tokenizer llama.cpp associates with
`tokenizer.ggml.pre`, and wrap it so it can be saved with `save_pretrained` (export).
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Mapping, Sequence

import gguf
import transformers
from tokenizers import AddedToken, Regex, decoders, models, pre_tokenizers, processors
from tokenizers import Tokenizer as BackendTokenizer

from spft_jax.errors import ConfigError
from spft_jax.models.gguf_file import GGUFFile

# Pre-tokenizers by llama.cpp's `tokenizer.ggml.pre` name. llama.cpp splits text with a list of
# regular expressions per name (llama-vocab.cpp); these are the `tokenizers` equivalents:
# - GPT-2's split (`'s|'t|...| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`) is what
#   `ByteLevel(use_regex=True)` applies;
# - "smollm" and the other StarCoder-family vocabularies first isolate every digit (`\p{N}`),
#   then apply GPT-2's split: `Digits(individual_digits=True)` followed by the above;
# - Qwen2 and Llama 3 use their own split (single digits / runs of up to three digits).
_QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
                r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
                 r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_DIGITS_THEN_GPT2 = ("smollm", "starcoder", "refact", "codeshell")
_GPT2 = ("gpt-2",)
_QWEN2 = ("qwen2",)
_LLAMA3 = ("llama-bpe", "llama3", "llama-v3")
GGUF_PRE_TOKENIZERS = _DIGITS_THEN_GPT2 + _GPT2 + _QWEN2 + _LLAMA3

# llama.cpp token types (gguf.TokenType): control tokens are special, user-defined ones are added
# tokens that are matched verbatim but are not special.
_CONTROL = int(gguf.TokenType.CONTROL)
_USER_DEFINED = int(gguf.TokenType.USER_DEFINED)


def gguf_pre_tokenizer(name: str) -> pre_tokenizers.PreTokenizer:
    """The `tokenizers` pre-tokenizer for a GGUF `tokenizer.ggml.pre` name."""
    if name in _DIGITS_THEN_GPT2:
        return pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ])
    if name in _GPT2:
        return pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if name in _QWEN2 or name in _LLAMA3:
        split = _QWEN2_SPLIT if name in _QWEN2 else _LLAMA3_SPLIT
        return pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(split), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
    raise ConfigError(f"GGUF metadata field 'tokenizer.ggml.pre': {name!r} is not supported "
                      f"(supported: {', '.join(GGUF_PRE_TOKENIZERS)})")


def _field(reader: GGUFFile, key: str, default=None, required: bool = False):
    if key not in reader.metadata:
        if required:
            raise ConfigError(f"GGUF metadata has no field {key!r}")
        return default
    return reader.metadata[key]


def hf_tokenizer_from_gguf(reader: GGUFFile) -> transformers.PreTrainedTokenizerFast:
    """Rebuilds a byte-level BPE tokenizer from GGUF metadata as a transformers fast tokenizer."""
    kind = _field(reader, "tokenizer.ggml.model", required=True)
    if kind != "gpt2":
        raise ConfigError(f"GGUF metadata field 'tokenizer.ggml.model': {kind!r} tokenizers are not "
                          "supported (only byte-level BPE, 'gpt2'); load the model from a Hugging "
                          "Face directory instead")
    tokens: list[str] = _field(reader, "tokenizer.ggml.tokens", required=True)
    merges_text: list[str] = _field(reader, "tokenizer.ggml.merges", required=True)
    token_types = _field(reader, "tokenizer.ggml.token_type", [1] * len(tokens))
    if len(token_types) != len(tokens):
        raise ConfigError(f"GGUF metadata: 'tokenizer.ggml.token_type' has {len(token_types)} "
                          f"entries for {len(tokens)} tokens")
    pre = _field(reader, "tokenizer.ggml.pre", required=True)

    vocab = {token: i for i, token in enumerate(tokens)}
    merges = []
    for merge in merges_text:
        left, sep, right = merge.partition(" ")
        if not sep:
            raise ConfigError(f"GGUF metadata: merge {merge!r} in 'tokenizer.ggml.merges' is not "
                              "two tokens separated by a space")
        merges.append((left, right))
    backend = BackendTokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False,
                                          byte_fallback=False))
    backend.pre_tokenizer = gguf_pre_tokenizer(pre)
    backend.decoder = decoders.ByteLevel()
    # Both kinds are already in the vocabulary, so registering them keeps their ids; it makes
    # the tokenizer match them verbatim before pre-tokenization.
    backend.add_special_tokens([AddedToken(tokens[i], special=True, normalized=False)
                                for i, kind in enumerate(token_types) if kind == _CONTROL])
    backend.add_tokens([AddedToken(tokens[i], special=False, normalized=False)
                        for i, kind in enumerate(token_types) if kind == _USER_DEFINED])

    def token_for(key: str) -> str | None:
        token_id = _field(reader, f"tokenizer.ggml.{key}_token_id")
        if token_id is None:
            return None
        if not 0 <= token_id < len(tokens):
            raise ConfigError(f"GGUF metadata field 'tokenizer.ggml.{key}_token_id': {token_id} is "
                              f"outside the vocabulary of {len(tokens)} tokens")
        return tokens[token_id]

    bos, eos = token_for("bos"), token_for("eos")
    single, special = ["$A"], []
    if _field(reader, "tokenizer.ggml.add_bos_token", False) and bos is not None:
        single.insert(0, bos)
        special.append((bos, vocab[bos]))
    if _field(reader, "tokenizer.ggml.add_eos_token", False) and eos is not None:
        single.append(eos)
        special.append((eos, vocab[eos]))
    if special:
        second = ["$B" if piece == "$A" else piece for piece in single]
        backend.post_processor = processors.TemplateProcessing(
            single=" ".join(single), pair=" ".join(single + second), special_tokens=special)
    else:
        backend.post_processor = processors.ByteLevel(trim_offsets=False)

    options = {}
    context = _field(reader, f"{_field(reader, 'general.architecture', '')}.context_length")
    if context:
        options["model_max_length"] = int(context)
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=bos,
        eos_token=eos,
        unk_token=token_for("unknown"),
        pad_token=token_for("padding"),
        chat_template=_field(reader, "tokenizer.chat_template"),
        clean_up_tokenization_spaces=False,
        **options,
    )


class Tokenizer:
    """Text <-> token ids, special ids and the chat template of one model."""

    def __init__(self, hf_tokenizer, extra_eos_ids: Sequence[int] = ()):
        self.hf = hf_tokenizer
        eos = [] if hf_tokenizer.eos_token_id is None else [hf_tokenizer.eos_token_id]
        self._eos_ids = tuple(dict.fromkeys([*eos, *extra_eos_ids]))

    @classmethod
    def from_pretrained(cls, path: str | pathlib.Path) -> "Tokenizer":
        """A Hugging Face model directory's tokenizer; eos ids listed in its
        generation_config.json (chat models often stop on several) are added to `eos_ids`."""
        directory = pathlib.Path(path)
        try:
            hf = transformers.AutoTokenizer.from_pretrained(str(directory))
        except (OSError, ValueError) as e:
            raise ConfigError(f"cannot load a tokenizer from {directory}: {e}") from e
        extra: list[int] = []
        generation = directory / "generation_config.json"
        if generation.is_file():
            try:
                eos = json.loads(generation.read_text()).get("eos_token_id")
            except json.JSONDecodeError as e:
                raise ConfigError(f"{generation} is not valid JSON: {e}") from e
            extra = list(eos) if isinstance(eos, list) else ([] if eos is None else [eos])
        return cls(hf, extra)

    @classmethod
    def from_gguf(cls, path_or_reader: str | pathlib.Path | GGUFFile) -> "Tokenizer":
        if isinstance(path_or_reader, GGUFFile):
            reader = path_or_reader
        else:
            from spft_jax.models.weights import open_gguf  # weights imports the model stack
            reader = open_gguf(path_or_reader)
        return cls(hf_tokenizer_from_gguf(reader))

    # -- ids -------------------------------------------------------------------------------
    @property
    def bos_id(self) -> int | None:
        return self.hf.bos_token_id

    @property
    def eos_id(self) -> int | None:
        return self.hf.eos_token_id

    @property
    def eos_ids(self) -> tuple[int, ...]:
        """Every id that ends a generation (the tokenizer's eos first)."""
        return self._eos_ids

    @property
    def pad_id(self) -> int:
        """The padding id: the tokenizer's pad token, else its eos (padding is always masked, so
        the id only has to exist)."""
        if self.hf.pad_token_id is not None:
            return self.hf.pad_token_id
        if self.eos_id is None:
            raise ConfigError("the tokenizer defines neither a pad nor an eos token")
        return self.eos_id

    @property
    def vocab_size(self) -> int:
        """Number of ids the tokenizer can produce (added tokens included)."""
        return len(self.hf)

    # -- text ------------------------------------------------------------------------------
    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        """Token ids of `text`. No bos/eos is added unless asked: prompts come from the chat
        template, which writes whatever special tokens the model expects."""
        return self.hf.encode(text, add_special_tokens=add_special_tokens)

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        return self.hf.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def apply_chat_template(self, messages: Sequence[Mapping[str, str]],
                            add_generation_prompt: bool = True) -> str:
        """The prompt text for a conversation ([{"role": ..., "content": ...}, ...])."""
        if not getattr(self.hf, "chat_template", None):
            raise ConfigError("the tokenizer has no chat template")
        return self.hf.apply_chat_template([dict(m) for m in messages], tokenize=False,
                                           add_generation_prompt=add_generation_prompt)

    def save_pretrained(self, path: str | pathlib.Path) -> None:
        self.hf.save_pretrained(str(path))
