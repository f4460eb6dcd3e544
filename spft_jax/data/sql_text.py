"""From a model's text answer to one line of SQL, and from a question model's answer to a question.

Models answer in many shapes: bare SQL, SQL in a ```sql fence, SQL followed by an explanation,
several statements. We keep the first statement of the first fenced block (or of the text when
there is none) and write it on one line, because Spider-format prediction files hold one query
per line. Nothing here makes SQL safe to run: that is the sandboxed executor's job; this only
decides which text is the model's answer.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"```[ \t]*(?:sqlite|sql)?[ \t]*\n?(.*?)(?:```|$)", re.IGNORECASE | re.DOTALL)
# The first fenced block, closed. Once a text holds it, `extract_sql` of that text is what it is
# of any continuation: the answer starts at the first fence (`_FENCE` matches from the leftmost
# ```) and its block ends at the next ``` (its label, `sql` and blanks, holds no backtick), so
# nothing written after the closing fence is read. A sampler can stop a row there (a stop
# pattern, kept in the text) and lose nothing.
CLOSED_FENCE = re.compile(r"```.*?```", re.DOTALL)
_LEADING_LABEL = re.compile(r"^\s*(?:sql|sqlite|query|answer)\s*:\s*", re.IGNORECASE)


def first_statement(sql: str, keep_comments: bool = True) -> str:
    """`sql` up to its first semicolon outside quotes and comments (without the semicolon).
    With keep_comments=False each comment becomes a space, so the statement can go on one line
    (a `--` comment would otherwise run on over everything after it)."""
    quote: str | None = None
    kept: list[str] = []  # text before `start`, comments dropped
    start = 0
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
        elif sql.startswith("--", i) or sql.startswith("/*", i):
            if sql.startswith("--", i):
                end = sql.find("\n", i)
                end = len(sql) if end < 0 else end
            else:
                end = sql.find("*/", i + 2)
                end = len(sql) if end < 0 else end + 2
            if not keep_comments:
                kept += [sql[start:i], " "]
                start = end
            i = end
            continue
        elif char == ";":
            return "".join(kept) + sql[start:i]
        i += 1
    return "".join(kept) + sql[start:]


def one_line(text: str) -> str:
    """The text on one line: whitespace runs outside quoted literals become one space, and line
    breaks or tabs inside a literal a space each (a prediction file holds one query per line);
    spaces inside a literal are kept, since they are part of the value."""
    out: list[str] = []
    quote: str | None = None
    pending_space = False
    for char in text.strip():
        if quote is None and char.isspace():
            pending_space = True
            continue
        if pending_space:
            out.append(" ")
            pending_space = False
        if quote is not None:
            out.append(" " if char in "\r\n\t" else char)
            if char == quote:
                quote = None
        else:
            out.append(char)
            if char in "'\"`":
                quote = char
            elif char == "[":
                quote = "]"
    return "".join(out)


def extract_sql(answer: str) -> str:
    """The SQL query in a model's answer, on one line ("" when there is none)."""
    fenced = _FENCE.search(answer)
    text = fenced.group(1) if fenced else answer
    text = _LEADING_LABEL.sub("", text)
    return one_line(first_statement(text, keep_comments=False))


def extract_question(answer: str) -> str:
    """The question in a SQL-to-Text model's answer: its first non-empty line, one line."""
    for line in answer.strip().splitlines():
        line = _unquote(line.strip())
        line = _unquote(re.sub(r"^(?:question\s*:\s*)", "", line, flags=re.IGNORECASE).strip())
        if line:
            return " ".join(line.split())
    return ""


def _unquote(line: str) -> str:
    """The line without a pair of double quotes around all of it (a quote inside stays)."""
    if len(line) > 1 and line[0] == line[-1] == '"':
        return line[1:-1].strip()
    return line
