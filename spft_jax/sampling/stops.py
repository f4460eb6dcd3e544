"""Stop strings, matched on the host in the decoded text.

A stop string can span several tokens and a token can hold more than a stop string, so matching
happens on text: after each chunk of decode steps the sampler decodes every unfinished row and
asks `find_stop`. A match fixes the row's length at the first token whose text completes a stop
string; the text is cut just before the stop string, or just after it with `include_stop_str`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

Decode = Callable[[Sequence[int]], str]


@dataclasses.dataclass(frozen=True)
class StopMatch:
    length: int  # tokens kept: through the one that completed the stop string
    text: str  # the completion text, cut at the stop string
    stop: str  # which stop string matched


def _earliest(text: str, stops: Sequence[str]) -> tuple[int, str] | None:
    """The stop string occurrence that starts first in text (the longest on a tie)."""
    best = None
    for stop in stops:
        at = text.find(stop)
        if at < 0:
            continue
        if best is None or at < best[0] or (at == best[0] and len(stop) > len(best[1])):
            best = (at, stop)
    return best


def find_stop(tokens: Sequence[int], checked: int, stops: Sequence[str], decode: Decode,
              include_stop_str: bool) -> StopMatch | None:
    """Looks for a stop string in decode(tokens), given that decode(tokens[:checked]) held none.

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
    at, stop = _earliest(text, stops)
    end = at + len(stop) if include_stop_str else at
    return StopMatch(length=low, text=text[:end], stop=stop)
