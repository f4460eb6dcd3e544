"""Stop strings on text pieces: the first completing token, the cut, the earliest match."""

from spft_jax.sampling.stops import find_stop

PIECES = ["SELECT", " a", " FROM", " t", ";\n", "\n", "x", "END", "ok"]


def decode(ids):
    return "".join(PIECES[i] for i in ids)


def test_a_stop_inside_one_token():
    tokens = [0, 1, 2, 3, 4, 6, 6]  # "SELECT a FROM t;\nxx"
    match = find_stop(tokens, 0, ["\n"], decode, include_stop_str=False)
    assert (match.length, match.text, match.stop) == (5, "SELECT a FROM t;", "\n")
    match = find_stop(tokens, 0, ["\n"], decode, include_stop_str=True)
    assert match.text == "SELECT a FROM t;\n"


def test_a_stop_spanning_tokens_ends_at_the_completing_token():
    tokens = [0, 1, 2, 3, 6, 6, 7]  # "SELECT a FROM txxEND"
    match = find_stop(tokens, 0, ["M t"], decode, include_stop_str=False)
    assert (match.length, match.text) == (4, "SELECT a FRO")
    # A token holding the end of the stop and more: the text stops at the stop string.
    match = find_stop([0, 1, 4, 6], 0, [";"], decode, include_stop_str=True)
    assert (match.length, match.text) == (3, "SELECT a;")


def test_no_stop_and_no_stop_strings():
    assert find_stop([0, 1, 2], 0, ["zzz"], decode, False) is None
    assert find_stop([0, 1, 2], 0, [], decode, False) is None


def test_the_earliest_occurrence_wins_and_checked_tokens_are_skipped():
    tokens = [0, 1, 5, 2, 3, 5, 7]  # "SELECT a\n FROM t\nEND"
    match = find_stop(tokens, 0, ["END", "\n"], decode, False)
    assert (match.stop, match.length, match.text) == ("\n", 3, "SELECT a")
    # Two stops starting at the same place: the longer one is reported.
    match = find_stop(tokens, 0, [" FROM", "\n FROM"], decode, True)
    assert (match.stop, match.text) == ("\n FROM", "SELECT a\n FROM")
    # The scan for the first completing token starts after `checked` tokens.
    match = find_stop(tokens, 5, ["\n"], decode, False)
    assert match.length == 6


def test_a_pattern_stop_ends_at_the_token_that_completes_its_match():
    import re

    fence = re.compile(r"```.*?```", re.DOTALL)
    pieces = ["```", "sql\n", "SELECT a", "\n``", "`", "\nThis", " works"]

    def decode_fenced(ids):
        return "".join(pieces[i] for i in ids)

    tokens = [0, 1, 2, 3, 4, 5, 6]
    match = find_stop(tokens, 0, [fence], decode_fenced, include_stop_str=True)
    assert (match.length, match.text, match.stop) == (5, "```sql\nSELECT a\n```", fence.pattern)
    match = find_stop(tokens, 0, [fence], decode_fenced, include_stop_str=False)
    assert match.text == ""  # cut before the match, which starts the text
    # With a string stop beside it, the occurrence that starts first wins.
    match = find_stop(tokens, 0, [fence, "SELECT"], decode_fenced, include_stop_str=False)
    assert (match.stop, match.text, match.length) == ("SELECT", "```sql\n", 3)
    assert find_stop(tokens[:4], 0, [fence], decode_fenced, True) is None  # not closed yet


def test_a_stop_pattern_must_need_some_text():
    import re

    import pytest

    from spft_jax.errors import ConfigError
    from spft_jax.sampling import SamplingParams

    assert SamplingParams(stop=re.compile("a+")).stop == (re.compile("a+"),)
    with pytest.raises(ConfigError, match="sampling field 'stop'"):
        SamplingParams(stop=(re.compile("a*"),))
