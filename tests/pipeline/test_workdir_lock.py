"""The workdir lock: one run per workdir, a second one refused in one line naming the holder and
changing nothing, stale locks (dead pid, reused pid, a silent foreign host, SIGKILL) taken over,
and a lock only ever deleted by its own holder."""

from __future__ import annotations

import json
import logging
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings

import pytest

from spft_jax.errors import SpftError, WorkdirInUseError
from spft_jax.parallel import coordination
from spft_jax.pipeline import workdir_lock
from spft_jax.pipeline.workdir_lock import WorkdirLock, _process_state
from tests.conftest import cpu_subprocess_env

ROOT = pathlib.Path(__file__).resolve().parents[2]
TINY = str(ROOT / "configs" / "tiny.py")
HOST = socket.gethostname()
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d"


def lock_record(tmp_path) -> dict:
    return json.loads((tmp_path / ".lock").read_text())


def write_lock(tmp_path, **fields) -> pathlib.Path:
    record = {"host": HOST, "pid": 1, "started": "2024-01-02T03:04:05+00:00", "token": "theirs"}
    record.update(fields)
    path = tmp_path / ".lock"
    path.write_text(json.dumps(record))
    return path


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_acquire_writes_who_holds_it_and_release_removes_it(tmp_path):
    with WorkdirLock(tmp_path) as lock:
        record = lock_record(tmp_path)
        assert record["host"] == HOST and record["pid"] == os.getpid()
        assert record["token"] == lock.token
        assert record["pid_start"] == _process_state(os.getpid())[1]
        assert sorted(p.name for p in tmp_path.iterdir()) == [".lock"]
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError), WorkdirLock(tmp_path):  # released on an exception too
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_a_second_lock_is_refused_in_one_line_naming_the_holder(tmp_path):
    with WorkdirLock(tmp_path):
        before = (tmp_path / ".lock").read_bytes()
        with pytest.raises(WorkdirInUseError) as caught:
            WorkdirLock(tmp_path).acquire()
        message = str(caught.value)
        assert "\n" not in message and isinstance(caught.value, SpftError)
        assert f"host {HOST}, pid {os.getpid()}, since " in message
        assert str(tmp_path) in message
        assert re.search(f"since {ISO}", message), message
        assert (tmp_path / ".lock").read_bytes() == before  # the holder's lock is untouched
    assert not (tmp_path / ".lock").exists()


def test_the_lock_of_a_dead_pid_is_taken_over(tmp_path, caplog):
    pid = dead_pid()
    write_lock(tmp_path, pid=pid)
    with caplog.at_level(logging.WARNING, logger=workdir_lock.__name__), WorkdirLock(tmp_path) as lock:
        assert lock_record(tmp_path)["token"] == lock.token
    assert f"took over the stale lock of host {HOST}, pid {pid}" in caplog.text
    assert "is not running" in caplog.text
    assert list(tmp_path.iterdir()) == []  # nothing left of the stale lock either


def test_a_reused_pid_is_told_apart_by_its_start_time(tmp_path):
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        start = _process_state(sleeper.pid)[1]
        write_lock(tmp_path, pid=sleeper.pid, pid_start=start)
        with pytest.raises(WorkdirInUseError, match=f"pid {sleeper.pid}"):
            WorkdirLock(tmp_path).acquire()
        write_lock(tmp_path, pid=sleeper.pid, pid_start=start - 1)  # an earlier process of that pid
        with WorkdirLock(tmp_path) as lock:
            assert lock_record(tmp_path)["token"] == lock.token
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_foreign_hosts_lock_is_taken_over_only_without_a_heartbeat(tmp_path):
    path = write_lock(tmp_path, host="elsewhere.example", pid=12345)
    with pytest.raises(WorkdirInUseError) as caught:
        WorkdirLock(tmp_path, heartbeat_s=30).acquire()
    message = str(caught.value)
    assert "host elsewhere.example, pid 12345, since 2024-01-02T03:04:05+00:00" in message
    assert re.search(r"last heartbeat \d+ s ago, taken over after 300 s without one", message), message
    assert path.exists() and lock_record(tmp_path)["token"] == "theirs"
    old = time.time() - 301
    os.utime(path, (old, old))
    with WorkdirLock(tmp_path, heartbeat_s=30) as lock:
        assert lock_record(tmp_path)["token"] == lock.token


def test_an_unreadable_lock_is_held_until_it_is_old(tmp_path):
    path = tmp_path / ".lock"
    path.write_text("")  # a holder killed between creating and writing the file
    old = time.time() - 5  # (a younger one is read again: its holder is writing it)
    os.utime(path, (old, old))
    with pytest.raises(WorkdirInUseError, match="unreadable lock file"):
        WorkdirLock(tmp_path, stale_after_s=60).acquire()
    old = time.time() - 61
    os.utime(path, (old, old))
    with WorkdirLock(tmp_path, stale_after_s=60):
        assert lock_record(tmp_path)["pid"] == os.getpid()


def test_the_heartbeat_refreshes_the_lock_and_a_holder_keeps_it(tmp_path):
    with WorkdirLock(tmp_path, heartbeat_s=0.05) as lock:
        old = time.time() - 1000
        os.utime(tmp_path / ".lock", (old, old))
        time.sleep(0.5)
        assert time.time() - (tmp_path / ".lock").stat().st_mtime < 5
        # On another host, this lock counts as live.
        record = lock_record(tmp_path)
        record["host"] = "elsewhere.example"
        (tmp_path / ".lock").write_text(json.dumps(record))
        time.sleep(0.2)
        with pytest.raises(WorkdirInUseError, match="elsewhere.example"):
            WorkdirLock(tmp_path, heartbeat_s=0.05).acquire()
        assert lock.token == record["token"]


def test_release_leaves_a_lock_another_run_took_over(tmp_path, caplog):
    lock = WorkdirLock(tmp_path).acquire()
    write_lock(tmp_path, token="someone else")  # e.g. taken over while this run was stopped
    with caplog.at_level(logging.WARNING, logger=workdir_lock.__name__):
        lock.release()
    assert lock_record(tmp_path)["token"] == "someone else"
    assert "left in place" in caplog.text
    lock.release()  # twice: nothing more
    assert lock_record(tmp_path)["token"] == "someone else"


def test_of_runs_taking_over_at_once_exactly_one_wins(tmp_path):
    write_lock(tmp_path, pid=dead_pid())
    locks = [WorkdirLock(tmp_path) for _ in range(8)]
    outcomes: list[object] = [None] * len(locks)
    go = threading.Barrier(len(locks))

    def take(i):
        go.wait()
        try:
            locks[i].acquire()
            outcomes[i] = "won"
        except WorkdirInUseError as e:
            outcomes[i] = e

    threads = [threading.Thread(target=take, args=(i,)) for i in range(len(locks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for i, o in enumerate(outcomes) if o == "won"]
    assert len(winners) == 1, outcomes
    assert lock_record(tmp_path)["token"] == locks[winners[0]].token
    for o in outcomes:
        assert o == "won" or f"pid {os.getpid()}" in str(o)  # the losers name the winner
    locks[winners[0]].release()
    assert list(tmp_path.iterdir()) == []


def test_a_take_over_spares_a_lock_that_changed_since_it_was_judged(tmp_path):
    path = write_lock(tmp_path, host="elsewhere.example")
    lock = WorkdirLock(tmp_path)
    raw, stat = path.read_bytes(), path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a heartbeat meanwhile
    assert not lock._take_over(raw, stat) and path.read_bytes() == raw
    write_lock(tmp_path, host="elsewhere.example", token="a new holder")  # replaced meanwhile
    assert not lock._take_over(raw, path.stat()) and lock_record(tmp_path)["token"] == "a new holder"
    # Another run is taking over (its guard): wait for it; a guard left by a killed run is cleared.
    guard = tmp_path / ".lock.takeover"
    guard.write_text("")
    raw, stat = path.read_bytes(), path.stat()
    assert not lock._take_over(raw, stat) and guard.exists() and path.exists()
    old = time.time() - 60
    os.utime(guard, (old, old))
    assert not lock._take_over(raw, stat) and not guard.exists()
    assert lock._take_over(raw, stat) and sorted(tmp_path.iterdir()) == []


def test_every_process_learns_that_process_0_could_not_lock(tmp_path, monkeypatch):
    """Multi-host, simulated: process 0's outcome is what `coordination.agreed` broadcasts."""
    write_lock(tmp_path, host="elsewhere.example", pid=77)
    said = []
    monkeypatch.setattr(coordination, "agreed", lambda value, what="": said.append(value) or value)
    with pytest.raises(WorkdirInUseError):
        WorkdirLock(tmp_path).acquire()  # process 0: fails, and says so
    assert said == [False]
    # Another process: takes no lock, learns process 0's "no", names the holder from the file.
    monkeypatch.setattr(coordination, "is_writer", lambda: False)
    monkeypatch.setattr(coordination, "agreed", lambda value, what="": False)
    with pytest.raises(WorkdirInUseError, match="host elsewhere.example, pid 77"):
        WorkdirLock(tmp_path).acquire()
    # ... and when process 0 locked: nothing to do, nothing to release.
    monkeypatch.setattr(coordination, "agreed", lambda value, what="": True)
    (tmp_path / ".lock").unlink()
    with WorkdirLock(tmp_path) as lock:
        assert lock.token is None and not (tmp_path / ".lock").exists()


# -- the command line ------------------------------------------------------------------------------

def environment() -> dict:
    return cpu_subprocess_env()


def main_command(workdir, *extra, stages: str = "('sft',)") -> list[str]:
    return [sys.executable, "-m", "spft_jax.main", f"--config={TINY}", f"--workdir={workdir}",
            "--noprogress", f"--config.stages={stages}", *extra]


# Less sampling than configs/tiny.py: the evaluations cost compilations, and prove nothing here.
SMALL = ("--config.data.max_eval_examples=2", "--config.data.validation_examples=2",
         "--config.sampling.max_new_tokens=2")
# SFT, then GRPO (three steps of 2 questions x 2 samples, a checkpoint after each): the kill
# lands in GRPO, whose resume must give what an uninterrupted run gives.
SFT_GRPO = (*SMALL, "--config.grpo.steps=3",
            "--config.grpo.questions_per_step=2", "--config.grpo.group_size=2",
            "--config.grpo.train.checkpoint_every=1", "--config.grpo.beta=0.04",
            "--config.grpo.max_new_tokens=4")


def grpo_command(workdir) -> list[str]:
    return main_command(workdir, *SFT_GRPO, stages="('sft','grpo')")


def listing(folder: pathlib.Path) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


def test_a_second_run_on_a_workdir_in_use_stops_in_one_line_and_writes_nothing(tmp_path):
    workdir = tmp_path / "work"
    (workdir / "stages").mkdir(parents=True)
    (workdir / "config.json").write_text("{}\n")
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        write_lock(workdir, pid=sleeper.pid, pid_start=_process_state(sleeper.pid)[1],
                   started="2024-05-06T07:08:09+02:00")
        before = listing(workdir)
        result = subprocess.run(main_command(workdir), cwd=ROOT, env=environment(),
                                capture_output=True, text=True, timeout=300)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert result.returncode == 2, result.stderr[-4000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the workdir "), result.stderr
    assert f"host {HOST}, pid {sleeper.pid}, since 2024-05-06T07:08:09+02:00" in lines[0]
    assert listing(workdir) == before


def test_every_process_of_a_multi_process_run_stops_with_the_same_line(tmp_path):
    """Two JAX processes (the local launcher): process 0 finds the lock held, and both end with
    its error instead of process 1 waiting in a collective process 0 never reaches."""
    from launch.local_multiprocess import launch

    workdir = tmp_path / "work"
    workdir.mkdir()
    sleeper = subprocess.Popen(["sleep", "60"])
    log = tmp_path / "launch.log"
    try:
        write_lock(workdir, pid=sleeper.pid, pid_start=_process_state(sleeper.pid)[1])
        before = listing(workdir)
        with log.open("w") as out:
            status = launch(main_command(workdir), num_processes=2, devices_per_process=1, output=out,
                            env=environment())
    finally:
        sleeper.kill()
        sleeper.wait()
    text = log.read_text()
    assert status == 2, text[-4000:]
    errors = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in text.splitlines() if " error: " in line}
    assert sorted(errors) == ["[p0]", "[p1]"] and errors["[p0]"] == errors["[p1]"], text[-4000:]
    assert f"host {HOST}, pid {sleeper.pid}, since 2024-01-02T03:04:05+00:00" in errors["[p0]"]
    assert listing(workdir) == before


def saved_weights(workdir: pathlib.Path, member: str = "sft") -> dict:
    import jax
    import numpy as np
    import orbax.checkpoint as ocp

    with warnings.catch_warnings():  # "sharding info not provided": read onto this host's CPU
        warnings.simplefilter("ignore", UserWarning)
        tree = ocp.PyTreeCheckpointer().restore(workdir / "model_base" / member / "weights")
    return {jax.tree_util.keystr(k): np.asarray(v) for k, v in jax.tree_util.tree_leaves_with_path(tree)}


def test_a_run_killed_holding_the_lock_is_taken_over_and_ends_as_an_uninterrupted_run(tmp_path):
    """SIGKILL during GRPO (after its first of three steps) leaves the lock behind; the same
    command rerun takes it over as stale, resumes from GRPO's checkpoint and ends with what a run
    never stopped writes (that one runs alongside, to keep the test short): the same rollouts,
    rewards and losses step for step, the same policy weights."""
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    clean_log, first_log = (tmp_path / "clean.log").open("w"), (tmp_path / "first.log").open("w")
    uninterrupted = subprocess.Popen(grpo_command(clean), cwd=ROOT, env=environment(),
                                     stdout=subprocess.DEVNULL, stderr=clean_log, text=True)
    first = subprocess.Popen(grpo_command(killed), cwd=ROOT, env=environment(),
                             stdout=first_log, stderr=subprocess.STDOUT, text=True)
    try:
        checkpoint = killed / "runs" / "grpo" / "checkpoints" / "1"  # of 3 steps
        deadline = time.monotonic() + 300
        while not checkpoint.exists():
            assert first.poll() is None, (tmp_path / "first.log").read_text()[-4000:]
            assert time.monotonic() < deadline, "no checkpoint in 300 s"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=60) == -signal.SIGKILL
        assert lock_record(killed)["pid"] == first.pid  # left behind by the killed run
        assert not (killed / "stages" / "grpo.json").exists()
        resumed = subprocess.run(grpo_command(killed), cwd=ROOT, env=environment(),
                                 capture_output=True, text=True, timeout=300)
        uninterrupted.wait(timeout=300)
    finally:
        for process in (first, uninterrupted):
            if process.poll() is None:
                process.kill()
                process.wait()
        first_log.close()
        clean_log.close()
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert uninterrupted.returncode == 0, (tmp_path / "clean.log").read_text()[-4000:]
    taken_over = [line for line in resumed.stderr.splitlines() if "took over the stale lock" in line]
    assert len(taken_over) == 1 and f"of host {HOST}, pid {first.pid}, since " in taken_over[0]
    assert f"pid {first.pid} is not running" in taken_over[0]
    assert not (killed / ".lock").exists() and not (clean / ".lock").exists()
    # The same results, the same model: the rerun finished the run, it did not start over.
    assert "grpo: resuming after step" in resumed.stderr
    steps = [json.loads(line) for line in (killed / "runs" / "grpo" / "metrics.jsonl").read_text().splitlines()]
    clean_steps = [json.loads(line) for line in (clean / "runs" / "grpo" / "metrics.jsonl").read_text().splitlines()]
    assert [s["step"] for s in steps] == [s["step"] for s in clean_steps] == [1, 2, 3]
    for name in ("loss", "reward/mean", "kl", "completion/length", "grad_norm"):
        assert [s[name] for s in steps] == [s[name] for s in clean_steps], name
    results = [json.loads((w / "stages" / "grpo.json").read_text()) for w in (killed, clean)]
    for r in results:
        r.pop("seconds"), r.pop("time_split")
    assert results[0] == results[1]
    a, b = saved_weights(killed, "grpo"), saved_weights(clean, "grpo")
    assert sorted(a) == sorted(b) and len(a) > 10
    for name in a:
        assert (a[name] == b[name]).all(), name
