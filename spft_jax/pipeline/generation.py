"""Generating text with any model of the pipeline: SQL for questions, questions for SQL.

One `Sampler` serves every model (they share a graph, so its compiled functions are reused; only
the weights change). Prompts are sorted by length and generated in chunks, which keeps similar
lengths together (less padding) and gives a progress bar over long sets such as Spider dev.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from flax import nnx
from ml_collections import ConfigDict
from tqdm.auto import tqdm

from spft_jax.data.prompts import PromptBuilder, example_evidence
from spft_jax.data.sql_text import extract_question, extract_sql
from spft_jax.pipeline.models import ModelFactory
from spft_jax.pipeline.workdir import is_writer
from spft_jax.sampling import Completion, Sampler, SamplingParams
from spft_jax.sql.dataset import Dataset, Example


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
                 params: SamplingParams, description: str = "generating") -> list[list[Completion]]:
        """completions[i][j]: prompt i, sample j, under the model `trainable` (None: the base)."""
        self._sampler.set_weights(self.factory.view(trainable))
        order = np.argsort([len(p) for p in prompts], kind="stable")
        per_chunk = max(1, self.chunk_rows // params.n)
        results: list[list[Completion] | None] = [None] * len(prompts)
        bar = tqdm(total=len(prompts), desc=description, unit="prompt", disable=not self.progress,
                   dynamic_ncols=True)
        try:
            for start in range(0, len(order), per_chunk):
                chunk = order[start:start + per_chunk]
                # Each chunk gets its own seed so no two chunks draw the same random streams.
                chunk_params = params.replace(seed=(params.seed * 1_000_003 + start) % 2**31)
                for index, completions in zip(chunk, self._sampler.generate(
                        [prompts[i] for i in chunk], chunk_params)):
                    results[index] = completions
                bar.update(len(chunk))
        finally:
            bar.close()
        return results  # type: ignore[return-value]

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
        completions = self.generate(trainable, prompts, params, description)
        return [[extract_sql(c.text) for c in samples] for samples in completions]

    def sql_to_text(self, trainable: nnx.State | None, dataset: Dataset,
                    queries: Sequence[tuple[str, str]], max_new_tokens: int,
                    description: str = "SQL-to-text") -> list[str]:
        """A question per (db_id, sql), greedy."""
        prompts = [self.prompts.sql_to_text(dataset, db_id, sql) for db_id, sql in queries]
        params = SamplingParams(max_new_tokens=max_new_tokens)
        completions = self.generate(trainable, prompts, params, description)
        return [extract_question(samples[0].text) for samples in completions]
