"""The stage protocol: what the runner needs of a stage.

A stage has a `name` (one of run_config.STAGES) and `run(context) -> StageResult`. The runner
(pipeline/runner.py) alone decides whether a stage runs (its marker, `stages/<name>.json`, says
it finished), times it and writes the marker; a stage only does its work. A stage that was cut
short resumes from its own files and checkpoints (each stage module says which).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from spft_jax.pipeline.results import StageResult

if TYPE_CHECKING:
    from spft_jax.pipeline.context import Context


class Stage(Protocol):
    name: str

    def run(self, context: "Context") -> StageResult:
        ...
