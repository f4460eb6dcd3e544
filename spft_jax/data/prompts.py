"""What the model reads and writes: chat prompts for Text-to-SQL and SQL-to-Text, as token ids.

Text-to-SQL (the task):  schema + question (+ BIRD's evidence)  ->  one SQL query
SQL-to-Text (stage 1):   schema + SQL                          ->  the question it answers

Both go through the model's chat template (instruct models are trained on it) with a fixed system
message; the completion is the answer's tokens followed by the template's end-of-turn token, so a
fine-tuned model learns to stop after one answer. A model without a chat template gets the same
text as a plain prompt ending in "SQL:" / "Question:".

The schema text of a database is computed once per (database folder, db_id) and cached: the
pipeline builds tens of thousands of prompts over a few hundred databases.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Sequence

from spft_jax.errors import ConfigError
from spft_jax.sql.dataset import Dataset
from spft_jax.sql.schema import Schema
from spft_jax.sql.schema_prompt import SCHEMA_STYLES, schema_prompt

TEXT_TO_SQL_SYSTEM = "You are a Text-to-SQL assistant. Answer with one SQLite query and nothing else."
SQL_TO_TEXT_SYSTEM = ("You are a data analyst. Given a database schema and an SQL query, write the "
                      "question in plain English that the query answers, and nothing else.")


@dataclasses.dataclass(frozen=True)
class PromptConfig:
    schema_style: str = "compact"  # "compact" (one line per table) or "create_table"
    values_per_column: int = 0  # sample values shown per column (0: none)
    chat_template: bool = True  # use the tokenizer's chat template when it has one

    def __post_init__(self):
        if self.schema_style not in SCHEMA_STYLES:
            raise ConfigError(f"prompt field 'schema_style': {self.schema_style!r} is not one of "
                              f"{SCHEMA_STYLES}")
        if not isinstance(self.values_per_column, int) or self.values_per_column < 0:
            raise ConfigError("prompt field 'values_per_column': must be an int >= 0, got "
                              f"{self.values_per_column!r}")


class PromptBuilder:
    """Token-id prompts and completions for one tokenizer and prompt configuration."""

    def __init__(self, tokenizer, config: PromptConfig = PromptConfig()):
        self.tokenizer = tokenizer
        self.config = config
        self._schemas: dict[tuple[str, str], str] = {}
        has_template = bool(getattr(getattr(tokenizer, "hf", None), "chat_template", None))
        self.use_chat = config.chat_template and has_template
        if tokenizer.eos_id is None:
            raise ConfigError("the tokenizer has no eos token: completions could not end")

    # -- schema ------------------------------------------------------------------------------
    def schema_text(self, schema: Schema, db_path: str | pathlib.Path | None) -> str:
        key = (str(db_path), schema.db_id)
        if key not in self._schemas:
            exists = db_path is not None and pathlib.Path(db_path).is_file()
            self._schemas[key] = schema_prompt(
                schema, db_path if exists else None, values_per_column=self.config.values_per_column,
                style=self.config.schema_style)
        return self._schemas[key]

    def dataset_schema(self, dataset: Dataset, db_id: str) -> str:
        return self.schema_text(dataset.schemas[db_id], dataset.db_path(db_id))

    # -- messages ----------------------------------------------------------------------------
    def text_to_sql_messages(self, schema_text: str, question: str, evidence: str | None = None
                             ) -> list[dict[str, str]]:
        user = f"Database schema:\n{schema_text}\n\nQuestion: {question.strip()}"
        if evidence:
            user += f"\nEvidence: {evidence.strip()}"
        user += "\nWrite the SQLite query."
        return [{"role": "system", "content": TEXT_TO_SQL_SYSTEM}, {"role": "user", "content": user}]

    def sql_to_text_messages(self, schema_text: str, sql: str) -> list[dict[str, str]]:
        user = (f"Database schema:\n{schema_text}\n\nSQL: {sql.strip()}\n"
                "Write the question this query answers.")
        return [{"role": "system", "content": SQL_TO_TEXT_SYSTEM}, {"role": "user", "content": user}]

    def encode_messages(self, messages: Sequence[dict[str, str]], answer_label: str) -> list[int]:
        """The prompt ids; the model's answer follows them directly."""
        if self.use_chat:
            return self.tokenizer.encode(self.tokenizer.apply_chat_template(messages))
        text = "\n\n".join(m["content"] for m in messages) + f"\n{answer_label}:"
        return self.tokenizer.encode(text)

    # -- ids ---------------------------------------------------------------------------------
    def text_to_sql(self, dataset: Dataset, db_id: str, question: str,
                    evidence: str | None = None) -> list[int]:
        messages = self.text_to_sql_messages(self.dataset_schema(dataset, db_id), question, evidence)
        return self.encode_messages(messages, "SQL")

    def sql_to_text(self, dataset: Dataset, db_id: str, sql: str) -> list[int]:
        messages = self.sql_to_text_messages(self.dataset_schema(dataset, db_id), sql)
        return self.encode_messages(messages, "Question")

    def completion(self, text: str) -> list[int]:
        """The answer's ids and the end-of-turn id (without a chat template: a leading space,
        as after "SQL:")."""
        body = text.strip() if self.use_chat else " " + text.strip()
        return self.tokenizer.encode(body) + [self.tokenizer.eos_id]


def example_evidence(example, field: str | None) -> str | None:
    """BIRD's evidence text of an example (None for datasets without it)."""
    if not field:
        return None
    value = example.extra.get(field)
    return value if isinstance(value, str) and value.strip() else None
