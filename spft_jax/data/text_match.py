"""Where a database value is mentioned in a question, despite case, spacing and a typo.

The fine stage of value matching (the coarse one is BM25 in `bm25.py`). A question says
"unitedstaes" or "United  States" where the database holds 'United States': both strings are
normalised (accents folded, lowercase, punctuation as spaces) and compared with their spaces
removed ("compact"), so spacing never counts. A mention is a span of the question that starts at
the start of a question word and ends at the end of one (or before an ending such as a plural
"s" or the "n" of "Asian"), and its distance to the value is the restricted Damerau-Levenshtein
(OSA) distance: insertions, deletions, substitutions and swaps of neighbours each cost 1. A value
is mentioned when some span is within `allowed_edits(len(value))`: 0 for short values, where one
edit turns "Paris" into "pairs", 1 from 5 characters, 2 from 14 (at 9, two edits would let
"airways" mention 'US Airways').

The distance to the best span is computed for all spans at once (Sellers' semi-global alignment),
each row of the table as a few numpy operations over the question: the horizontal step of a row
(skip a question character) is a running minimum, so no Python loop runs over the question.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata

import numpy as np

# Function words: never a mention of a value, never evidence that a column is meant.
FUNCTION_WORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing done down during each either else ever every
few for from further had has have having he her here hers herself him himself his how i if in into
is it its itself just me more most my myself neither no nor not now of off on once only or other
our ours ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up us very was we were
what when where which while who whom whose why will with within without would yes you your yours
yourself yourselves s t d ll m re ve y
""".split())
# The words questions are made of: a value consisting only of these and function words ('Name',
# 'Number') is not indexed, or every "show the names" question would match it.
STOPWORDS = FUNCTION_WORDS | frozenset(
    "show list give find return tell display get count number numbers many much name names".split())

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
# At least two letters in a row: what separates a text value from a number, a code like "5A",
# or a date such as "2009-01-01T00:00:00" (numbers and dates are left to the model).
_TWO_LETTERS = re.compile(r"[^\W\d_]{2}")


# Endings after which a word still mentions a value (and the shortest value they may follow):
# plurals, and the adjectives and nouns Spider's questions make of values ("Asian" for 'Asia',
# "European" for 'Europe', "engineering" for 'engineer'). "French" for 'France' stays out of
# reach: that needs a lexicon.
_SUFFIXES = (("s", 3), ("es", 4), ("n", 4), ("an", 4), ("ing", 4))


def normalize_words(text: str) -> list[str]:
    """Lowercase ASCII words: accents folded ("Zürich" -> "zurich"), punctuation as spaces."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    return [w for w in _NOT_ALNUM.split(folded) if w]


def is_text_value(value: str) -> bool:
    """Whether a database value is worth matching: words, not a number or a date, and not only
    words every question has."""
    if not _TWO_LETTERS.search(value):
        return False
    words = normalize_words(value)
    return bool(words) and not all(w in STOPWORDS for w in words) and len("".join(words)) >= 2


def allowed_edits(length: int) -> int:
    """Edits tolerated between a value of `length` compact characters and its mention."""
    if length <= 4:
        return 0
    return 1 if length <= 13 else 2


@dataclasses.dataclass(frozen=True)
class QuestionText:
    """A question prepared once for matching against many values."""

    compact: str  # its words, concatenated
    codes: np.ndarray  # compact as code points, int32 [n]
    starts: np.ndarray  # bool [n + 1]: a mention may start at this position (a word start)
    ends: np.ndarray  # bool [n + 1]: a mention may end at this position (a word end)
    start_positions: tuple[int, ...]
    end_positions: frozenset[int]
    trigrams: frozenset[str]

    @classmethod
    def of(cls, text: str) -> "QuestionText":
        words = normalize_words(text)
        compact = "".join(words)
        n = len(compact)
        starts = np.zeros(n + 1, dtype=bool)
        ends = np.zeros(n + 1, dtype=bool)
        at = 0
        for word in words:
            starts[at] = True
            at += len(word)
            ends[at] = True
            for suffix, shortest in _SUFFIXES:
                if word.endswith(suffix) and len(word) - len(suffix) >= shortest:
                    ends[at - len(suffix)] = True  # "cats" mentions 'cat', "Asian" 'Asia'
        codes = np.frombuffer(compact.encode("utf-32-le"), dtype=np.int32).copy()
        return cls(compact=compact, codes=codes, starts=starts, ends=ends,
                   start_positions=tuple(int(i) for i in np.flatnonzero(starts)),
                   end_positions=frozenset(int(i) for i in np.flatnonzero(ends)),
                   trigrams=frozenset(trigrams(compact)))


def compact_form(value: str) -> str:
    return "".join(normalize_words(value))


def trigrams(compact: str) -> list[str]:
    """Character trigrams of a compact string (the string itself when shorter)."""
    if len(compact) < 3:
        return [compact] if compact else []
    return [compact[i:i + 3] for i in range(len(compact) - 2)]


def mention_distance(value_compact: str, question: QuestionText) -> int | None:
    """The fewest edits between `value_compact` and a word-aligned span of the question, or
    None when that is more than `allowed_edits` (the value is not mentioned)."""
    m = len(value_compact)
    limit = allowed_edits(m)
    if m == 0 or m > len(question.compact) + limit:
        return None
    # Exact mentions are the common case, and cheap: a string comparison per word start.
    for start in question.start_positions:
        if (start + m in question.end_positions
                and question.compact.startswith(value_compact, start)):
            return 0
    if limit == 0:
        return None
    # q-gram filter: each edit destroys at most 3 of the value's trigrams (a swap 4), so a value
    # sharing fewer than that with the question cannot be within `limit` edits of a span.
    grams = trigrams(value_compact)
    if sum(g in question.trigrams for g in grams) < len(grams) - 4 * limit:
        return None
    distance = _semi_global_osa(value_compact, question)
    return distance if distance <= limit else None


def _semi_global_osa(value: str, question: QuestionText) -> int:
    """min over spans [s, e) with a word start s and a word end e of OSA(value, q[s:e])."""
    q = question.codes
    n = len(q)
    v = np.frombuffer(value.encode("utf-32-le"), dtype=np.int32)
    positions = np.arange(n + 1)
    # Row 0: the empty value against q[s:j]; cost j - s for the latest start s <= j.
    last_start = np.maximum.accumulate(np.where(question.starts, positions, -(10**6)))
    previous2 = None
    previous = positions - last_start
    limit = allowed_edits(len(v))
    for i in range(1, len(v) + 1):
        step = np.empty(n + 1, dtype=np.int64)
        step[0] = previous[0] + 1
        step[1:] = np.minimum(previous[:-1] + (q != v[i - 1]), previous[1:] + 1)
        if previous2 is not None and n >= 2:
            swapped = (q[1:] == v[i - 2]) & (q[:-1] == v[i - 1]) & (v[i - 1] != v[i - 2])
            step[2:] = np.where(swapped, np.minimum(step[2:], previous2[:-2] + 1), step[2:])
        # Skipping question characters inside the span: D[i][j] = min_j'<=j step[j'] + (j - j').
        row = np.minimum.accumulate(step - positions) + positions
        if row.min() > limit:
            return int(row.min())  # every later row is at least as far (Ukkonen's cut-off)
        previous2, previous = previous, row
    return int(previous[question.ends].min()) if question.ends.any() else len(v)
