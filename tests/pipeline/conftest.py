"""Fixtures of the pipeline tests.

`tiny_context`: ONE in-process Context over configs/tiny.py (a tiny random model over the real
SmolLM2 tokenizer, on the embedded demo data), shrunk further so each stage takes seconds, in a
temporary workdir. It is module-scoped: the stages of a module build on each other through its
workdir (the model base, synth/, selfplay/), so a module that uses it must call each stage once
and in pipeline order (tests/pipeline/test_stages.py does, through its own fixtures).
"""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import REPO_ROOT

TINY = REPO_ROOT / "configs" / "tiny.py"


def load_tiny_config():
    """configs/tiny.py's ConfigDict, loaded as the command line loads a config file."""
    spec = importlib.util.spec_from_file_location("configs_tiny_for_tests", TINY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config()


def shrunk_tiny_config():
    """configs/tiny.py with fewer evaluation questions, candidates and self-play questions; still
    a valid config (validate passes) with every stage enabled."""
    config = load_tiny_config()
    config.data.max_eval_examples = 4
    config.stage1.queries_per_round = 4
    config.selfplay.max_questions = 4
    return config


@pytest.fixture(scope="module")
def tiny_context(packaged_smollm2, tmp_path_factory):
    import jax

    from spft_jax.parallel.mesh import make_mesh
    from spft_jax.pipeline.context import Context
    from spft_jax.pipeline.validate import validate
    from spft_jax.pipeline.workdir import Workdir

    config = validate(shrunk_tiny_config(), num_devices=jax.device_count())
    workdir = Workdir(tmp_path_factory.mktemp("tiny_stages"))
    mesh = make_mesh(config.mesh.data, config.mesh.fsdp, config.mesh.tensor)
    context = Context.create(config, workdir, mesh, progress=False)
    try:
        yield context
    finally:
        context.close()
