"""A tiny random decoder, a character-piece tokenizer and an uncached reference decoder."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from spft_jax.models.config import ModelConfig
from spft_jax.models.decoder import Decoder

TINY = ModelConfig(
    architecture="qwen2", vocab_size=61, hidden_size=32, intermediate_size=64, num_layers=2,
    num_heads=4, num_kv_heads=2, head_dim=8, attention_bias=True,
)

# Token id -> text piece: single letters and digits, and some multi-character pieces, so stop
# strings can start or end inside a token.
PIECES = (
    [chr(ord("a") + i) for i in range(26)] + [str(d) for d in range(10)]
    + [" ", "\n", ";", ",", "(", ")", "*", "=", "ab", "cd", "ef", " FROM ", "SELECT ", " WHERE ",
       ";\n", "xy", "zz", "12", "34", "qq", "END", "\n\n", "ok", "no", "yes"]
)
assert len(PIECES) == TINY.vocab_size


class PieceTokenizer:
    """decode() joins the pieces; no eos of its own (tests pass eos ids explicitly)."""

    pad_id = 0

    def decode(self, ids) -> str:
        return "".join(PIECES[int(i)] for i in ids)


def tiny_model(seed: int = 0, config: ModelConfig = TINY) -> Decoder:
    return Decoder(config, nnx.Rngs(seed))


REFERENCE_LENGTH = 64


@functools.partial(jax.jit, static_argnums=0)
def _forward(graphdef, state, tokens):
    logits, _ = nnx.merge(graphdef, state)(tokens)
    return logits


def uncached_logits(model: Decoder, sequence) -> np.ndarray:
    """Next-token logits after `sequence`, recomputing the whole prefix without a cache.

    The sequence is right-padded to a fixed length so one compiled forward serves every call;
    attention is causal, so the padding after the last token cannot change its logits."""
    sequence = list(sequence)
    assert len(sequence) <= REFERENCE_LENGTH
    tokens = np.zeros((1, REFERENCE_LENGTH), np.int32)
    tokens[0, :len(sequence)] = sequence
    graphdef, state = nnx.split(model)
    return np.asarray(_forward(graphdef, state, jnp.asarray(tokens))[0, len(sequence) - 1])


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max()
    return shifted - np.log(np.exp(shifted).sum())


def reference_greedy(model: Decoder, prompt, steps: int, eos=()) -> list[int]:
    """Greedy decoding by argmax of the uncached forward over the whole prefix, each step."""
    sequence, out = list(prompt), []
    for _ in range(steps):
        token = int(np.argmax(uncached_logits(model, sequence)))
        out.append(token)
        sequence.append(token)
        if token in eos:
            break
    return out
