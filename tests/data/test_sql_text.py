"""From a model's answer to one line of SQL (or one question): fences, labels, quotes, comments,
several statements, and the question model's answers."""

import pytest

from spft_jax.data.sql_text import (CLOSED_FENCE, extract_question, extract_sql, first_statement,
                                   one_line)

ANSWERS = [  # (model answer, the SQL we keep)
    ("SELECT name FROM singer", "SELECT name FROM singer"),
    ("  SELECT name FROM singer;  ", "SELECT name FROM singer"),
    ("```sql\nSELECT name FROM singer;\n```", "SELECT name FROM singer"),
    ("```SQL\nSELECT name FROM singer\n```", "SELECT name FROM singer"),
    ("```sqlite\nSELECT name FROM singer\n```", "SELECT name FROM singer"),
    ("```\nSELECT name FROM singer\n```", "SELECT name FROM singer"),
    ("```sql SELECT name FROM singer```", "SELECT name FROM singer"),
    ("```sql\nSELECT name\nFROM singer", "SELECT name FROM singer"),  # unterminated fence
    ("Here is the query:\n```sql\nSELECT name FROM singer\n```\nIt lists every singer's name.",
     "SELECT name FROM singer"),
    ("```sql\nSELECT 1\n```\nor\n```sql\nSELECT 2\n```", "SELECT 1"),  # the first fence
    ("SQL: SELECT name FROM singer", "SELECT name FROM singer"),
    ("sqlite:SELECT 1", "SELECT 1"),
    ("Answer: SELECT 1", "SELECT 1"),
    ("```sql\nQuery: SELECT 1\n```", "SELECT 1"),
    ("SELECT 1; SELECT 2;", "SELECT 1"),
    ("SELECT 1;\nDROP TABLE singer;", "SELECT 1"),
    ("SELECT name\n  FROM singer\n\tWHERE age > 30", "SELECT name FROM singer WHERE age > 30"),
    ("", ""),
    ("   \n ", ""),
    ("```sql\n```", ""),
    (";", ""),
]


@pytest.mark.parametrize("answer, sql", ANSWERS)
def test_extract_sql(answer, sql):
    assert extract_sql(answer) == sql


STATEMENTS = [  # (text, its first statement): semicolons that do not end it
    ("SELECT * FROM t WHERE a = 'x;y'; SELECT 2", "SELECT * FROM t WHERE a = 'x;y'"),
    ('SELECT * FROM t WHERE a = "x;y"; SELECT 2', 'SELECT * FROM t WHERE a = "x;y"'),
    ("SELECT `a;b` FROM t; SELECT 2", "SELECT `a;b` FROM t"),
    ("SELECT [a;b] FROM t; SELECT 2", "SELECT [a;b] FROM t"),
    ("SELECT 'it''s; fine' FROM t; SELECT 2", "SELECT 'it''s; fine' FROM t"),
    ('SELECT "say ""hi;""" FROM t; SELECT 2', 'SELECT "say ""hi;""" FROM t'),
    ("SELECT ''; SELECT 2", "SELECT ''"),  # an empty literal ends where it starts
    ("SELECT '''' ; SELECT 2", "SELECT '''' "),
    ("SELECT 1 -- one; two\n; SELECT 2", "SELECT 1 -- one; two\n"),
    ("SELECT 1 /* one; two */; SELECT 2", "SELECT 1 /* one; two */"),
    ("SELECT 1 -- trailing; comment", "SELECT 1 -- trailing; comment"),
    ("SELECT 1 /* unterminated; comment", "SELECT 1 /* unterminated; comment"),
    ("SELECT 'unterminated; literal", "SELECT 'unterminated; literal"),
    ("SELECT '--' ; SELECT 2", "SELECT '--' "),  # a comment marker inside a literal is text
    ("SELECT \"/*\" ; SELECT 2 */", 'SELECT "/*" '),
    ("SELECT 1 - -1; SELECT 2", "SELECT 1 - -1"),  # two minus signs apart are no comment
]


@pytest.mark.parametrize("text, statement", STATEMENTS)
def test_first_statement_ignores_semicolons_in_quotes_and_comments(text, statement):
    assert first_statement(text) == statement


def test_extract_sql_keeps_quoted_semicolons_and_doubled_quotes():
    answer = "```sql\nSELECT name FROM singer\nWHERE song = 'it''s; over'; SELECT 2\n```"
    assert extract_sql(answer) == "SELECT name FROM singer WHERE song = 'it''s; over'"


@pytest.mark.parametrize("answer, sql", [
    ("-- the singers' names\nSELECT name FROM singer;", "SELECT name FROM singer"),
    ("SELECT name -- their name\nFROM singer\nWHERE age > 30; -- older ones",
     "SELECT name FROM singer WHERE age > 30"),
    ("SELECT name /* their\nname */ FROM singer", "SELECT name FROM singer"),
    ("SELECT '-- not a comment' FROM singer -- a comment", "SELECT '-- not a comment' FROM singer"),
])
def test_comments_do_not_swallow_sql_once_on_one_line(answer, sql):
    # A line comment ends at its newline: written on one line as it stands, it would comment
    # out everything after it (or, leading, the whole query).
    assert extract_sql(answer) == sql


def test_one_line():
    assert one_line("  SELECT a,\n\n\tb\r\n FROM t  ") == "SELECT a, b FROM t"
    assert one_line("\n \t") == ""


QUESTIONS = [  # (question model's answer, the question we keep)
    ("How many singers are there?", "How many singers are there?"),
    ("\n\n  How many singers are there?  \nThe query counts the singers.", "How many singers are there?"),
    ("Question: How many singers are there?", "How many singers are there?"),
    ("question:How many singers are there?", "How many singers are there?"),
    ("Question:\nHow many singers are there?", "How many singers are there?"),
    ('"How many singers are there?"', "How many singers are there?"),
    ('Question: "How many singers are there?"', "How many singers are there?"),
    ('Which songs are called "Love"', 'Which songs are called "Love"'),  # not surrounding quotes
    ("How  many\tsingers?", "How many singers?"),
    ("", ""),
    ("  \n\n ", ""),
    ("Question:", ""),
]


@pytest.mark.parametrize("answer, question", QUESTIONS)
def test_extract_question(answer, question):
    assert extract_question(answer) == question


def test_one_line_keeps_spaces_inside_literals():
    # A run of spaces inside a string literal is part of the value the query compares with.
    assert one_line("SELECT *\n  FROM t WHERE name = 'a  b'") == "SELECT * FROM t WHERE name = 'a  b'"
    assert one_line("SELECT 'x\ny'") == "SELECT 'x y'"


def test_nothing_after_the_closed_fence_changes_the_sql():
    """CLOSED_FENCE is where a sampler may stop a completion: cut at the match's end, every
    answer keeps its SQL, whatever would have followed. Checked on the answers above and on
    random texts over the characters that matter (backticks, labels, blanks, semicolons)."""
    import random

    rng = random.Random(0)
    alphabet = ["`", "`", "```", "sql", "sqlite", "SQL", " ", "\n", ";", "x", "SELECT 1", "'"]
    texts = [answer for answer, _ in ANSWERS]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14))) for _ in range(20000)]
    suffixes = ["", "`", "``", "```", "\n```sql\nSELECT 2\n```", "; SELECT 3", "'", "x```"]
    closed = 0
    for text in texts:
        match = CLOSED_FENCE.search(text)
        if match is None:
            continue
        closed += 1
        cut = text[:match.end()]
        assert CLOSED_FENCE.search(cut).end() == len(cut)
        for suffix in ("", text[match.end():], *suffixes):
            assert extract_sql(cut + suffix) == extract_sql(cut), (text, suffix)
    assert closed > 1000  # the random texts do exercise the rule
