"""Stage 1 data synthesis: fill templates on databases and keep the queries that run.

Each attempt draws a database (uniformly) and a template (by its seed frequency, times an optional
per-template weight, so the caller can up-weight the templates whose pairs failed verification in
the previous round), fills the template on the database (`template_filling.py`) and, unless the
SQL was produced before, runs it in the sandboxed executor. A query is kept when it runs without
error within the executor's limits and, with `require_rows`, returns at least one row. Every
discarded attempt is counted by reason:

    no_binding, no_join_path, no_values  the template does not fit the database (never executed)
    duplicate                            the same SQL on the same database came up before
    exec_<kind>                          execution failed: exec_syntax, exec_schema, exec_runtime,
                                         exec_timeout, exec_too_many_rows, exec_denied, exec_crashed
    empty_result                         ran, returned no row (only with require_rows)

Deterministic: the same templates, databases, arguments and seed of `rng` give the same queries
in the same order, with any number of executor workers (statements run in batches, and the
results are read in order), as long as no statement hits the executor's time limit.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import random
import time
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from spft_jax.errors import SpftError
from spft_jax.sql.database_content import CONTENT_LIMITS, DatabaseContent, TargetDatabase
from spft_jax.sql.executor import SqlExecutor
from spft_jax.sql.hardness import HARDNESS_LEVELS, sql_hardness
from spft_jax.sql.sandbox import ConnectionCache
from spft_jax.synthesis.binding import BINDERS
from spft_jax.synthesis.filling import FillError, fill_template
from spft_jax.synthesis.templates import TemplateBank

log = logging.getLogger(__name__)


class SynthesisError(SpftError):
    """Synthesis cannot start: no databases, or template weights that do not fit the bank."""


@dataclasses.dataclass(frozen=True)
class SynthesizedQuery:
    db_id: str
    sql: str
    template_id: str
    hardness: str  # Spider hardness of `sql`, one of HARDNESS_LEVELS
    rows: int  # number of rows it returned

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class SynthesisStats:
    attempts: int  # templates drawn and tried
    candidates: int  # attempts that produced SQL (duplicates included)
    executed: int  # distinct candidates run
    executable: int  # of those, ran without error
    nonempty: int  # of those, returned at least one row
    kept: int
    discarded: Mapping[str, int]  # reason -> attempts (module docstring)
    hardness: Mapping[str, int]  # kept queries per Spider hardness level
    seconds: float

    @property
    def executable_rate(self) -> float:
        return self.executable / self.executed if self.executed else 0.0

    @property
    def nonempty_rate(self) -> float:
        return self.nonempty / self.executed if self.executed else 0.0

    @property
    def queries_per_second(self) -> float:
        return self.kept / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.update(
            executable_rate=self.executable_rate,
            nonempty_rate=self.nonempty_rate,
            queries_per_second=self.queries_per_second,
        )
        return data


@dataclasses.dataclass(frozen=True)
class SynthesisResult:
    queries: tuple[SynthesizedQuery, ...]
    stats: SynthesisStats


def _cumulative_weights(
    templates: TemplateBank, weights: Mapping[str, float] | None
) -> list[float]:
    weights = dict(weights or {})
    unknown = sorted(set(weights) - set(templates.frequency))
    if unknown:
        raise SynthesisError(
            f"template weights name {len(unknown)} template ids that the bank does not have, "
            f"e.g. {unknown[0]!r}"
        )
    if any(w < 0 for w in weights.values()):
        raise SynthesisError("template weights must be >= 0")
    per_template = [templates.frequency[t.id] * weights.get(t.id, 1.0) for t in templates.templates]
    if not any(per_template):
        raise SynthesisError("every template has weight 0: nothing to sample")
    return list(itertools.accumulate(per_template))


def synthesize(
    templates: TemplateBank,
    databases: Sequence[TargetDatabase],
    count: int,
    executor: SqlExecutor,
    rng: random.Random,
    template_weights: Mapping[str, float] | None = None,
    require_rows: bool = True,
    max_attempts: int | None = None,
    binder: str = "fk_graph",
    exclude: Collection[tuple[str, str]] = (),
    batch_size: int = 64,
    values_per_column: int = 200,
) -> SynthesisResult:
    """Up to `count` distinct verified queries; see the module docstring.

    `max_attempts` (default 20 * count) bounds the number of templates tried. `exclude` holds
    (db_id, sql) pairs to treat as already produced, e.g. the queries of earlier rounds.
    `binder` is "fk_graph" or the naive "uniform" (slot_binding.py). The executor's limits
    (timeout, row cap) decide what "runs in time" means.
    """
    if not databases:
        raise SynthesisError("no target databases to synthesize on")
    if binder not in BINDERS:
        raise SynthesisError(f"binder must be one of {BINDERS}, got {binder!r}")
    cumulative = _cumulative_weights(templates, template_weights)
    max_attempts = 20 * count if max_attempts is None else max_attempts
    start = time.perf_counter()
    connections = ConnectionCache(CONTENT_LIMITS)
    contents: dict[str, DatabaseContent] = {}
    seen = set(exclude)
    discarded: Counter = Counter()
    kept: list[SynthesizedQuery] = []
    attempts = candidates = executed = executable = nonempty = 0
    try:
        while len(kept) < count and attempts < max_attempts:
            batch: list[tuple[TargetDatabase, str, str]] = []  # (database, template id, sql)
            while len(batch) < min(batch_size, count - len(kept)) and attempts < max_attempts:
                attempts += 1
                database = rng.choice(databases)
                template = rng.choices(templates.templates, cum_weights=cumulative)[0]
                content = contents.get(database.db_id)
                if content is None:
                    content = contents[database.db_id] = DatabaseContent(
                        database, connections, values_per_column
                    )
                try:
                    sql = fill_template(template, content, rng, binder)
                except FillError as error:
                    discarded[error.reason] += 1
                    continue
                candidates += 1
                if (database.db_id, sql) in seen:
                    discarded["duplicate"] += 1
                    continue
                seen.add((database.db_id, sql))
                batch.append((database, template.id, sql))
            results = executor.execute_many([(str(db.path), sql) for db, _, sql in batch])
            executed += len(batch)
            for (database, template_id, sql), result in zip(batch, results):
                if not result.ok:
                    discarded[f"exec_{result.error_kind.value}"] += 1
                    continue
                executable += 1
                nonempty += bool(result.rows)
                if require_rows and not result.rows:
                    discarded["empty_result"] += 1
                    continue
                kept.append(
                    SynthesizedQuery(
                        database.db_id, sql, template_id, sql_hardness(sql), len(result.rows)
                    )
                )
            log.debug("synthesis: %d attempts, %d kept", attempts, len(kept))
    finally:
        connections.close()
    hardness = Counter(q.hardness for q in kept)
    stats = SynthesisStats(
        attempts=attempts,
        candidates=candidates,
        executed=executed,
        executable=executable,
        nonempty=nonempty,
        kept=len(kept),
        discarded=dict(sorted(discarded.items())),
        hardness={level: hardness[level] for level in HARDNESS_LEVELS},
        seconds=time.perf_counter() - start,
    )
    if len(kept) < count:
        log.warning("synthesis kept %d of %d queries in %d attempts", len(kept), count, attempts)
    return SynthesisResult(queries=tuple(kept), stats=stats)
