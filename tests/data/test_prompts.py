"""Prompts and completions as token ids: the real SmolLM2 chat template, the plain-prompt path of a
tokenizer without one, the schema cache, the schema styles and the config errors."""

import dataclasses

import pytest

from spft_jax.data import prompts as prompts_module
from spft_jax.data.prompts import (
    SQL_TO_TEXT_SYSTEM,
    TEXT_TO_SQL_SYSTEM,
    PromptBuilder,
    PromptConfig,
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
])
def test_prompt_config_errors_name_the_field(changes, field):
    with pytest.raises(ConfigError, match=f"^prompt field '{field}'"):
        PromptConfig(**changes)


# -- BIRD's evidence ---------------------------------------------------------------------------

def test_example_evidence():
    example = Example(0, "football_league", "q", "SELECT 1", extra={"evidence": " hint ", "blank": " ",
                                                                     "number": 3})
    assert example_evidence(example, "evidence") == " hint "
    assert example_evidence(example, None) is None and example_evidence(example, "") is None
    assert example_evidence(example, "blank") is None
    assert example_evidence(example, "number") is None
    assert example_evidence(example, "absent") is None
