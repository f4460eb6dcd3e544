"""The model base: the Text-to-SQL models of different strength that stage 1 builds and stage 2
picks from (main = the best by validation EX, opponent = the worst).

Each member lives in `model_base/<name>/`: `weights/` (its trainable state, see models.py) and
`metadata.json` (what it is: kind, round or iteration, validation EX, the data it was trained on
with counts and hashes, the config section that trained it). The metadata is written after the
weights, so a member whose metadata exists is complete; `add` on a name that exists is a no-op
that returns the stored entry (a rerun resumes rather than retrains).
"""

from __future__ import annotations

import dataclasses
import datetime
import pathlib
from typing import Any

from flax import nnx

from spft_jax.errors import DataError
from spft_jax.pipeline.model_factory import ModelFactory
from spft_jax.pipeline.workdir import Workdir, exists, read_json, write_json

METADATA = "metadata.json"


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    name: str  # "sft", "stage1_round_1", "selfplay_iter_1", ...
    kind: str  # "sft", "stage1", "selfplay"
    order: int  # when it joined the base (ties in validation EX go to the earlier one)
    validation_ex: float  # execution accuracy on the held-out validation questions
    info: dict[str, Any]  # round / iteration, data counts and hashes, training metrics, config

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "order": self.order,
                "validation_ex": self.validation_ex, "info": self.info,
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat()}

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> "ModelEntry":
        return cls(record["name"], record["kind"], int(record["order"]),
                   float(record["validation_ex"]), dict(record.get("info", {})))


class ModelBase:
    def __init__(self, workdir: Workdir, factory: ModelFactory):
        self.workdir = workdir
        self.factory = factory

    def entries(self) -> list[ModelEntry]:
        """The complete members, in the order they joined."""
        root = self.workdir.path("model_base")
        if not root.is_dir():
            return []
        found = []
        for directory in root.iterdir():
            if (directory / METADATA).is_file():
                try:
                    found.append(ModelEntry.from_json(read_json(directory / METADATA)))
                except (KeyError, TypeError, ValueError) as e:
                    raise DataError(f"{directory / METADATA} is malformed ({e}); delete the folder "
                                    "to retrain that model") from e
        return sorted(found, key=lambda e: e.order)

    def get(self, name: str) -> ModelEntry | None:
        path = self.workdir.model_dir(name) / METADATA
        return ModelEntry.from_json(read_json(path)) if exists(path) else None

    def add(self, name: str, kind: str, trainable: nnx.State, validation_ex: float,
            info: dict[str, Any]) -> ModelEntry:
        existing = self.get(name)
        if existing is not None:
            return existing
        directory = self.workdir.model_dir(name)
        self.factory.save(trainable, directory)
        entry = ModelEntry(name, kind, len(self.entries()), float(validation_ex), info)
        write_json(directory / METADATA, entry.to_json())
        return entry

    def load(self, name: str) -> nnx.State:
        if self.get(name) is None:
            raise DataError(f"the model base has no model {name!r} "
                            f"(members: {', '.join(e.name for e in self.entries()) or 'none'})")
        return self.factory.load(self.workdir.model_dir(name))

    def best(self) -> ModelEntry:
        """Highest validation EX; the later model on a tie (it has seen more data)."""
        return max(self._need_entries(), key=lambda e: (e.validation_ex, e.order))

    def worst(self) -> ModelEntry:
        """Lowest validation EX; the earlier model on a tie."""
        return min(self._need_entries(), key=lambda e: (e.validation_ex, e.order))

    def _need_entries(self) -> list[ModelEntry]:
        entries = self.entries()
        if not entries:
            raise DataError(f"the model base in {self.workdir.path('model_base')} is empty: run "
                            "the sft or stage1 stage first")
        return entries

    def directory(self, name: str) -> pathlib.Path:
        return self.workdir.model_dir(name)
