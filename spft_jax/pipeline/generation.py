"""Generating text with any model of the pipeline: SQL for questions, questions for SQL.

One `Sampler` serves every model (they share a graph, so its compiled functions are reused; only
the weights change). Prompts about the same database share their schema, the bulk of every
prompt: each call hands the sampler every prompt with its database as the family key, so each
database's common prefix is prefilled once and all prompts stream through one decode batch
(a finished row takes the next queued prompt). Each phase logs its questions per second.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable, Sequence

from flax import nnx
from tqdm.auto import tqdm

from spft_jax.data.prompts import PromptBuilder, example_evidence
from spft_jax.data.sql_text import CLOSED_FENCE, extract_question, extract_sql
from spft_jax.pipeline.model_factory import ModelFactory
from spft_jax.pipeline.run_config import SamplingSection
from spft_jax.pipeline.workdir import is_writer
from spft_jax.sampling import Completion, Sampler, SamplingParams
from spft_jax.sql.dataset import Dataset, Example

log = logging.getLogger(__name__)


class Generator:
    def __init__(self, factory: ModelFactory, prompts: PromptBuilder, sampling: SamplingSection,
                 progress: bool = True):
        self.factory = factory
        self.prompts = prompts
        self.max_new_tokens = sampling.max_new_tokens
        self.progress = progress and is_writer()
        self._sampler = Sampler(factory.view(), factory.tokenizer, mesh=factory.mesh,
                                eos_token_ids=factory.eos_ids or None,
                                max_batch_rows=sampling.max_batch_rows,
                                prefill_tokens=sampling.prefill_tokens,
                                cache_dtype=sampling.cache_dtype or None,
                                share_prefix=sampling.share_prefix, refill=sampling.refill)

    def generate(self, trainable: nnx.State | None, prompts: Sequence[Sequence[int]],
                 params: SamplingParams, description: str = "generating",
                 families: Sequence[Hashable] | None = None) -> list[list[Completion]]:
        """completions[i][j]: prompt i, sample j, under the model `trainable` (None: the base).

        `families`: one key per prompt (the database); prompts of a family share their common
        token prefix (the schema), which is then prefilled once instead of per prompt.
        """
        self._sampler.set_weights(self.factory.view(trainable))
        if not prompts:
            return []
        bar = tqdm(total=len(prompts), desc=description, unit="prompt", disable=not self.progress,
                   dynamic_ncols=True)
        start = time.perf_counter()
        try:
            results = self._sampler.generate(prompts, params, families=families,
                                             progress=bar.update)
        finally:
            bar.close()
        seconds = time.perf_counter() - start
        log.info("%s: %d prompts x %d samples in %.1f s (%.2f prompts/s)", description,
                 len(prompts), params.n, seconds, len(prompts) / max(seconds, 1e-9))
        return results

    # -- the two tasks ----------------------------------------------------------------------
    def sql_params(self, n: int = 1, temperature: float = 0.0, top_p: float = 1.0,
                   seed: int = 0) -> SamplingParams:
        return SamplingParams(max_new_tokens=self.max_new_tokens, n=n, temperature=temperature,
                              top_p=top_p, seed=seed)

    def text_to_sql(self, trainable: nnx.State | None, dataset: Dataset, examples: Sequence[Example],
                    params: SamplingParams, evidence_field: str | None = None,
                    description: str = "text-to-SQL") -> list[list[str]]:
        """SQL (one line each, see sql_text.extract_sql) per example and sample.

        A completion ends at the close of its first fenced block, since nothing after it can
        change the SQL extracted (sql_text.CLOSED_FENCE): a chat model that writes ```sql ...```
        and then explains it stops generating there."""
        if not params.stop:  # (a caller's own stops stay as they are)
            params = params.replace(stop=(CLOSED_FENCE,), include_stop_str=True)
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
