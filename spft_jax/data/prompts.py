"""What the model reads and writes: chat prompts for Text-to-SQL and SQL-to-Text, as token ids.

Text-to-SQL (the task):  schema + question (+ BIRD's evidence)  ->  one SQL query
SQL-to-Text (stage 1):   schema + SQL                          ->  the question it answers

Both go through the model's chat template (instruct models are trained on it) with a fixed system
message; the completion is the answer's tokens followed by the template's end-of-turn token, so a
fine-tuned model learns to stop after one answer. A model without a chat template gets the same
text as a plain prompt ending in "SQL:" / "Question:".

The schema text of a database is computed once per (database folder, db_id) and cached: the
pipeline builds tens of thousands of prompts over a few hundred databases.

Layout of a Text-to-SQL prompt (the user turn), shared part first:

    Database schema:
    <the database's schema text>                      <- the same for every question on it
                                                         (the sampler prefills it once)
    <table.column -- values matching the question: 'v', ...>   (prompt.value_matching)
    Question: ...
    Evidence: ...                                      (BIRD)
    Write the SQLite query.

With prompt.schema_filter on, the schema text itself is the question's filtered view, so only
the system message and "Database schema:" are shared: prompts are shorter, but each one's schema
is prefilled on its own. SQL-to-Text prompts (stage 1) have no question to match or filter by:
they always show the full schema. Every stage builds Text-to-SQL prompts through
`PromptBuilder.text_to_sql` (SFT, stage-1 training and verification, self-play, evaluation), so
they all see the same prompt for the same question.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence

from spft_jax.data.schema_filter import filter_schema
from spft_jax.data.value_index import ValueIndex, ValueMatch, build_value_index
from spft_jax.config_schema import POSITIVE_INT, Section, field
from spft_jax.errors import ConfigError
from spft_jax.sql.dataset import Dataset
from spft_jax.sql.schema import Schema
from spft_jax.sql.schema_text import SCHEMA_STYLES, schema_prompt

TEXT_TO_SQL_SYSTEM = "You are a Text-to-SQL assistant. Answer with one SQLite query and nothing else."
SQL_TO_TEXT_SYSTEM = ("You are a data analyst. Given a database schema and an SQL query, write the "
                      "question in plain English that the query answers, and nothing else.")


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


@dataclasses.dataclass(frozen=True)
class ValueMatchingConfig(Section):
    enabled: bool = field(False)  # show database values that the question mentions
    top_k: int = field(3, POSITIVE_INT)  # matched values shown per column
    max_values_per_column: int = field(5000, POSITIVE_INT)  # distinct text values indexed per column
    cache_dir: str = field("")  # where value indexes are cached ("": <workdir>/cache/value_index)

    def __post_init__(self):
        _check(isinstance(self.enabled, bool), "value_matching.enabled", "must be true or false",
               self.enabled)
        for name in ("top_k", "max_values_per_column"):
            _check(_positive_int(getattr(self, name)), f"value_matching.{name}",
                   "must be an int >= 1", getattr(self, name))
        _check(isinstance(self.cache_dir, str), "value_matching.cache_dir", "must be a string",
               self.cache_dir)


@dataclasses.dataclass(frozen=True)
class SchemaFilterConfig(Section):
    enabled: bool = field(False)  # show only the tables and columns the question is about
    max_tables: int = field(6, POSITIVE_INT)  # tables kept (foreign-key paths between them included)
    max_columns: int = field(10, POSITIVE_INT)  # columns kept per table (join keys are kept past it)

    def __post_init__(self):
        _check(isinstance(self.enabled, bool), "schema_filter.enabled", "must be true or false",
               self.enabled)
        for name in ("max_tables", "max_columns"):
            _check(_positive_int(getattr(self, name)), f"schema_filter.{name}",
                   "must be an int >= 1", getattr(self, name))


def _check(ok: bool, field: str, what: str, value) -> None:
    if not ok:
        raise ConfigError(f"prompt field '{field}': {what}, got {value!r}")


def _section(cls, value, field: str):
    """A nested section from a mapping (the config's dicts) or the dataclass itself."""
    if isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise ConfigError(f"prompt field '{field}': must be a section, got {value!r}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise ConfigError(f"prompt field '{field}': unknown field(s) {unknown}, known: "
                          f"{sorted(known)}")
    return cls(**value)


@dataclasses.dataclass(frozen=True)
class PromptConfig(Section):
    schema_style: str = field("compact")  # "compact" (one line per table) or "create_table"
    values_per_column: int = field(0)  # sample values shown per column (0: none)
    chat_template: bool = field(True)  # use the tokenizer's chat template when it has one
    # Database values the question mentions (CodeS), as `table.column -- values matching the
    # question: ...` lines after the schema, so the schema stays the prefix every question on a
    # database shares (spft_jax/data/value_index.py). Off until the demo's validation EX says
    # otherwise (BENCHMARKS.md).
    value_matching: ValueMatchingConfig = field(factory=ValueMatchingConfig)
    # Only the tables and columns the question is about, by a lexical score (names, Spider's
    # natural-language names, and matched values when value_matching is on), with the
    # foreign-key paths between them. The schema text is then per question: only the system
    # message stays a shared prefix (spft_jax/data/schema_filter.py).
    schema_filter: SchemaFilterConfig = field(factory=SchemaFilterConfig)

    def __post_init__(self):
        if self.schema_style not in SCHEMA_STYLES:
            raise ConfigError(f"prompt field 'schema_style': {self.schema_style!r} is not one of "
                              f"{SCHEMA_STYLES}")
        if not isinstance(self.values_per_column, int) or self.values_per_column < 0:
            raise ConfigError("prompt field 'values_per_column': must be an int >= 0, got "
                              f"{self.values_per_column!r}")
        # The config's sections arrive as dicts (PromptConfig(**config.prompt.to_dict())).
        object.__setattr__(self, "value_matching",
                           _section(ValueMatchingConfig, self.value_matching, "value_matching"))
        object.__setattr__(self, "schema_filter",
                           _section(SchemaFilterConfig, self.schema_filter, "schema_filter"))


# Value indexes kept in memory: one per database a run prompts about, least recently used out.
MAX_OPEN_INDEXES = 32


class PromptBuilder:
    """Token-id prompts and completions for one tokenizer and prompt configuration.

    `value_cache_dir`: where value indexes are cached when prompt.value_matching.cache_dir is
    empty (the pipeline passes <workdir>/cache/value_index); None and no cache_dir: built in
    memory, never written."""

    def __init__(self, tokenizer, config: PromptConfig = PromptConfig(),
                 value_cache_dir: str | pathlib.Path | None = None):
        self.tokenizer = tokenizer
        self.config = config
        matching = config.value_matching
        self.value_cache_dir = (pathlib.Path(matching.cache_dir).expanduser() if matching.cache_dir
                                else value_cache_dir)
        self._schemas: dict[tuple, str] = {}
        self._indexes: OrderedDict[tuple[str, str], ValueIndex] = OrderedDict()
        self._matches: dict[tuple[str, str, str], tuple[ValueMatch, ...]] = {}
        has_template = bool(getattr(getattr(tokenizer, "hf", None), "chat_template", None))
        self.use_chat = config.chat_template and has_template
        if tokenizer.eos_id is None:
            raise ConfigError("the tokenizer has no eos token: completions could not end")

    def with_tokenizer(self, tokenizer) -> "PromptBuilder":
        """The same prompts for another tokenizer, sharing schema texts and value indexes."""
        other = PromptBuilder(tokenizer, self.config, self.value_cache_dir)
        other._schemas, other._indexes, other._matches = self._schemas, self._indexes, self._matches
        return other

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

    def filtered_schema_text(self, schema: Schema, db_path: str | pathlib.Path | None, text: str,
                             matches: Sequence[ValueMatch] = ()) -> str:
        """The schema text of the tables and columns `text` is about (prompt.schema_filter)."""
        limits = self.config.schema_filter
        matched = {(m.table.lower(), m.column.lower()) for m in matches}
        view = filter_schema(schema, text, limits.max_tables, limits.max_columns, matched)
        # Many questions keep the same view: its text (and its sample-value reads) once.
        key = (str(db_path), schema.db_id, tuple((t.name, tuple(c.name for c in t.columns))
                                                 for t in view.tables))
        if key not in self._schemas:
            exists = db_path is not None and pathlib.Path(db_path).is_file()
            self._schemas[key] = schema_prompt(
                view, db_path if exists else None, values_per_column=self.config.values_per_column,
                style=self.config.schema_style)
        return self._schemas[key]

    # -- matched values ----------------------------------------------------------------------
    def value_index(self, schema: Schema, db_path: str | pathlib.Path | None) -> ValueIndex:
        key = (str(db_path), schema.db_id)
        if key in self._indexes:
            self._indexes.move_to_end(key)
        else:
            self._indexes[key] = build_value_index(
                schema, db_path, self.config.value_matching.max_values_per_column,
                self.value_cache_dir)
            if len(self._indexes) > MAX_OPEN_INDEXES:
                self._indexes.popitem(last=False)
        return self._indexes[key]

    def matched_values(self, schema: Schema, db_path: str | pathlib.Path | None,
                       text: str) -> tuple[ValueMatch, ...]:
        """The values of this database that `text` mentions (empty with value matching off)."""
        if not self.config.value_matching.enabled:
            return ()
        key = (str(db_path), schema.db_id, text)
        if key not in self._matches:
            index = self.value_index(schema, db_path)
            self._matches[key] = tuple(index.match(text, self.config.value_matching.top_k))
        return self._matches[key]

    def text_to_sql_parts(self, dataset: Dataset, db_id: str, question: str,
                          evidence: str | None = None) -> tuple[str, str]:
        """(schema text, matched-values text) of a question. Values are matched against the
        question and BIRD's evidence, which often names them."""
        schema, db_path = dataset.schemas[db_id], dataset.db_path(db_id)
        text = question.strip() + (f"\n{evidence.strip()}" if evidence else "")
        matches = self.matched_values(schema, db_path, text)
        if self.config.schema_filter.enabled:
            schema_text = self.filtered_schema_text(schema, db_path, text, matches)
        else:
            schema_text = self.schema_text(schema, db_path)
        return schema_text, "\n".join(m.prompt_line() for m in matches)

    # -- messages ----------------------------------------------------------------------------
    def text_to_sql_messages(self, schema_text: str, question: str, evidence: str | None = None,
                             matched_values: str = "") -> list[dict[str, str]]:
        # The question-specific block after the schema: the schema stays the shared prefix.
        user = f"Database schema:\n{schema_text}\n\n"
        if matched_values:
            user += f"{matched_values}\n\n"
        user += f"Question: {question.strip()}"
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
        schema_text, matched = self.text_to_sql_parts(dataset, db_id, question, evidence)
        messages = self.text_to_sql_messages(schema_text, question, evidence, matched)
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
