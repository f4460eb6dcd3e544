"""benchmarks/remat_on_cpu.py at toy sizes: every contender compiles and is reported, and the
backward pass that recomputes in a lax.cond branch gives the plain pass's gradients."""

import importlib.util
import re
import sys

from tests.conftest import REPO_ROOT


def load():
    spec = importlib.util.spec_from_file_location("remat_on_cpu", REPO_ROOT / "benchmarks" / "remat_on_cpu.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["remat_on_cpu"] = module
    spec.loader.exec_module(module)
    return module


def test_toy_run_reports_every_contender_and_equal_gradients(capsys):
    load().main(["--layers", "3", "--tokens", "32", "--hidden", "16", "--mlp", "24"])
    out = capsys.readouterr().out
    for name in ("plain (Python loop)", "jax.checkpoint per layer", "recompute in a lax.cond branch",
                 "lax.scan", "lax.scan + jax.checkpoint"):
        assert f"| {name} |" in out, out
    difference = float(re.search(r"largest gradient difference (\S+)\.", out).group(1))
    assert difference < 1e-6, out
