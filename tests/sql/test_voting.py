"""Self-consistency's vote on the demo dev databases: the most common execution result wins, row
order does not matter, failures do not vote, ties go to the earliest sample, and a question whose
database is missing keeps its first sample without anything being run."""

import dataclasses

import pytest

from spft_jax.demo import demo_paths
from spft_jax.sql.voting import majority_vote, result_key
from spft_jax.sql.dataset import load_dataset
from spft_jax.sql.executor import SqlExecutor

# (samples of one football_league question, the one the vote keeps)
VOTES = {
    "two of three agree": (
        ["SELECT count(*) FROM stadium", "SELECT count(*) FROM club", "SELECT COUNT(club_id) FROM club"],
        "SELECT count(*) FROM club"),
    "row order does not matter": (
        ["SELECT name FROM stadium", "SELECT name FROM club ORDER BY name",
         "SELECT name FROM club ORDER BY name DESC"],
        "SELECT name FROM club ORDER BY name"),
    "duplicate rows count": (  # two clubs are in Kingsport: DISTINCT is another result
        ["SELECT city FROM club", "SELECT DISTINCT city FROM club",
         "SELECT DISTINCT city FROM club ORDER BY city DESC"],
        "SELECT DISTINCT city FROM club"),
    "failures do not vote": (
        ["SELEC name FROM club", "SELEC name FROM club", "SELECT name FROM no_such_table",
         "SELECT city FROM club"],
        "SELECT city FROM club"),
    "an empty result votes": (
        ["SELECT name FROM club", "SELECT name FROM club WHERE 0", "SELECT name FROM club WHERE 1 = 2"],
        "SELECT name FROM club WHERE 0"),
    "all fail: the first": (["SELEC 1", "SELECT x FROM nowhere", ""], "SELEC 1"),
    "a tie: the earliest": (["SELECT 1", "SELECT 2"], "SELECT 1"),
    "a two-two tie: the earliest": (["SELECT 2", "SELECT 1", "SELECT 0 + 1", "SELECT 4 / 2"], "SELECT 2"),
    "one sample": (["SELECT name FROM player"], "SELECT name FROM player"),
}


@pytest.fixture(scope="module")
def dev():
    paths = demo_paths()
    return load_dataset(paths.dev, paths.tables, paths.db_dir)


@pytest.fixture(scope="module")
def executor():
    with SqlExecutor(workers=0) as executor:
        yield executor


class RecordingExecutor:
    """Passes jobs to a real executor and remembers them."""

    def __init__(self, executor):
        self.executor = executor
        self.jobs = []

    def execute_many(self, jobs, **kwargs):
        self.jobs += list(jobs)
        return self.executor.execute_many(jobs, **kwargs)


def questions(dataset, db_ids):
    """A dataset of one dev question per entry of `db_ids`, in that order."""
    pool = {db: [e for e in dataset.examples if e.db_id == db] for db in set(db_ids)}
    examples = tuple(pool[db].pop(0) for db in db_ids)
    return dataclasses.replace(dataset, examples=examples)


@pytest.mark.parametrize("case", list(VOTES))
def test_one_question(dev, executor, case):
    samples, expected = VOTES[case]
    assert majority_vote(executor, questions(dev, ["football_league"]), [samples]) == [expected]


def test_many_questions_in_one_call_keep_their_own_samples(dev, executor):
    cases = list(VOTES.values())
    dataset = questions(dev, ["football_league"] * len(cases))
    chosen = majority_vote(executor, dataset, [samples for samples, _ in cases])
    assert chosen == [expected for _, expected in cases]


def test_a_question_without_its_database_keeps_its_first_sample(dev, executor, tmp_path):
    # Only football_league is on disk: running anything on real_estate would raise.
    (tmp_path / "football_league").symlink_to(dev.db_dir / "football_league", target_is_directory=True)
    dataset = questions(dev, ["football_league", "real_estate", "football_league"])
    dataset = dataclasses.replace(dataset, db_dir=tmp_path, missing_db_ids=frozenset({"real_estate"}))
    samples = [VOTES["two of three agree"][0],
               ["SELECT nothing", "SELECT count(*) FROM office", "SELECT count(*) FROM office"],
               VOTES["failures do not vote"][0]]
    recording = RecordingExecutor(executor)
    chosen = majority_vote(recording, dataset, samples)
    assert chosen == ["SELECT count(*) FROM club", "SELECT nothing", "SELECT city FROM club"]
    assert [sql for _, sql in recording.jobs] == samples[0] + samples[2]
    assert {str(db) for db, _ in recording.jobs} == {str(tmp_path / "football_league" / "football_league.sqlite")}


def test_result_key():
    assert result_key([(1, "a"), (2, "b")]) == result_key([(2, "b"), (1, "a")])
    assert result_key([(1,), (1,)]) != result_key([(1,)])  # a multiset, not a set
    assert result_key([(1, "a")]) != result_key([("a", 1)])  # column order counts
    assert result_key([(1,)]) != result_key([("1",)])
    assert result_key([(None,), (2,), (1.5,)]) == result_key([(1.5,), (None,), (2,)])  # mixed types sort
    assert result_key([]) == result_key(()) != result_key([()])
