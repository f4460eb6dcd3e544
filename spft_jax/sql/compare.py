"""Execution match: does a predicted query return the same result as the gold query?

Spider's rules, written from their statement:
- a result is a multiset of rows: duplicates count, and row order is ignored ...
- ... unless the gold query sorts its output (ORDER BY in its outermost query), in which case
  the rows must come in the same order;
- column order does not matter: the prediction matches if some reordering of its columns gives
  the gold rows (so `SELECT a, b` matches `SELECT b, a`), but the number of columns must agree;
- two empty results match (there is no row to disagree on);
- a prediction that fails to execute is wrong.
Values compare with Python equality, under which SQLite's integer 1 equals real 1.0 and text is
case-sensitive.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from spft_jax.sql.sandbox import ExecutionResult

Row = tuple


def has_outer_order_by(sql: str) -> bool:
    """True when ORDER BY appears in the outermost query (not inside parentheses)."""
    words = _outer_words(sql)
    return any(a == "ORDER" and b == "BY" for a, b in zip(words, words[1:]))


def _outer_words(sql: str) -> list[str]:
    """The upper-cased bare words of `sql` at parenthesis depth 0, skipping quoted text and
    comments, so that `'order by'` in a string or an ORDER BY in a subquery is not seen."""
    words: list[str] = []
    depth, i, n = 0, 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"`[":
            close = "]" if ch == "[" else ch
            i += 1
            while i < n:
                if sql[i] == close:
                    # A doubled quote inside a quoted string is an escaped quote.
                    if close != "]" and i + 1 < n and sql[i + 1] == close:
                        i += 2
                        continue
                    break
                i += 1
            i += 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif ch == "(":
            depth += 1
            i += 1
        elif ch == ")":
            depth -= 1
            i += 1
        elif ch.isalpha() or ch == "_":
            start = i
            while i < n and (sql[i].isalnum() or sql[i] in "_$"):
                i += 1
            if depth == 0:
                words.append(sql[start:i].upper())
        else:
            i += 1
    return words


def rows_match(gold: Sequence[Row], pred: Sequence[Row], ordered: bool) -> bool:
    """Compares two results under the rules above (`ordered`: row order must agree)."""
    if len(gold) != len(pred):
        return False
    if not gold:
        return True
    width = len(gold[0])
    if len(pred[0]) != width:
        return False
    gold_columns = list(zip(*gold))
    pred_columns = list(zip(*pred))
    # Identical predicted columns are interchangeable, so the search picks among classes of
    # identical columns, not among columns: ten all-NULL columns are one choice, not 10!.
    classes: dict[tuple, list[int]] = {}
    for k, column in enumerate(pred_columns):
        classes.setdefault(column, []).append(k)
    members = list(classes.values())
    # A gold column can only be matched by a predicted column holding the same values (the same
    # sequence when rows are ordered, the same multiset otherwise): a handful of candidates.
    signature = tuple if ordered else Counter
    class_signatures = [signature(pred_columns[ks[0]]) for ks in members]
    candidates = [
        [c for c, sig in enumerate(class_signatures) if sig == signature(gold_column)]
        for gold_column in gold_columns
    ]
    if any(not c for c in candidates):
        return False
    gold_rows = list(gold) if ordered else Counter(gold)

    def matches(order: list[int]) -> bool:
        reordered = [tuple(row[k] for k in order) for row in pred]
        return (reordered if ordered else Counter(reordered)) == gold_rows

    return _search(candidates, members, [], [0] * len(members), matches)


def _search(candidates, members, chosen: list[int], used: list[int], matches) -> bool:
    """Tries every assignment of a distinct predicted column to each gold column in turn."""
    if len(chosen) == len(candidates):
        return matches(chosen)
    for c in candidates[len(chosen)]:
        if used[c] < len(members[c]):
            chosen.append(members[c][used[c]])
            used[c] += 1
            if _search(candidates, members, chosen, used, matches):
                return True
            used[c] -= 1
            chosen.pop()
    return False


def execution_match(gold_sql: str, gold: ExecutionResult, pred: ExecutionResult) -> bool:
    """True when `pred` counts as correct for the gold query that produced `gold`.

    The gold result must have executed; callers report gold failures separately instead of
    scoring them.
    """
    if not gold.ok:
        raise ValueError(f"gold query failed ({gold.error_kind}): {gold.error}")
    if not pred.ok:
        return False
    return rows_match(gold.rows, pred.rows, ordered=has_outer_order_by(gold_sql))
