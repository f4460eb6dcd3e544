"""Reading the JSON list files of Spider's format (questions, tables.json) with clear errors."""

from __future__ import annotations

import json
import pathlib
from typing import Any

from spft_jax.errors import DataError


def read_json_list(path: str | pathlib.Path, kind: str) -> list[Any]:
    """The JSON list in `path`; `kind` ("question file", "tables file") names it in errors."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise DataError(f"{kind} not found: {path}")
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{kind} {path} is not valid JSON: {e}") from e
    if not isinstance(entries, list):
        raise DataError(f"{kind} {path} must hold a JSON list, got {type(entries).__name__}")
    return entries
