"""What to sample: `SamplingParams`, one immutable value per `Sampler.generate` call.

Greedy decoding is `temperature=0`; otherwise the model's logits are divided by the temperature,
then restricted to the `top_k` most likely tokens, then to the smallest set whose probability
reaches `top_p` (the order Hugging Face's warpers use), and a token is drawn from what is left.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from spft_jax.errors import ConfigError, SpftError


class SamplingError(SpftError):
    """A prompt the sampler cannot take (empty, too long for the buckets, ids out of range)."""


@dataclasses.dataclass(frozen=True)
class SamplingParams:
    max_new_tokens: int = 256  # generated tokens per completion, EOS included
    temperature: float = 0.0  # 0 means greedy (top_k / top_p are then ignored)
    top_k: int | None = None  # keep the k most likely tokens; None or 0: no limit
    top_p: float = 1.0  # nucleus: smallest set with probability >= top_p; 1.0: no limit
    n: int = 1  # completions per prompt
    seed: int = 0  # same call, same seed -> same completions
    stop: tuple[str | re.Pattern, ...] = ()  # stop strings or patterns, on the decoded text
    include_stop_str: bool = False  # keep the matched stop string at the end of the text
    stop_check_interval: int = 8  # decode steps between host-side stop-string checks
    ignore_eos: bool = False  # run to max_new_tokens whatever is sampled (benchmarks)

    def __post_init__(self):
        if isinstance(self.stop, (str, re.Pattern)):  # a lone string is one stop, not its characters
            object.__setattr__(self, "stop", (self.stop,))
        elif not isinstance(self.stop, tuple):
            object.__setattr__(self, "stop", tuple(self.stop))

        def need(condition: bool, field: str, message: str):
            if not condition:
                raise ConfigError(f"sampling field {field!r}: {message}")

        need(_is_int(self.max_new_tokens) and self.max_new_tokens > 0, "max_new_tokens",
             f"must be a positive int, got {self.max_new_tokens!r}")
        need(isinstance(self.temperature, (int, float)) and self.temperature >= 0, "temperature",
             f"must be a number >= 0, got {self.temperature!r}")
        need(self.top_k is None or (_is_int(self.top_k) and self.top_k >= 0), "top_k",
             f"must be None or an int >= 0, got {self.top_k!r}")
        need(isinstance(self.top_p, (int, float)) and 0 < self.top_p <= 1, "top_p",
             f"must be in (0, 1], got {self.top_p!r}")
        need(_is_int(self.n) and self.n > 0, "n", f"must be a positive int, got {self.n!r}")
        need(_is_int(self.seed), "seed", f"must be an int, got {self.seed!r}")
        need(all((isinstance(s, str) and s) or (isinstance(s, re.Pattern) and not s.search(""))
                 for s in self.stop), "stop",
             f"must be non-empty strings or compiled patterns that need some text to match, "
             f"got {self.stop!r}")
        need(_is_int(self.stop_check_interval) and self.stop_check_interval > 0,
             "stop_check_interval", f"must be a positive int, got {self.stop_check_interval!r}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def replace(self, **changes) -> "SamplingParams":
        return dataclasses.replace(self, **changes)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_prompts(prompts: Sequence[Sequence[int]], vocab_size: int) -> list[list[int]]:
    """The prompts as lists of ints, after checking each is non-empty and inside the vocabulary."""
    if isinstance(prompts, (str, bytes)) or not isinstance(prompts, Sequence):
        raise SamplingError("prompts must be a sequence of token-id sequences")
    checked = []
    for index, prompt in enumerate(prompts):
        if isinstance(prompt, (str, bytes)):
            raise SamplingError(f"prompt {index} is text; encode it to token ids first")
        ids = [int(t) for t in prompt]
        if not ids:
            raise SamplingError(f"prompt {index} is empty")
        bad = [t for t in ids if not 0 <= t < vocab_size]
        if bad:
            raise SamplingError(
                f"prompt {index} has token id {bad[0]} outside the vocabulary [0, {vocab_size})"
            )
        checked.append(ids)
    return checked
