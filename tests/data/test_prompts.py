"""Prompts and completions as token ids: the real SmolLM2 chat template, the plain-prompt path of a
tokenizer without one, the schema cache, the schema styles, matched values and schema filtering
(the shared schema prefix, determinism), and the config errors."""

import dataclasses

import pytest

from spft_jax.data import prompts as prompts_module
from spft_jax.data.prompts import (
    SQL_TO_TEXT_SYSTEM,
    TEXT_TO_SQL_SYSTEM,
    PromptBuilder,
    PromptConfig,
    SchemaFilterConfig,
    ValueMatchingConfig,
    example_evidence,
)
from spft_jax.demo import demo_paths
from spft_jax.errors import ConfigError
from spft_jax.sql.dataset import Example, load_dataset

ASSISTANT_TURN = "<|im_start|>assistant\n"
SQL = "SELECT count(*) FROM club WHERE city = 'Ashford'"


@pytest.fixture(scope="module")
def tokenizer(packaged_smollm2):
    from spft_jax.models.loading import model_config_and_tokenizer

    return model_config_and_tokenizer("smollm2-135m-instruct")[1]


@pytest.fixture(scope="module")
def dev():
    paths = demo_paths()
    return load_dataset(paths.dev, paths.tables, paths.db_dir)


class CharTokenizer:
    """One id per character, eos 0; no `hf`, so no chat template."""

    def __init__(self, eos_id=0):
        self.eos_id = eos_id

    def encode(self, text):
        return [ord(c) for c in text]

    def decode(self, ids):
        return "".join(chr(i) for i in ids)


# -- the chat template (the real tokenizer) ------------------------------------------------------

def test_text_to_sql_prompt_holds_schema_question_and_evidence(tokenizer, dev):
    builder = PromptBuilder(tokenizer)
    example = dev.examples[0]
    schema = builder.dataset_schema(dev, example.db_id)
    text = tokenizer.decode(builder.text_to_sql(dev, example.db_id, example.question, "clubs are teams"))
    assert text.startswith(f"<|im_start|>system\n{TEXT_TO_SQL_SYSTEM}<|im_end|>")
    assert schema.splitlines()[0].startswith("stadium(") and schema in text
    assert f"Question: {example.question}\nEvidence: clubs are teams\n" in text
    assert text.endswith(ASSISTANT_TURN) and text.count(ASSISTANT_TURN) == 1
    without = tokenizer.decode(builder.text_to_sql(dev, example.db_id, example.question))
    assert "Evidence" not in without and f"Question: {example.question}\n" in without
    assert without.endswith(ASSISTANT_TURN)


def test_sql_to_text_prompt_holds_schema_and_sql(tokenizer, dev):
    builder = PromptBuilder(tokenizer)
    text = tokenizer.decode(builder.sql_to_text(dev, "real_estate", f"  {SQL}\n"))
    assert text.startswith(f"<|im_start|>system\n{SQL_TO_TEXT_SYSTEM}<|im_end|>")
    assert builder.dataset_schema(dev, "real_estate") in text
    assert f"SQL: {SQL}\nWrite the question" in text
    assert text.endswith(ASSISTANT_TURN)


def test_completion_is_the_answer_then_end_of_turn(tokenizer, dev):
    builder = PromptBuilder(tokenizer)
    ids = builder.completion(f"\n  {SQL} \n")
    assert ids[-1] == tokenizer.eos_id and tokenizer.eos_id not in ids[:-1]
    assert tokenizer.decode(ids[:-1]) == SQL
    assert tokenizer.decode(ids[-1:]) == "<|im_end|>"
    # Prompt and completion together are the conversation the chat template writes for it.
    prompt = builder.text_to_sql(dev, "football_league", "How many clubs are in Ashford?")
    assert tokenizer.decode(prompt + ids).endswith(f"{ASSISTANT_TURN}{SQL}<|im_end|>")


def test_chat_template_off_gives_the_plain_prompt(tokenizer, dev):
    builder = PromptBuilder(tokenizer, PromptConfig(chat_template=False))
    assert not builder.use_chat
    text = tokenizer.decode(builder.text_to_sql(dev, "football_league", "How many clubs?"))
    assert "<|im_start|>" not in text and text.startswith(TEXT_TO_SQL_SYSTEM + "\n\n")
    assert text.endswith("Question: How many clubs?\nWrite the SQLite query.\nSQL:")
    assert tokenizer.decode(builder.completion(SQL)) == f" {SQL}<|im_end|>"


# -- a tokenizer without a chat template -------------------------------------------------------

def test_plain_prompts_end_with_the_answer_label(dev):
    tokenizer = CharTokenizer()
    builder = PromptBuilder(tokenizer)  # chat_template=True, but there is none
    assert not builder.use_chat
    schema = builder.dataset_schema(dev, "football_league")
    text = tokenizer.decode(builder.text_to_sql(dev, "football_league", " How many clubs? ", "hint"))
    assert text == (f"{TEXT_TO_SQL_SYSTEM}\n\nDatabase schema:\n{schema}\n\nQuestion: How many clubs?"
                    "\nEvidence: hint\nWrite the SQLite query.\nSQL:")
    reverse = tokenizer.decode(builder.sql_to_text(dev, "football_league", SQL))
    assert reverse.startswith(SQL_TO_TEXT_SYSTEM + "\n\n") and reverse.endswith(
        f"SQL: {SQL}\nWrite the question this query answers.\nQuestion:")
    # After "SQL:" the answer starts with a space, and still ends with the eos id.
    assert builder.completion(f"{SQL}\n") == tokenizer.encode(f" {SQL}") + [0]


def test_a_tokenizer_without_eos_is_a_config_error():
    with pytest.raises(ConfigError, match="no eos token"):
        PromptBuilder(CharTokenizer(eos_id=None))


# -- schemas -----------------------------------------------------------------------------------

def test_schema_text_is_built_once_per_database(dev, monkeypatch):
    calls = []
    real = prompts_module.schema_prompt

    def counting(schema, *args, **kwargs):
        calls.append(schema.db_id)
        return real(schema, *args, **kwargs)

    monkeypatch.setattr(prompts_module, "schema_prompt", counting)
    builder = PromptBuilder(CharTokenizer())
    first = builder.dataset_schema(dev, "football_league")
    for _ in range(3):
        builder.text_to_sql(dev, "football_league", "How many clubs?")
        builder.sql_to_text(dev, "football_league", SQL)
    assert builder.dataset_schema(dev, "football_league") is first
    builder.dataset_schema(dev, "real_estate")
    assert calls == ["football_league", "real_estate"]
    # The same db_id in another folder is another database.
    builder.schema_text(dev.schemas["football_league"], None)
    assert calls == ["football_league", "real_estate", "football_league"]


def test_schema_styles(dev):
    tables = dev.schemas["football_league"].tables
    compact = PromptBuilder(CharTokenizer(), PromptConfig(schema_style="compact"))
    lines = compact.dataset_schema(dev, "football_league").splitlines()
    assert len(lines) == len(tables) and "CREATE TABLE" not in "\n".join(lines)
    assert lines[1].startswith("club(club_id number primary key, name text")
    create = PromptBuilder(CharTokenizer(), PromptConfig(schema_style="create_table"))
    text = create.dataset_schema(dev, "football_league")
    assert text.count("CREATE TABLE ") == len(tables) and "CREATE TABLE club (" in text


def test_sample_values_come_from_the_database_when_it_exists(dev):
    builder = PromptBuilder(CharTokenizer(), PromptConfig(values_per_column=2))
    assert "'Ashford Athletic'" in builder.dataset_schema(dev, "football_league")
    missing = dataclasses.replace(dev, db_dir=dev.db_dir / "nowhere")
    assert "'Ashford Athletic'" not in builder.dataset_schema(missing, "football_league")


@pytest.mark.parametrize("changes, field", [
    ({"schema_style": "yaml"}, "schema_style"),
    ({"values_per_column": -1}, "values_per_column"),
    ({"values_per_column": 1.5}, "values_per_column"),
    ({"value_matching": {"enabled": "yes"}}, "value_matching.enabled"),
    ({"value_matching": {"top_k": 0}}, "value_matching.top_k"),
    ({"value_matching": {"max_values_per_column": 2.5}}, "value_matching.max_values_per_column"),
    ({"value_matching": {"cache_dir": None}}, "value_matching.cache_dir"),
    ({"value_matching": {"topk": 3}}, "value_matching"),
    ({"value_matching": True}, "value_matching"),
    ({"schema_filter": {"enabled": 1}}, "schema_filter.enabled"),
    ({"schema_filter": {"max_tables": 0}}, "schema_filter.max_tables"),
    ({"schema_filter": {"max_columns": -3}}, "schema_filter.max_columns"),
])
def test_prompt_config_errors_name_the_field(changes, field):
    with pytest.raises(ConfigError, match=f"^prompt field '{field}'"):
        PromptConfig(**changes)


def test_prompt_config_sections_come_from_the_configs_dicts():
    config = PromptConfig(value_matching={"enabled": True, "top_k": 2},
                          schema_filter={"enabled": True, "max_tables": 3})
    assert config.value_matching == ValueMatchingConfig(enabled=True, top_k=2)
    assert config.schema_filter == SchemaFilterConfig(enabled=True, max_tables=3)
    assert PromptConfig() == PromptConfig(value_matching={}, schema_filter={})
    assert not PromptConfig().value_matching.enabled and not PromptConfig().schema_filter.enabled


# -- matched values and schema filtering --------------------------------------------------------

MATCHING = PromptConfig(value_matching=ValueMatchingConfig(enabled=True))


def common_prefix(sequences):
    """The longest common prefix of token id lists (what the sampler prefills once)."""
    length = 0
    while all(len(s) > length and s[length] == sequences[0][length] for s in sequences):
        length += 1
    return sequences[0][:length]
ARENA = "What is the capacity of Kingsport Arena?"


def test_value_matching_off_adds_nothing(dev):
    builder = PromptBuilder(CharTokenizer())
    text = CharTokenizer().decode(builder.text_to_sql(dev, "football_league", ARENA))
    assert "values matching" not in text
    assert "Database schema:\n" in text and "\n\nQuestion: " + ARENA in text


def test_matched_values_go_between_the_schema_and_the_question(dev, tmp_path):
    tokenizer = CharTokenizer()
    builder = PromptBuilder(tokenizer, MATCHING, value_cache_dir=tmp_path)
    schema = builder.dataset_schema(dev, "football_league")
    text = tokenizer.decode(builder.text_to_sql(dev, "football_league", ARENA, "arena is a stadium"))
    assert text == (f"{TEXT_TO_SQL_SYSTEM}\n\nDatabase schema:\n{schema}\n\n"
                    "stadium.name -- values matching the question: 'Kingsport Arena'\n"
                    "stadium.city -- values matching the question: 'Kingsport'\n"
                    "club.city -- values matching the question: 'Kingsport'\n\n"
                    f"Question: {ARENA}\nEvidence: arena is a stadium\nWrite the SQLite query.\nSQL:")
    assert list(tmp_path.glob("football_league-*.json"))  # the index, cached
    # A question that mentions no value has no block.
    plain = tokenizer.decode(builder.text_to_sql(dev, "football_league", "How many clubs?"))
    assert "values matching" not in plain
    # SQL-to-Text has no question to match: the schema only.
    assert "values matching" not in tokenizer.decode(builder.sql_to_text(dev, "football_league", SQL))


def test_evidence_is_matched_too(dev):
    builder = PromptBuilder(CharTokenizer(), MATCHING)
    text = CharTokenizer().decode(builder.text_to_sql(dev, "football_league", "What is its capacity?",
                                                      "it refers to Kingsport Arena"))
    assert "values matching the question: 'Kingsport Arena'" in text


def test_all_questions_on_a_database_share_the_schema_as_a_token_prefix(tokenizer, dev, tmp_path):
    """What the sampler prefills once per database: with values matched (or not) per question,
    the common token prefix of its prompts still holds the whole schema."""
    builder = PromptBuilder(tokenizer, MATCHING, value_cache_dir=tmp_path)
    for db_id in ("football_league", "real_estate"):
        examples = [e for e in dev.examples if e.db_id == db_id][:12]
        prompts = [builder.text_to_sql(dev, db_id, e.question) for e in examples]
        texts = [tokenizer.decode(p) for p in prompts]
        assert any("values matching" in t for t in texts)
        assert any("values matching" not in t for t in texts)
        shared = tokenizer.decode(common_prefix(prompts))
        schema = builder.dataset_schema(dev, db_id)
        assert f"Database schema:\n{schema}" in shared, db_id
        # ... and nothing question-specific: the prefix ends before the first block.
        assert "values matching" not in shared and "Question:" not in shared


def test_prompts_are_deterministic(dev, tmp_path):
    questions = [e.question for e in dev.examples if e.db_id == "football_league"][:20]
    config = PromptConfig(value_matching=ValueMatchingConfig(enabled=True),
                          schema_filter=SchemaFilterConfig(enabled=True, max_tables=2))
    first = PromptBuilder(CharTokenizer(), config, value_cache_dir=tmp_path)
    ids = [first.text_to_sql(dev, "football_league", q) for q in questions]
    assert [first.text_to_sql(dev, "football_league", q) for q in questions] == ids
    # Another builder, reading the cached index, writes the same prompts byte for byte.
    again = PromptBuilder(CharTokenizer(), config, value_cache_dir=tmp_path)
    assert [again.text_to_sql(dev, "football_league", q) for q in questions] == ids
    fresh = PromptBuilder(CharTokenizer(), config)  # no cache at all
    assert [fresh.text_to_sql(dev, "football_league", q) for q in questions] == ids


PROMPT_DIGEST = """
import hashlib, sys
from spft_jax.data.prompts import PromptBuilder, PromptConfig
from spft_jax.demo import demo_paths
from spft_jax.sql.dataset import load_dataset
from tests.data.test_prompts import CharTokenizer
paths = demo_paths()
dev = load_dataset(paths.dev, paths.tables, paths.db_dir)
config = PromptConfig(value_matching={"enabled": True},
                      schema_filter={"enabled": True, "max_tables": 2})
builder = PromptBuilder(CharTokenizer(), config)
digest = hashlib.sha256()
for e in dev.examples:
    digest.update(CharTokenizer().decode(builder.text_to_sql(dev, e.db_id, e.question)).encode())
print(digest.hexdigest())
"""


def test_prompts_are_the_same_in_every_process():
    """Nothing depends on set order (string hashing is seeded per process)."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    digests = {subprocess.run([sys.executable, "-c", PROMPT_DIGEST], check=True, text=True,
                              capture_output=True, cwd=REPO_ROOT,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout
               for seed in ("1", "2")}
    assert len(digests) == 1


def test_schema_filter_shows_the_questions_tables(dev):
    tokenizer = CharTokenizer()
    config = PromptConfig(schema_filter=SchemaFilterConfig(enabled=True, max_tables=1))
    builder = PromptBuilder(tokenizer, config)
    full = builder.dataset_schema(dev, "football_league")
    text = tokenizer.decode(builder.text_to_sql(dev, "football_league", ARENA))
    schema_part = text.split("Database schema:\n")[1].split("\n\nQuestion:")[0]
    assert schema_part.startswith("stadium(") and "\n" not in schema_part
    assert schema_part in full.splitlines()
    # SQL-to-Text keeps the whole schema.
    assert full in tokenizer.decode(builder.sql_to_text(dev, "football_league", SQL))


def test_a_builder_for_another_tokenizer_shares_indexes_and_schemas(dev):
    builder = PromptBuilder(CharTokenizer(), MATCHING)
    builder.text_to_sql(dev, "football_league", ARENA)
    other = builder.with_tokenizer(CharTokenizer())
    assert other.config == builder.config and other._indexes is builder._indexes
    assert other.text_to_sql(dev, "football_league", ARENA) == builder.text_to_sql(
        dev, "football_league", ARENA)


# -- BIRD's evidence ---------------------------------------------------------------------------

def test_example_evidence():
    example = Example(0, "football_league", "q", "SELECT 1", extra={"evidence": " hint ", "blank": " ",
                                                                     "number": 3})
    assert example_evidence(example, "evidence") == " hint "
    assert example_evidence(example, None) is None and example_evidence(example, "") is None
    assert example_evidence(example, "blank") is None
    assert example_evidence(example, "number") is None
    assert example_evidence(example, "absent") is None
