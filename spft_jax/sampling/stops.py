"""Stop strings, matched on the host in the decoded text.

A stop string can span several tokens and a token can hold more than a stop string, so matching
happens on text: after each chunk of decode steps the sampler decodes every unfinished row and
asks `find_stop`. A match fixes the row's length at the first token whose text completes a stop
string; the text is cut just before the stop string, or just after it with `include_stop_str`.

A stop can also be a compiled regular expression: the row ends at the first token whose text
holds a match (the earliest-starting one wins, as for strings), cut before or after the match.
A pattern says "the answer is complete" where no fixed string can (e.g. the closing fence of a
fenced block, `spft_jax.data.sql_text.CLOSED_FENCE`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence

Decode = Callable[[Sequence[int]], str]
Stop = str | re.Pattern


@dataclasses.dataclass(frozen=True)
class StopMatch:
    length: int  # tokens kept: through the one that completed the stop string
    text: str  # the completion text, cut at the stop string
    stop: str  # which stop string matched (a pattern: its source)


def _occurrence(text: str, stop: Stop) -> tuple[int, int] | None:
    """(start, end) of the first occurrence of `stop` in text."""
    if isinstance(stop, str):
        at = text.find(stop)
        return None if at < 0 else (at, at + len(stop))
    match = stop.search(text)
    return None if match is None else match.span()


def _earliest(text: str, stops: Sequence[Stop]) -> tuple[int, int, Stop] | None:
    """(start, end, stop) of the stop occurrence that starts first in text (the longest on a
    tie)."""
    best = None
    for stop in stops:
        span = _occurrence(text, stop)
        if span is None:
            continue
        if best is None or span[0] < best[0] or (span[0] == best[0] and span[1] > best[1]):
            best = (*span, stop)
    return best


def find_stop(tokens: Sequence[int], checked: int, stops: Sequence[Stop], decode: Decode,
              include_stop_str: bool) -> StopMatch | None:
    """Looks for a stop in decode(tokens), given that decode(tokens[:checked]) held none.

    Returns the match at the fewest tokens, or None.
    """
    if not stops or _earliest(decode(tokens), stops) is None:
        return None
    # The full text matches; the first prefix past `checked` that does is where the row ends
    # (a linear scan: at most one chunk of tokens, once per row).
    low = max(checked, 0) + 1
    while low < len(tokens) and _earliest(decode(tokens[:low]), stops) is None:
        low += 1
    text = decode(tokens[:low])
    at, end, stop = _earliest(text, stops)
    return StopMatch(length=low, text=text[:end] if include_stop_str else text[:at],
                     stop=stop if isinstance(stop, str) else stop.pattern)
