"""Okapi BM25 over pre-tokenised documents: the coarse stage of value matching.

Our own ~50 lines rather than a library: rank-bm25 scores a query with a Python loop over every
document for each query term (a question has ~60 terms here, a large database 10^5 values), and
bm25s brings its own tokenisers, stemmers and a scipy dependency, while what is needed here is
small: terms we make ourselves (value words and character trigrams, so a typo still shares most
terms), postings as numpy arrays, and scores that are the same bit for bit on every run, which is
why query terms are summed in their order of first appearance (never in set order) and ties are
broken by document number.

Scoring is Lucene's variant: idf = ln(1 + (N - df + 0.5) / (df + 0.5)) (never negative), and
tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / mean_len)).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np


class BM25:
    def __init__(self, documents: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75):
        self.size = len(documents)
        lengths = np.array([len(d) for d in documents], dtype=np.float64)
        mean_length = float(lengths.mean()) if self.size and lengths.sum() else 1.0
        ids: dict[str, list[int]] = {}
        frequencies: dict[str, list[int]] = {}
        for number, document in enumerate(documents):
            for term, tf in Counter(document).items():
                ids.setdefault(term, []).append(number)
                frequencies.setdefault(term, []).append(tf)
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for term, docs in ids.items():
            docs_array = np.array(docs, dtype=np.int32)
            tf = np.array(frequencies[term], dtype=np.float64)
            idf = math.log(1.0 + (self.size - len(docs) + 0.5) / (len(docs) + 0.5))
            norm = k1 * (1.0 - b + b * lengths[docs_array] / mean_length)
            weights = idf * tf * (k1 + 1.0) / (tf + norm)
            self._postings[term] = (docs_array, weights.astype(np.float32))

    def scores(self, query: Sequence[str]) -> np.ndarray:
        """float32 [size]: each document's score for the query (repeated terms count once)."""
        total = np.zeros(self.size, dtype=np.float32)
        for term in dict.fromkeys(query):  # first-appearance order: the same sums every run
            posting = self._postings.get(term)
            if posting is not None:
                total[posting[0]] += posting[1]
        return total

    def top(self, query: Sequence[str], n: int) -> list[int]:
        """The numbers of the (at most) `n` best documents with a positive score, best first,
        ties in document order."""
        scores = self.scores(query)
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > n:
            # The n-th best score, then everything at least that good (ties at the cut stay in).
            cut = np.partition(scores[candidates], len(candidates) - n)[len(candidates) - n]
            candidates = candidates[scores[candidates] >= cut]
        order = np.lexsort((candidates, -scores[candidates]))
        return [int(i) for i in candidates[order][:n]]
