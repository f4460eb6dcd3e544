"""Spider-format question files: required fields, extras, unknown and missing databases."""

import json

import pytest

from spft_jax.errors import DataError, UnknownDatabaseError
from spft_jax.sql.dataset import load_dataset, load_questions
from tests.sql.tiny_benchmark import make_benchmark

QUESTIONS = [
    {"db_id": "shop", "question": "How many customers?", "query": "SELECT count(*) FROM customer"},
    {"db_id": "gone", "question": "Anything?", "query": "SELECT 1"},
    {"db_id": "shop", "question": "Names?", "query": "SELECT name FROM customer", "difficulty": "x"},
]


def test_spider_dev_counts_its_missing_database(spider_dir):
    dev = load_dataset(spider_dir / "dev.json", spider_dir / "tables.json", spider_dir / "database")
    assert len(dev.examples) == 1034
    assert dev.missing == {"wta_1": 62}
    assert len(dev.available) == 972
    assert "62 skipped because their database file is missing: wta_1 (62)" in dev.summary()
    first = dev.examples[0]
    assert (first.index, first.db_id, first.query) == (0, "concert_singer", "SELECT count(*) FROM singer")
    assert "query_toks" in first.extra  # official extra fields are kept, not required


def test_spider_train_needs_only_three_fields(spider_dir):
    train = load_dataset(
        spider_dir / "train_spider.reconstructed.json",
        spider_dir / "tables.json",
        spider_dir / "database",
    )
    assert len(train.examples) == 7000
    assert train.missing == {"baseball_1": 82, "soccer_1": 14}


def test_missing_database_is_skipped_not_fatal(tmp_path):
    paths = make_benchmark(tmp_path, QUESTIONS)
    dataset = load_dataset(paths["gold"], paths["tables"], paths["db_dir"])
    assert dataset.missing == {"gone": 1}
    assert [e.index for e in dataset.available] == [0, 2]
    assert dataset.examples[2].extra == {"difficulty": "x"}
    assert dataset.db_path("shop").name == "shop.sqlite"


def test_unknown_db_id_is_an_error(tmp_path):
    paths = make_benchmark(tmp_path, QUESTIONS + [{"db_id": "typo", "question": "q", "query": "SELECT 1"}])
    with pytest.raises(UnknownDatabaseError, match="'typo'"):
        load_dataset(paths["gold"], paths["tables"], paths["db_dir"])


def test_bird_style_query_field_and_evidence(tmp_path):
    path = tmp_path / "bird.json"
    path.write_text(json.dumps([{"db_id": "shop", "question": "q", "SQL": "SELECT 1", "evidence": "e"}]))
    (example,) = load_questions(path, query_field="SQL")
    assert example.query == "SELECT 1" and example.extra == {"evidence": "e"}
    with pytest.raises(DataError, match="no string field 'query'"):
        load_questions(path)


@pytest.mark.parametrize(
    "content, message",
    [
        ("[{", "not valid JSON"),
        ('{"db_id": "shop"}', "must hold a JSON list"),
        ('["SELECT 1"]', "entry 0 is not an object"),
        ('[{"db_id": "shop", "question": "q"}]', "entry 0 has no string field 'query'"),
        ('[{"db_id": "shop", "query": "SELECT 1"}]', "entry 0 has no string field 'question'"),
    ],
)
def test_malformed_question_files(tmp_path, content, message):
    path = tmp_path / "questions.json"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        load_questions(path)


def test_missing_files_are_named(tmp_path):
    paths = make_benchmark(tmp_path, QUESTIONS)
    with pytest.raises(DataError, match="question file not found"):
        load_questions(tmp_path / "absent.json")
    with pytest.raises(DataError, match="database folder not found"):
        load_dataset(paths["gold"], paths["tables"], tmp_path / "no_dbs")
