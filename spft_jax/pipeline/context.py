"""Everything a pipeline run shares between its stages, built once from the config."""

from __future__ import annotations

import dataclasses
import logging

from jax.sharding import Mesh
from spft_jax.data.prompts import PromptBuilder
from spft_jax.pipeline.run_data import PipelineData, load_pipeline_data
from spft_jax.pipeline.generation import Generator
from spft_jax.pipeline.model_base import ModelBase
from spft_jax.pipeline.model_factory import ModelFactory
from spft_jax.pipeline.run_config import RunConfig
from spft_jax.pipeline.workdir import Workdir
from spft_jax.sql.executor import SqlExecutor
from spft_jax.sql.sandbox import ExecutionLimits

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Context:
    config: RunConfig
    workdir: Workdir
    data: PipelineData
    factory: ModelFactory
    prompts: PromptBuilder
    generator: Generator
    executor: SqlExecutor
    model_base: ModelBase
    progress: bool = True

    @classmethod
    def create(cls, config: RunConfig, workdir: Workdir, mesh: Mesh | None,
               progress: bool = True) -> "Context":
        data = load_pipeline_data(config)  # before the weights: a data mistake fails fast
        for line in (f"train: {len(data.train.examples)} questions",
                     f"validation (held out of train): {len(data.validation.examples)} questions",
                     f"eval: {data.eval.summary()}"):
            log.info("%s", line)
        factory = ModelFactory(config, mesh)
        # One builder for every stage: training, verification, self-play and evaluation see the
        # same prompt for the same question. Value indexes are cached in the workdir.
        prompts = PromptBuilder(factory.tokenizer, config.prompt,
                                value_cache_dir=workdir.path("cache", "value_index"))
        executor = SqlExecutor(ExecutionLimits(timeout_s=config.execution.timeout_s,
                                               max_rows=config.execution.max_rows),
                               workers=config.execution.workers)
        return cls(config=config, workdir=workdir, data=data, factory=factory, prompts=prompts,
                   generator=Generator(factory, prompts, config.sampling, progress),
                   executor=executor, model_base=ModelBase(workdir, factory), progress=progress)

    def close(self) -> None:
        self.executor.close()
