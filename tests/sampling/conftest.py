"""Where the packaged SmolLM2 GGUF is: skip without it on a developer machine, fail in CI."""

import os

import pytest

from spft_jax.errors import WeightsError
from spft_jax.models import loading


@pytest.fixture(scope="session")
def packaged_smollm2():
    try:
        return loading.packaged_smollm2_path()
    except WeightsError as e:
        if os.environ.get("CI"):
            pytest.fail(str(e))
        pytest.skip(str(e))
