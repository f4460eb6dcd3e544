"""benchmarks/train_throughput.py --quick (a tiny random model, tiny sizes) runs end to end in a
subprocess and prints a table per workload with a row per contender, whose first-step losses
agree; a missing Spider folder is one error line naming the flag; the rejected SQL of a pair
always differs from the gold."""

import importlib.util
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT, SPIDER_DIR

SCRIPT = REPO_ROOT / "benchmarks" / "train_throughput.py"


def load():
    """The benchmark as a module (benchmarks/ is no package; its top imports only the stdlib)."""
    spec = importlib.util.spec_from_file_location("train_throughput", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_throughput"] = module
    spec.loader.exec_module(module)
    return module


bench = load()


def run(*args, timeout=300):
    env = {k: v for k, v in os.environ.items() if k != "JAX_PLATFORMS"}
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def tables(stdout: str) -> dict[str, list[list[str]]]:
    """workload -> the cells of its table's rows (after the header and the rule)."""
    out = {}
    for section in stdout.split("\n## (")[1:]:
        workload = section[0]
        rows = [line for line in section.splitlines() if line.startswith("| ")]
        out[workload] = [[c.strip() for c in row.strip("|").split("|")] for row in rows[1:]]
    return out


def test_quick_run_prints_a_row_per_contender_and_workload(packaged_smollm2):
    have_spider = bench.spider_train_file(SPIDER_DIR) is not None
    if not have_spider and os.environ.get("CI"):
        pytest.fail(f"Spider data not found at {SPIDER_DIR} (set SPFT_SPIDER_DIR)")
    result = run("--quick", "--spider-dir", str(SPIDER_DIR))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    expected = ["a", "b", "c"] if have_spider else ["a"]
    if not have_spider:
        assert "note: workloads b,c skipped" in result.stdout
    found = tables(result.stdout)
    assert sorted(found) == expected, result.stdout
    for workload, rows in found.items():
        assert [r[0] for r in rows] == list(bench.CONTENDERS.values()), (workload, rows)
        header = [c.strip() for c in result.stdout.split(f"## ({workload})")[1].split(
            "\n| ")[1].split("|")]
        for row in rows:
            assert not row[1].startswith("failed"), (workload, row)
            assert float(row[1]) > 0 and float(row[2].replace(",", "")) > 0, row
        # Same weights, same examples, same loss: the first step's loss agrees (fp32).
        losses = [float(r[header.index("loss, first step")]) for r in rows]
        assert max(losses) - min(losses) < 1e-3 * max(abs(x) for x in losses), (workload, losses)
    assert "tokens computed shared / unshared" in result.stdout


def test_missing_spider_is_one_line_naming_the_flag(tmp_path):
    result = run("--workloads", "b", "--spider-dir", str(tmp_path / "nowhere"), timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --spider-dir:"), result.stderr


@pytest.mark.parametrize("sql", [
    "SELECT name FROM singer ORDER BY age DESC",
    "SELECT count(*) FROM head WHERE age > 56",
    "SELECT name FROM head WHERE born_state != 'California'",
    "SELECT name, age FROM head",
    "SELECT count(*) FROM t",
])
def test_rejected_sql_differs_and_is_deterministic(sql):
    columns = [["name", "age", "born_state"], ["singer_id", "country"]]
    for index in range(4):
        rejected = bench.corrupt_sql(sql, columns, index)
        assert rejected != sql
        assert rejected == bench.corrupt_sql(sql, columns, index)
