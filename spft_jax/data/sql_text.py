"""From a model's text answer to one line of SQL, and from a question model's answer to a question.

Models answer in many shapes: bare SQL, SQL in a ```sql fence, SQL followed by an explanation,
several statements. We keep the first statement of the first fenced block (or of the text when
there is none) and write it on one line, because Spider-format prediction files hold one query
per line. Nothing here makes SQL safe to run: that is the sandboxed executor's job; this only
decides which text is the model's answer.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"```[ \t]*(?:sql|sqlite)?[ \t]*\n?(.*?)(?:```|$)", re.IGNORECASE | re.DOTALL)
_LEADING_LABEL = re.compile(r"^\s*(?:sql|sqlite|query|answer)\s*:\s*", re.IGNORECASE)


def first_statement(sql: str) -> str:
    """`sql` up to its first semicolon outside quotes and comments (without the semicolon)."""
    quote: str | None = None
    i = 0
    while i < len(sql):
        char = sql[i]
        if quote is not None:
            if char == quote:
                # A doubled quote inside a literal is an escaped quote, not the end of it.
                if i + 1 < len(sql) and sql[i + 1] == quote:
                    i += 2
                    continue
                quote = None
        elif char in "'\"`":
            quote = char
        elif char == "[":
            quote = "]"
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = len(sql) if end < 0 else end
            continue
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = len(sql) if end < 0 else end + 2
            continue
        elif char == ";":
            return sql[:i]
        i += 1
    return sql


def one_line(text: str) -> str:
    """Whitespace runs (newlines included) as single spaces, ends stripped."""
    return " ".join(text.split())


def extract_sql(answer: str) -> str:
    """The SQL query in a model's answer, on one line ("" when there is none)."""
    fenced = _FENCE.search(answer)
    text = fenced.group(1) if fenced else answer
    text = _LEADING_LABEL.sub("", text)
    return one_line(first_statement(text))


def extract_question(answer: str) -> str:
    """The question in a SQL-to-Text model's answer: its first non-empty line, one line."""
    for line in answer.strip().splitlines():
        line = re.sub(r"^\s*(?:question\s*:\s*)", "", line, flags=re.IGNORECASE).strip()
        if line:
            return one_line(line.strip('"'))
    return ""
