"""Shared test fixtures.

Spider lives beside the checkout at ../shared/data/spider (CI has it). Tests that need it use the
`spider_dir` fixture: they skip on a developer machine without the data, and fail in CI (CI=true),
where a silent skip would hide a broken setup.
"""

import os
import pathlib

import pytest

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
