"""Self-consistency's vote: one SQL per question from its samples, by execution result.

The kept sample is the one whose execution result most of the samples share (failed samples do
not vote; a tie goes to the earliest sample; when every sample fails, the first is kept so the
report shows its error). Row order does not matter: results are compared as multisets.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence

from spft_jax.sql.dataset import Dataset
from spft_jax.sql.executor import SqlExecutor


def result_key(rows: Sequence[tuple]) -> tuple:
    """What two results share when they are the same multiset of rows."""
    return tuple(sorted((repr(row) for row in rows)))


def majority_vote(executor: SqlExecutor, dataset: Dataset, samples: Sequence[Sequence[str]]) -> list[str]:
    """One SQL per question from its samples, by the most common execution result."""
    jobs = [(dataset.db_path(e.db_id), sql) for e, options in zip(dataset.examples, samples)
            if dataset.has_database(e) for sql in options]
    results = iter(executor.execute_many(jobs))
    chosen = []
    for example, options in zip(dataset.examples, samples):
        if not dataset.has_database(example):
            chosen.append(options[0])
            continue
        outcomes = [next(results) for _ in options]
        votes = collections.Counter(result_key(r.rows) for r in outcomes if r.ok)
        if not votes:
            chosen.append(options[0])
            continue
        best = max(votes.values())
        chosen.append(next(sql for sql, r in zip(options, outcomes)
                           if r.ok and votes[result_key(r.rows)] == best))
    return chosen
