"""Runs one command as N cooperating JAX processes on this machine (CPU devices, gloo collectives).

Why: the multi-host code paths (each host feeding its rows of the global batch, checkpoints whose
shards live in several processes, only process 0 writing logs) can then be exercised on a laptop
or a CI runner exactly as they run on a pod, just slower.

    python launch/local_multiprocess.py --num_processes=2 --devices_per_process=2 [--port=0] \
        [--grace_seconds=10] -- python -m spft_jax.main --config=configs/NAME.py --workdir=DIR

Process i runs the command with these flags appended (PORT: --port, or a free one when 0):

    --config.distributed.enabled=true --config.distributed.coordinator_address=localhost:PORT
    --config.distributed.num_processes=N --config.distributed.process_id=i
    --config.distributed.cpu_collectives=gloo

and with JAX_PLATFORMS=cpu and --xla_force_host_platform_device_count=<devices_per_process>
added to XLA_FLAGS (replacing any device count already there, keeping the other flags). Every
output line is prefixed with "[p<i>] ". When a process fails, the others are stopped (SIGTERM,
then SIGKILL after --grace_seconds) and the launcher exits with the failed process's status;
Ctrl-C (or SIGTERM) is forwarded to the processes the same way, starting with SIGINT.

This file imports nothing of JAX or of spft_jax: the launcher itself never starts a backend.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import IO, TextIO

DEVICE_COUNT_FLAG = "--xla_force_host_platform_device_count"
POLL_SECONDS = 0.05
LAUNCHER_PREFIX = "[launch] "


def free_port() -> int:
    """A TCP port that is free on localhost now (the coordinator binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def merge_xla_flags(existing: str, devices_per_process: int) -> str:
    """`existing` XLA flags with the host device count set to `devices_per_process`: an earlier
    device-count flag is dropped rather than repeated, since which repeat wins is XLA's choice."""
    kept = [flag for flag in existing.split() if flag.split("=", 1)[0] != DEVICE_COUNT_FLAG]
    return " ".join([*kept, f"{DEVICE_COUNT_FLAG}={devices_per_process}"])


def distributed_flags(num_processes: int, process_id: int, port: int) -> list[str]:
    """The spft_jax.main config overrides that join process `process_id` to the local run."""
    prefix = "--config.distributed."
    return [f"{prefix}enabled=true", f"{prefix}coordinator_address=localhost:{port}",
            f"{prefix}num_processes={num_processes}", f"{prefix}process_id={process_id}",
            f"{prefix}cpu_collectives=gloo"]


def process_env(base: Mapping[str, str], devices_per_process: int) -> dict[str, str]:
    """The environment of one process: CPU only, its device count, unbuffered Python output (so
    prefixed lines arrive as they are printed and are not lost when a process is killed)."""
    env = dict(base)
    env["JAX_PLATFORMS"] = "cpu"
    env["XLA_FLAGS"] = merge_xla_flags(env.get("XLA_FLAGS", ""), devices_per_process)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def exit_status(returncode: int) -> int:
    """A Popen return code as a shell exit status (death by signal N becomes 128 + N)."""
    return 128 - returncode if returncode < 0 else returncode


class _Output:
    """Serialises whole lines from several threads onto one stream."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.lock = threading.Lock()

    def line(self, prefix: str, text: str) -> None:
        with self.lock:
            self.stream.write(f"{prefix}{text}\n")
            self.stream.flush()

    def relay(self, pipe: IO[bytes], prefix: str) -> None:
        """Copies `pipe` line by line, prefixed, until the process closes it."""
        with pipe:
            for raw in iter(pipe.readline, b""):
                self.line(prefix, raw.decode("utf-8", "replace").rstrip("\n").rstrip("\r"))


class _Signals:
    """Records SIGINT and SIGTERM while the processes run, so that the launcher can forward
    them and still reap its children instead of dying first (only in the main thread, where
    Python allows handlers; elsewhere the default behaviour stays)."""

    HANDLED = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.received: list[int] = []
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "_Signals":
        if threading.current_thread() is threading.main_thread():
            for signum in self.HANDLED:
                self._previous[signum] = signal.signal(signum, lambda s, _: self.received.append(s))
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def _running(children: Sequence[subprocess.Popen]) -> bool:
    return any(child.poll() is None for child in children)


def _signal_groups(children: Sequence[subprocess.Popen], signum: int) -> None:
    """Sends `signum` to each child's process group: a child's own subprocesses (e.g. SQL
    executor workers) stop with it instead of outliving the run."""
    for child in children:
        try:
            os.killpg(child.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass  # the group is gone already


def _stop(children: Sequence[subprocess.Popen], first_signal: int, grace_seconds: float,
          signals: _Signals) -> None:
    """`first_signal`, then SIGTERM, each followed by up to `grace_seconds` for the processes to
    exit; then SIGKILL for whatever is left. Another Ctrl-C meanwhile goes straight to SIGKILL."""
    patience = len(signals.received)
    for signum in dict.fromkeys((first_signal, signal.SIGTERM)):
        _signal_groups(children, signum)
        deadline = time.monotonic() + grace_seconds
        while _running(children) and time.monotonic() < deadline and len(signals.received) == patience:
            time.sleep(POLL_SECONDS)
        if not _running(children) or len(signals.received) > patience:
            break
    _signal_groups(children, signal.SIGKILL)  # also strays of processes that already exited
    for child in children:
        child.wait()


def _supervise(children: Sequence[subprocess.Popen], grace_seconds: float, signals: _Signals,
               output: _Output) -> int:
    """Waits for all processes; on the first failure or signal stops the rest and says why."""
    while True:
        if signals.received:
            signum = signals.received[0]
            output.line(LAUNCHER_PREFIX, f"got {signal.Signals(signum).name}; forwarding it to all processes")
            _stop(children, signal.SIGINT if signum == signal.SIGINT else signum, grace_seconds, signals)
            return 128 + signum
        pending = False
        for index, child in enumerate(children):
            code = child.poll()
            if code is None:
                pending = True
            elif code != 0:
                status = exit_status(code)
                output.line(LAUNCHER_PREFIX, f"process {index} exited with status {status}; stopping the others")
                _stop(children, signal.SIGTERM, grace_seconds, signals)
                return status
        if not pending:
            return 0
        time.sleep(POLL_SECONDS)


def launch(command: Sequence[str], num_processes: int, devices_per_process: int = 1, port: int = 0,
           grace_seconds: float = 10.0, env: Mapping[str, str] | None = None,
           output: TextIO | None = None) -> int:
    """Runs `command` as `num_processes` processes of one JAX run and returns the exit status:
    0 when all succeed, else that of the first process seen failing (128 + N for a signal N,
    also when the launcher itself was interrupted).

    env: the base environment (default: this process's). output: where the prefixed lines go
    (default: sys.stdout at call time).
    """
    if not command:
        raise ValueError("no command to run")
    if num_processes < 1 or devices_per_process < 1:
        raise ValueError(f"num_processes ({num_processes}) and devices_per_process "
                         f"({devices_per_process}) must be at least 1")
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is outside 0..65535")
    port = port or free_port()
    child_env = process_env(os.environ if env is None else env, devices_per_process)
    out = _Output(sys.stdout if output is None else output)
    children: list[subprocess.Popen] = []
    readers: list[threading.Thread] = []
    with _Signals() as signals:
        try:
            for index in range(num_processes):
                # A session of its own: Ctrl-C at the terminal reaches only the launcher, which
                # forwards it once, and a process group per child can be stopped as a whole.
                # stdout and stderr in pipes of their own, each relayed line by line: a native
                # library's log line on stderr (gloo's, XLA's) cannot land in the middle of a
                # line that Python writes to stdout in several pieces.
                child = subprocess.Popen([*command, *distributed_flags(num_processes, index, port)],
                                         env=child_env, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         start_new_session=True)
                children.append(child)
                for pipe in (child.stdout, child.stderr):
                    reader = threading.Thread(target=out.relay, args=(pipe, f"[p{index}] "), daemon=True)
                    reader.start()
                    readers.append(reader)
            status = _supervise(children, grace_seconds, signals, out)
        except BaseException:
            _stop(children, signal.SIGTERM, grace_seconds, signals)
            raise
        finally:
            deadline = time.monotonic() + 5  # a stray holding a pipe must not hang the launcher
            for reader in readers:
                reader.join(timeout=max(deadline - time.monotonic(), 0))
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: launcher options, then `--`, then the command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="local_multiprocess.py",
        usage="%(prog)s --num_processes=N [--devices_per_process=D] [--port=P] "
              "[--grace_seconds=S] -- COMMAND...",
        description="Run COMMAND as N JAX processes on this machine (CPU devices, gloo).")
    parser.add_argument("--num_processes", type=int, required=True, help="processes to start")
    parser.add_argument("--devices_per_process", type=int, default=1, help="CPU devices each process sees")
    parser.add_argument("--port", type=int, default=0, help="coordinator port on localhost (0: a free one)")
    parser.add_argument("--grace_seconds", type=float, default=10.0,
                        help="wait this long after SIGINT/SIGTERM before the next, harder signal")
    if "--" not in argv:
        parser.parse_args(argv)  # --help, or an error naming a missing option
        parser.error("give the command to run after --")
    split = argv.index("--")
    args = parser.parse_args(argv[:split])
    try:
        return launch(argv[split + 1:], args.num_processes, args.devices_per_process, args.port,
                      args.grace_seconds)
    except ValueError as error:
        parser.error(str(error))
    except OSError as error:  # e.g. the command does not exist
        print(f"{LAUNCHER_PREFIX}cannot start {argv[split + 1]!r}: {error}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main())
