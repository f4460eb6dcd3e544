"""One run per workdir: a lock file, `<workdir>/.lock`, held while a command uses the workdir.

    with WorkdirLock(workdir.root):
        ...                          # the run; a second one on this workdir stops at the `with`

Two runs on one workdir would interleave their checkpoints, logs and markers; the second one
instead ends at once with one line naming the holder (`WorkdirInUseError`, exit status 2 from
the command line) and without changing any file of the workdir.

The lock file is JSON: host, pid, started (ISO time), token (this lock's id), and what tells a
live process from a dead one on its machine: pid_start (the process's start time in clock ticks
since boot, /proc/<pid>/stat field 22), boot_id and pid_ns (the machine boot and PID namespace the
pid belongs to). It is created with `os.open(O_CREAT | O_EXCL)`, which is atomic on local
filesystems, NFS v3 and later, Lustre and GPFS: of two runs that race, exactly one creates it.
On a Cloud Storage FUSE (gcsfuse) mount O_EXCL is checked by the mount on one machine only, so
two hosts starting within the same second are not excluded there: the lock is advisory.

A lock left behind (the holder was SIGKILLed, its host lost power) is stale and taken over, with a
warning naming the holder it replaces:
- held on this machine (same host, boot and PID namespace): stale when its pid is not running
  (or is a zombie), or is running but started at another time (the pid was reused);
- held on another host, whose processes cannot be checked from here: the holder refreshes the
  file's modification time every `heartbeat_s` seconds (a daemon thread, 30 s by default), and
  a lock not refreshed for `stale_after_s` (10 heartbeats by default) is stale. Clocks of the
  hosts (or the file server, whose time an NFS mtime is) must agree to well within that.
- an unreadable lock file (a holder killed between creating and writing it): as another host's.
Taking over is race-safe: a run takes the take-over guard `.lock.takeover` (O_EXCL, held for
microseconds; one abandoned for `GUARD_STALE_S` is cleared), checks that the lock file is still
the very file it judged stale (same inode, bytes and mtime: not replaced, not refreshed by a
heartbeat meanwhile), deletes it, drops the guard and creates the lock with O_EXCL again. Of
several runs taking over at once one wins, and the others report it as the holder.

The lock is released (the file deleted, only while it still holds this lock's token) when the
`with` block ends, normally or by an exception. After a SIGKILL the file stays and the next run
takes it over as stale.

Multi-host runs: only process 0 (`coordination.is_writer()`) takes the lock, and every process
learns the outcome through one collective (`coordination.agreed`): when process 0 cannot lock,
all processes raise (the others name the holder from the lock file), none waits in a later
collective that process 0 never reaches. Every process must therefore enter the lock together.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import pathlib
import socket
import threading
import time
import uuid
from typing import Any

from spft_jax.errors import WorkdirInUseError
from spft_jax.parallel import coordination

log = logging.getLogger(__name__)

LOCK_NAME = ".lock"
DEFAULT_HEARTBEAT_S = 30.0
STALE_HEARTBEATS = 10  # a foreign host's lock not refreshed for this many heartbeats is stale
GUARD_STALE_S = 10.0  # a take-over guard this old was left by a run killed while taking over
_SETTLE_S = 2.0  # an unreadable lock this young is being written: read it again
_PATIENCE_S = 30.0  # how long taking the lock may keep losing races before it gives up


def _iso(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="seconds")


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return None


def _process_state(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks since boot) of `pid` from /proc, or None where
    /proc does not say (not Linux, or the process is gone)."""
    text = _read_text(f"/proc/{pid}/stat")
    if not text or ")" not in text:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) ": field 3 on
    try:
        return fields[0], int(fields[19])
    except (IndexError, ValueError):
        return None


def _machine() -> dict[str, Any]:
    """What names this machine and PID namespace (the scope in which a pid means something)."""
    return {"host": socket.gethostname(), "boot_id": _read_text("/proc/sys/kernel/random/boot_id"),
            "pid_ns": _pid_namespace()}


def _pid_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def _identity(stat: os.stat_result) -> tuple[int, int, int]:
    """The file a stat describes, and its last heartbeat."""
    return stat.st_ino, stat.st_dev, stat.st_mtime_ns


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    state = _process_state(pid)
    return state is None or state[0] not in ("Z", "X")  # a zombie has ended


class WorkdirLock:
    """The lock of the workdir at `root` (a context manager; see the module docstring).

    heartbeat_s: how often the holder refreshes the lock file's modification time.
    stale_after_s: how old that time may be before another host takes the lock over
    (default: 10 heartbeats).
    """

    def __init__(self, root: str | pathlib.Path, heartbeat_s: float = DEFAULT_HEARTBEAT_S,
                 stale_after_s: float | None = None):
        self.root = pathlib.Path(root)
        self.path = self.root / LOCK_NAME
        self.heartbeat_s = float(heartbeat_s)
        self.stale_after_s = (STALE_HEARTBEATS * self.heartbeat_s if stale_after_s is None
                              else float(stale_after_s))
        self.token: str | None = None
        self._owner_pid: int | None = None
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def __enter__(self) -> WorkdirLock:
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()

    # -- acquiring -----------------------------------------------------------------------------
    def acquire(self) -> WorkdirLock:
        """Takes the lock (process 0) and tells every process whether it did; raises
        WorkdirInUseError on every process when another run holds it."""
        error: Exception | None = None
        if coordination.is_writer():
            try:
                self._acquire_here()
            except Exception as e:  # noqa: BLE001  re-raised below, after the collective
                error = e
        if not coordination.agreed(error is None, "workdir lock taken"):
            if error is not None:
                raise error
            raise WorkdirInUseError(self._message_for_the_other_processes())
        return self

    def _acquire_here(self) -> None:
        deadline = time.monotonic() + _PATIENCE_S
        while time.monotonic() < deadline:
            try:
                self._create()
            except FileExistsError:
                pass
            else:
                self._start_heartbeat()
                return
            judged = self._look()
            if judged is None:  # released in the meantime: try again
                continue
            record, raw, stat = judged
            if record is None and time.time() - stat.st_mtime < _SETTLE_S:
                time.sleep(0.02)  # just created, not written yet
                continue
            reason = self._stale_reason(record, stat)
            if reason is None:
                raise WorkdirInUseError(self._held_message(record, stat))
            if self._take_over(raw, stat):
                log.warning("workdir lock: took over the stale lock of %s (%s)",
                            self._holder(record, stat), reason)
        raise WorkdirInUseError(f"the workdir {self.root} is in use: its lock {self.path} kept "
                                f"changing hands for {_PATIENCE_S:.0f} s while this run tried to take it")

    def _create(self) -> None:
        token = uuid.uuid4().hex
        now = time.time()
        state = _process_state(os.getpid())
        record = {**_machine(), "pid": os.getpid(), "started": _iso(now), "token": token,
                  "pid_start": None if state is None else state[1]}
        data = (json.dumps(record) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        except BaseException:
            os.unlink(self.path)
            raise
        self.token, self._owner_pid = token, os.getpid()

    def _look(self) -> tuple[dict | None, bytes, os.stat_result] | None:
        """(record or None when unreadable, raw bytes, stat) of the lock file; None when there is
        none."""
        try:
            with open(self.path, "rb") as f:
                stat = os.fstat(f.fileno())
                raw = f.read()
        except FileNotFoundError:
            return None
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            record = None
        return (record if isinstance(record, dict) else None), raw, stat

    def _same_machine(self, record: dict) -> bool:
        here = _machine()
        return record.get("host") == here["host"] and all(
            record.get(key) in (None, here[key]) or here[key] is None for key in ("boot_id", "pid_ns"))

    def _stale_reason(self, record: dict | None, stat: os.stat_result) -> str | None:
        """Why the lock is stale, or None while its holder may be alive."""
        if record is not None and self._same_machine(record) and isinstance(record.get("pid"), int):
            pid = record["pid"]
            if not _pid_alive(pid):
                return f"pid {pid} is not running"
            state = _process_state(pid)
            if record.get("pid_start") is not None and state is not None and state[1] != record["pid_start"]:
                return f"pid {pid} is now another process"
            return None
        age = time.time() - stat.st_mtime
        if age > self.stale_after_s:
            what = "unreadable lock file" if record is None else f"lock of host {record.get('host')}"
            return f"{what} not refreshed for {age:.0f} s (more than {self.stale_after_s:.0f} s)"
        return None

    def _take_over(self, raw: bytes, stat: os.stat_result) -> bool:
        """Deletes the stale lock file judged from (raw, stat) under the take-over guard, unless
        it changed in the meantime; True when this call deleted it."""
        guard = self.root / f"{LOCK_NAME}.takeover"
        try:
            os.close(os.open(guard, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        except FileExistsError:  # another run is taking over: see what it made of it
            try:
                if time.time() - guard.stat().st_mtime > GUARD_STALE_S:
                    guard.unlink()
            except FileNotFoundError:
                pass
            time.sleep(0.02)
            return False
        try:
            now = self._look()
            if now is None or now[1] != raw or _identity(now[2]) != _identity(stat):
                return False  # gone, replaced or refreshed: judge again
            os.unlink(self.path)
            return True
        finally:
            try:
                guard.unlink()
            except FileNotFoundError:
                pass

    # -- messages ------------------------------------------------------------------------------
    def _holder(self, record: dict | None, stat: os.stat_result) -> str:
        if record is None:
            return f"an unreadable lock file {self.path} (modified {_iso(stat.st_mtime)})"
        return (f"host {record.get('host')}, pid {record.get('pid')}, since "
                f"{record.get('started')}")

    def _held_message(self, record: dict | None, stat: os.stat_result) -> str:
        if record is None:
            return (f"the workdir {self.root} is in use by another run: {self._holder(record, stat)}; "
                    f"delete it if no run uses this workdir (it is taken over after "
                    f"{self.stale_after_s:.0f} s unchanged)")
        message = (f"the workdir {self.root} is in use by another run: {self._holder(record, stat)}; "
                   f"wait for it to end or stop it (its lock: {self.path}")
        if not self._same_machine(record):
            message += (f"; last heartbeat {time.time() - stat.st_mtime:.0f} s ago, taken over after "
                        f"{self.stale_after_s:.0f} s without one")
        return message + ")"

    def _message_for_the_other_processes(self) -> str:
        judged = self._look()
        if judged is None:
            return f"the workdir {self.root} is in use: process 0 could not take its lock {self.path}"
        record, _, stat = judged
        return self._held_message(record, stat)

    # -- holding and releasing -----------------------------------------------------------------
    def _start_heartbeat(self) -> None:
        self._stop.clear()
        self._heartbeat = threading.Thread(target=self._beat, name="workdir lock heartbeat",
                                           daemon=True)
        self._heartbeat.start()

    def _ours(self) -> tuple[bool, dict | None]:
        judged = self._look()
        record = None if judged is None else judged[0]
        return record is not None and record.get("token") == self.token, record

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            ours, record = self._ours()
            if not ours:
                log.warning("workdir lock: %s is no longer this run's (%s)", self.path,
                            "deleted" if record is None else f"now held by host {record.get('host')}, "
                            f"pid {record.get('pid')}")
                return
            try:
                os.utime(self.path)
            except OSError as e:
                log.warning("workdir lock: could not refresh %s (%s)", self.path, e)

    def release(self) -> None:
        """Stops the heartbeat and deletes the lock file if it still holds this lock's token
        (never a lock another run took over); a no-op where this process holds no lock."""
        self._stop.set()
        if self._heartbeat is not None and self._heartbeat is not threading.current_thread():
            self._heartbeat.join(timeout=5)
        self._heartbeat = None
        if self.token is None or self._owner_pid != os.getpid():  # not ours, or a forked child
            return
        ours, record = self._ours()
        if ours:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
        elif record is not None:
            log.warning("workdir lock: %s is held by host %s, pid %s now; left in place", self.path,
                        record.get("host"), record.get("pid"))
        self.token = None
