"""Spider's execution-match rules, one case per rule."""

import pytest

from spft_jax.sql.compare import execution_match, has_outer_order_by, rows_match
from spft_jax.sql.sandbox import ErrorKind, ExecutionResult


def result(*rows):
    return ExecutionResult(rows=tuple(rows), columns=(), elapsed_s=0.0)


# --- results are multisets of rows ------------------------------------------------------------


def test_row_order_is_ignored_without_order_by():
    assert rows_match([(1,), (2,), (3,)], [(3,), (1,), (2,)], ordered=False)


def test_duplicate_rows_count():
    assert not rows_match([(1,), (1,), (2,)], [(1,), (2,), (2,)], ordered=False)
    assert not rows_match([(1,), (1,)], [(1,)], ordered=False)


def test_different_values_do_not_match():
    assert not rows_match([(1, "a")], [(1, "b")], ordered=False)


# --- row order matters only when the gold query sorts -----------------------------------------


def test_row_order_matters_with_order_by():
    assert not rows_match([(1,), (2,)], [(2,), (1,)], ordered=True)
    assert rows_match([(1,), (2,)], [(1,), (2,)], ordered=True)


def test_execution_match_reads_order_by_from_the_gold_query():
    gold, reversed_pred = result((1,), (2,)), result((2,), (1,))
    assert execution_match("SELECT a FROM t", gold, reversed_pred)
    assert not execution_match("SELECT a FROM t ORDER BY a", gold, reversed_pred)


@pytest.mark.parametrize(
    "sql, outer",
    [
        ("SELECT a FROM t ORDER BY a DESC LIMIT 1", True),
        ("select a from t order\n  by a", True),
        ("SELECT a FROM t UNION SELECT b FROM u ORDER BY 1", True),
        ("SELECT a FROM t WHERE b IN (SELECT b FROM u ORDER BY b LIMIT 3)", False),
        ("SELECT * FROM (SELECT a FROM t ORDER BY a)", False),
        ("SELECT 'order by' FROM t", False),
        ('SELECT "order by" FROM t', False),
        ("SELECT a FROM t -- order by a", False),
        ("SELECT a FROM t /* ORDER BY a */", False),
        ("SELECT 'it''s (' FROM t ORDER BY a", True),  # escaped quote and a paren in a string
        ("SELECT [order] FROM t", False),
    ],
)
def test_outer_order_by_detection(sql, outer):
    assert has_outer_order_by(sql) == outer


# --- column order does not matter, column count does ------------------------------------------


def test_column_order_is_ignored():
    assert rows_match([(1, "a"), (2, "b")], [("a", 1), ("b", 2)], ordered=False)
    assert rows_match([(1, "a"), (2, "b")], [("a", 1), ("b", 2)], ordered=True)


def test_columns_are_permuted_consistently_across_rows():
    # Each column holds the same values, but the rows pair them up differently.
    assert not rows_match([(1, "x"), (2, "y")], [(1, "y"), (2, "x")], ordered=False)


def test_column_count_must_agree():
    assert not rows_match([(1, 2)], [(1,)], ordered=False)
    assert not rows_match([(1,)], [(1, 1)], ordered=False)


def test_identical_columns_do_not_blow_up_the_search():
    gold = [(None,) * 12] * 50
    pred = [(None,) * 11 + (1,)] * 50
    assert rows_match(gold, gold, ordered=False)
    assert not rows_match(gold, pred, ordered=False)


# --- empty results, values, errors ------------------------------------------------------------


def test_two_empty_results_match():
    assert rows_match([], [], ordered=True)
    assert not rows_match([], [(1,)], ordered=False)
    assert not rows_match([(1,)], [], ordered=False)


def test_values_compare_with_python_equality():
    assert rows_match([(1,)], [(1.0,)], ordered=False)  # SQLite integer vs real
    assert not rows_match([("Paris",)], [("paris",)], ordered=False)  # text is case-sensitive
    assert rows_match([(None, 2)], [(2, None)], ordered=False)
    assert not rows_match([("1",)], [(1,)], ordered=False)  # text is not a number


def test_an_erroring_prediction_is_wrong_even_when_gold_is_empty():
    failed = ExecutionResult.failure(ErrorKind.SYNTAX, "near x")
    assert not execution_match("SELECT a FROM t WHERE 0", result(), failed)


def test_a_failed_gold_cannot_be_scored():
    failed = ExecutionResult.failure(ErrorKind.RUNTIME, "boom")
    with pytest.raises(ValueError, match="gold query failed"):
        execution_match("SELECT 1", failed, result((1,)))
