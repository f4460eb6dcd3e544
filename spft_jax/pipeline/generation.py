"""Generating text with any model of the pipeline: SQL for questions, questions for SQL.

One `Sampler` serves every model (they share a graph, so its compiled functions are reused; only
the weights change). Prompts about the same database share their schema, the bulk of every
prompt: each database's prompts go in chunks whose common prefix is prefilled once (on the demo,
about a fifth of the prompt tokens are then computed). Chunks also give a progress bar over long
sets such as Spider dev.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from flax import nnx
from ml_collections import ConfigDict
from tqdm.auto import tqdm

from spft_jax.data.prompts import PromptBuilder, example_evidence
from spft_jax.data.sql_text import extract_question, extract_sql
from spft_jax.pipeline.models import ModelFactory
from spft_jax.pipeline.workdir import is_writer
from spft_jax.sampling import Completion, Sampler, SamplingParams
from spft_jax.sql.dataset import Dataset, Example


# Shorter common prefixes are not worth a prefill call of their own.
MIN_SHARED_PREFIX = 32


def common_prefix(sequences: Sequence[Sequence[int]]) -> list[int]:
    """The longest common prefix, less one token, so every sequence keeps a suffix."""
    first = list(sequences[0])
    length = min(len(s) for s in sequences) - 1
    for other in sequences[1:]:
        at = 0
        while at < length and other[at] == first[at]:
            at += 1
        length = at
    return first[:max(length, 0)]


class Generator:
    def __init__(self, factory: ModelFactory, prompts: PromptBuilder, sampling: ConfigDict,
                 progress: bool = True):
        self.factory = factory
        self.prompts = prompts
        self.max_new_tokens = sampling.max_new_tokens
        self.chunk_rows = sampling.max_batch_rows
        self.progress = progress and is_writer()
        self._sampler = Sampler(factory.view(), factory.tokenizer, mesh=factory.mesh,
                                eos_token_ids=factory.eos_ids or None,
                                max_batch_rows=sampling.max_batch_rows,
                                prefill_tokens=sampling.prefill_tokens)

    def generate(self, trainable: nnx.State | None, prompts: Sequence[Sequence[int]],
                 params: SamplingParams, description: str = "generating",
                 families: Sequence[Hashable] | None = None) -> list[list[Completion]]:
        """completions[i][j]: prompt i, sample j, under the model `trainable` (None: the base).

        `families`: one key per prompt (the database); prompts of a family share their common
        token prefix (the schema), which is then prefilled once per chunk instead of per prompt.
        """
        self._sampler.set_weights(self.factory.view(trainable))
        per_chunk = max(1, self.chunk_rows // params.n)
        results: list[list[Completion] | None] = [None] * len(prompts)
        bar = tqdm(total=len(prompts), desc=description, unit="prompt", disable=not self.progress,
                   dynamic_ncols=True)
        try:
            for number, (indices, prefix) in enumerate(self._chunks(prompts, families, per_chunk)):
                # Each chunk its own seed, so no two chunks draw the same random streams.
                chunk_params = params.replace(seed=(params.seed * 1_000_003 + number) % 2**31)
                suffixes = [prompts[i][len(prefix):] for i in indices]
                for index, completions in zip(indices, self._sampler.generate(
                        suffixes, chunk_params, prefix=prefix or None)):
                    results[index] = completions
                bar.update(len(indices))
        finally:
            bar.close()
        return results  # type: ignore[return-value]

    @staticmethod
    def _chunks(prompts, families, per_chunk: int):
        """(prompt indices, shared prefix) per sampler call: each family in chunks with its
        common prefix; the prompts whose family shares too little go together, by length."""
        groups: dict[Hashable, list[int]] = {}
        loose: list[int] = []
        for i, key in enumerate(families if families is not None else [None] * len(prompts)):
            (loose if key is None else groups.setdefault(key, [])).append(i)
        chunks = []
        for indices in groups.values():
            prefix = common_prefix([prompts[i] for i in indices])
            if len(indices) < 2 or len(prefix) < MIN_SHARED_PREFIX:
                loose += indices
                continue
            for start in range(0, len(indices), per_chunk):
                chunks.append((indices[start:start + per_chunk], prefix))
        loose.sort(key=lambda i: len(prompts[i]))
        for start in range(0, len(loose), per_chunk):
            chunks.append((loose[start:start + per_chunk], []))
        return chunks

    # -- the two tasks ----------------------------------------------------------------------
    def sql_params(self, n: int = 1, temperature: float = 0.0, top_p: float = 1.0,
                   seed: int = 0) -> SamplingParams:
        return SamplingParams(max_new_tokens=self.max_new_tokens, n=n, temperature=temperature,
                              top_p=top_p, seed=seed)

    def text_to_sql(self, trainable: nnx.State | None, dataset: Dataset, examples: Sequence[Example],
                    params: SamplingParams, evidence_field: str | None = None,
                    description: str = "text-to-SQL") -> list[list[str]]:
        """SQL (one line each, see sql_text.extract_sql) per example and sample."""
        prompts = [self.prompts.text_to_sql(dataset, e.db_id, e.question,
                                            example_evidence(e, evidence_field)) for e in examples]
        completions = self.generate(trainable, prompts, params, description,
                                    families=[e.db_id for e in examples])
        return [[extract_sql(c.text) for c in samples] for samples in completions]

    def sql_to_text(self, trainable: nnx.State | None, dataset: Dataset,
                    queries: Sequence[tuple[str, str]], max_new_tokens: int,
                    description: str = "SQL-to-text") -> list[str]:
        """A question per (db_id, sql), greedy."""
        prompts = [self.prompts.sql_to_text(dataset, db_id, sql) for db_id, sql in queries]
        params = SamplingParams(max_new_tokens=max_new_tokens)
        completions = self.generate(trainable, prompts, params, description,
                                    families=[db_id for db_id, _ in queries])
        return [extract_question(samples[0].text) for samples in completions]
