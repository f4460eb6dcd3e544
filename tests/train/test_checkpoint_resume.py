"""A training run killed after a checkpoint and started again ends with exactly the parameters of
a run that was never interrupted; a checkpoint that does not fit the run is refused clearly."""

import json
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from flax import nnx

from spft_jax.models.config import ModelConfig
from spft_jax.models.decoder import Decoder
from spft_jax.train.batches import BatchConfig, Batcher, SftExample
from spft_jax.train.checkpoint import CheckpointMismatchError
from spft_jax.train.optimizer import OptimizerConfig
from spft_jax.train.step import LossSpec
from spft_jax.train.trainer import Trainer, TrainerConfig
from tests.conftest import cpu_subprocess_env

SCRIPT = pathlib.Path(__file__).with_name("resume_script.py")
ENV = cpu_subprocess_env()
CONFIG = ModelConfig(architecture="llama", vocab_size=64, hidden_size=32, intermediate_size=64,
                     num_layers=2, num_heads=4, num_kv_heads=2, head_dim=8)


def run_script(workdir, *extra):
    out = subprocess.run([sys.executable, "-W", "ignore", str(SCRIPT), "--workdir", str(workdir), *extra],
                         capture_output=True, text=True, env=ENV, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def jsonl(workdir):
    return [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]


def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path):
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    summary = run_script(straight)
    assert summary == {"resumed_from": 0, "step": 12, "position": [4, 0]}  # 3 batches per epoch

    # Start again in a fresh process, slowed down after step 6, and kill it once the step-6
    # checkpoint is complete (Orbax renames a step's directory into place when it is whole).
    process = subprocess.Popen([sys.executable, "-W", "ignore", str(SCRIPT), "--workdir",
                                str(interrupted), "--pause-after", "6"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    deadline = time.monotonic() + 240
    while not (interrupted / "checkpoints" / "6").is_dir():
        assert process.poll() is None, process.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline, "no checkpoint of step 6 appeared"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL
    process.stderr.close()
    assert not (interrupted / "result.npz").exists()
    assert not (interrupted / "checkpoints" / "12").exists()
    killed_at = max(line["step"] for line in jsonl(interrupted))
    assert 6 <= killed_at < 12

    summary = run_script(interrupted)
    assert summary["step"] == 12 and summary["position"] == [4, 0]
    assert summary["resumed_from"] in (6, 9), summary  # the last complete checkpoint

    a, b = np.load(straight / "result.npz"), np.load(interrupted / "result.npz")
    assert sorted(a.files) == sorted(b.files) and len(a.files) > 10
    for name in a.files:  # bitwise: same data order, same optimizer state, same compiled step
        np.testing.assert_array_equal(b[name], a[name], err_msg=name)
    assert any(np.abs(a[n]).max() > 0 for n in a.files)
    # (the RNG key is among them: "__key__", so the key stream continued where it stopped)

    # The metrics file holds every step once, and the re-run steps repeat the same numbers.
    lines_a, lines_b = jsonl(straight), jsonl(interrupted)
    assert [line["step"] for line in lines_b] == list(range(1, 13))
    for x, y in zip(lines_a, lines_b):
        assert x["loss"] == pytest.approx(y["loss"], abs=1e-7), (x, y)
        assert x.get("eval/embed_probe") == pytest.approx(y.get("eval/embed_probe"), abs=1e-5)
    assert "eval/embed_probe" in lines_b[11] and "eval/embed_probe" not in lines_b[10]


def tiny_run(workdir, config=CONFIG, seed=0, steps=1):
    rng = np.random.default_rng(0)
    examples = [SftExample([int(t) for t in rng.integers(0, 64, 5)], [int(t) for t in rng.integers(0, 64, 4)])
                for _ in range(4)]
    batcher = Batcher(examples, BatchConfig(batch_size=4, max_length=16, bucket_multiple=16), seed=seed)
    return Trainer(Decoder(config, nnx.Rngs(0)), batcher, LossSpec("sft"),
                   OptimizerConfig(learning_rate=1e-3, schedule="constant"),
                   TrainerConfig(max_steps=steps, checkpoint_every=1, progress_bar=False,
                                 async_checkpoints=False, tensorboard=False), workdir=workdir)


def test_mismatched_checkpoint_is_refused_with_a_clear_error(tmp_path):
    assert tiny_run(tmp_path).run().step == 1
    assert (tmp_path / "checkpoints" / "1").is_dir()

    wider = CONFIG.replace(intermediate_size=48)
    with pytest.raises(CheckpointMismatchError, match=r"does not match the model.*trainable\.layers\.0\.mlp\."
                                                      r"down_proj\.kernel: checkpoint \(64, 32\) float32, "
                                                      r"model \(48, 32\) float32"):
        tiny_run(tmp_path, config=wider, steps=2).run()

    deeper = CONFIG.replace(num_layers=3)
    with pytest.raises(CheckpointMismatchError, match=r"missing from the checkpoint: trainable\.layers\.2\."):
        tiny_run(tmp_path, config=deeper, steps=2).run()

    with pytest.raises(CheckpointMismatchError, match=r"other data settings.*'seed': \(0, 1\)"):
        tiny_run(tmp_path, seed=1, steps=2).run()

    # The matching run still resumes from it.
    result = tiny_run(tmp_path, steps=2).run()
    assert (result.resumed_from, result.step) == (1, 2)
