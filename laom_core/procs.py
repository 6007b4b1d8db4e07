"""Background processes: start, check, stop, tail, and report progress. The one supervisor floor.

Everything LAOM Studio runs in the background (training runs through the launcher, jobs,
the demo) starts here, from an argument list (never a shell string), as its own session
and process group, output appended to a log file. A process is identified by pid *and*
start time (:class:`Proc`), so a pid reused after a crash or reboot is never taken for
ours. Stopping is SIGTERM to the group, then SIGKILL to whatever is left after a grace
period.

Progress is structured: a child calls :func:`report_progress` (``done``, ``total``,
``stage``), which writes ``$LAOM_PROGRESS_FILE`` atomically when its starter set it
(:func:`start` with ``progress_file``); the starter reads it with :func:`read_progress`.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import psutil

from laom_core.errors import LaomError
from laom_core.workspace import WORKSPACE_ENV, atomic_write_json

PACKAGE_PARENT = str(Path(__file__).resolve().parents[1])
PROGRESS_ENV = "LAOM_PROGRESS_FILE"
START_TIME_TOLERANCE_S = 1.0

# Popen handles of children this process started, polled so they never linger as zombies.
_CHILDREN: list[subprocess.Popen] = []


# ---------------------------------------------------------------------- identity and liveness
def process_start_time(pid: int) -> float | None:
    """When process ``pid`` started (epoch seconds), or None if there is none."""
    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, OSError):
        return None


def process_alive(pid: int | None, start_time: float | None, host: str | None = None) -> bool | None:
    """True/False for a process on this host; None when it cannot be judged (other host, no pid).

    With ``start_time``, a process with that pid that started at another time is someone
    else's (the pid was reused) and counts as dead; so does a zombie.
    """
    if pid is None:
        return None
    if host and host != socket.gethostname():
        return None
    reap()
    try:
        proc = psutil.Process(int(pid))
        if start_time is not None and abs(proc.create_time() - float(start_time)) > START_TIME_TOLERANCE_S:
            return False
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except (psutil.Error, OSError):
        return None


def group_alive(pgid: int | None) -> bool:
    """Whether any non-zombie process is left in process group ``pgid``."""
    if pgid is None or pgid <= 1:
        return False
    reap()
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.Error, OSError):
            continue
    return False


@dataclass(frozen=True)
class Proc:
    """A started process group: its leader's pid and start time (pid reuse safe), and host."""

    pid: int
    start_time: float | None
    host: str = field(default_factory=socket.gethostname)
    popen: subprocess.Popen | None = field(default=None, compare=False, repr=False)  # only in the starter

    @property
    def pgid(self) -> int:
        return self.pid  # started as a session leader

    def alive(self) -> bool:
        """The leader is running (not a zombie, not a reused pid)."""
        return bool(process_alive(self.pid, self.start_time, self.host))

    def poll(self) -> int | None:
        """The exit code if this process started it and it ended, else None."""
        return self.popen.poll() if self.popen is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "start_time": self.start_time, "host": self.host}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "Proc | None":
        if not data or data.get("pid") is None:
            return None
        return cls(int(data["pid"]), data.get("start_time"), data.get("host") or socket.gethostname())


# ---------------------------------------------------------------------- start
def child_env(extra: Mapping[str, str] | None = None, workspace: str | os.PathLike | None = None) -> dict[str, str]:
    """This process's environment for a child: this package importable, output unbuffered,
    the workspace pinned (when given), plus ``extra``."""
    env = dict(os.environ)
    if workspace is not None:
        env[WORKSPACE_ENV] = str(workspace)
    env["PYTHONUNBUFFERED"] = "1"
    paths = [PACKAGE_PARENT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != PACKAGE_PARENT]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(extra or {})
    return env


def start(argv: Sequence[str | os.PathLike], *, log: str | os.PathLike, cwd: str | os.PathLike | None = None,
          env: Mapping[str, str] | None = None, header: str | None = None,
          progress_file: str | os.PathLike | None = None) -> Proc:
    """Start ``argv`` detached (own session and process group), output appended to ``log``.

    ``env`` is the child's whole environment (default :func:`child_env`). ``header`` is
    written to the log first (one line). With ``progress_file`` the child's
    :func:`report_progress` writes there. Raises OSError when the command cannot start.
    """
    argv = [str(a) for a in argv]
    if not argv:
        raise LaomError("a process needs a command")
    env = dict(env) if env is not None else child_env()
    if progress_file is not None:
        env[PROGRESS_ENV] = str(progress_file)
    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    reap()
    with open(log, "ab") as fh:
        if header:
            fh.write((header.rstrip("\n") + "\n").encode())
            fh.flush()
        popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
                                 start_new_session=True, env=env, cwd=str(cwd) if cwd else None, close_fds=True)
    _CHILDREN.append(popen)
    return Proc(popen.pid, process_start_time(popen.pid), socket.gethostname(), popen)


def reap() -> None:
    """Collect the exit status of ended children this process started (no zombies)."""
    for child in list(_CHILDREN):
        if child.poll() is not None:
            _CHILDREN.remove(child)


# ---------------------------------------------------------------------- stop
def signal_group(pgid: int, sig: int) -> None:
    """Send ``sig`` to a process group; a group that is gone (or not ours) is left alone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def wait_group(pgid: int, timeout: float, poll_s: float = 0.05) -> bool:
    """Wait up to ``timeout`` s for a group to end; True if it did."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not group_alive(pgid):
            return True
        time.sleep(poll_s)
    return not group_alive(pgid)


def stop_group(pgid: int, grace_s: float = 10.0) -> bool:
    """SIGTERM the group, SIGKILL what is left after ``grace_s``; True if it is gone."""
    signal_group(pgid, signal.SIGTERM)
    if wait_group(pgid, grace_s):
        return True
    signal_group(pgid, signal.SIGKILL)
    return wait_group(pgid, 5.0)


def stop(proc: Proc, grace_s: float = 10.0) -> bool:
    """Stop ``proc``'s group unless its pid now belongs to someone else; True if nothing is left."""
    if process_alive(proc.pid, proc.start_time, proc.host) is False and process_start_time(proc.pid) is not None:
        return True  # the pid was reused: the group is not ours to signal
    return stop_group(proc.pgid, grace_s)


# ---------------------------------------------------------------------- logs
def tail(path: str | os.PathLike | None, lines: int | None = 20, max_bytes: int | None = 8192,
         last_state: bool = False, strict: bool = False) -> str:
    """The end of a log file ('' if there is none): at most ``max_bytes`` (None: all), then
    the last ``lines`` lines (None: all). ``last_state`` keeps only the last carriage-return
    state of each line (a progress bar redrawn in place). With ``strict``, an unreadable
    file (other than a missing one) raises OSError instead of reading as ''."""
    if not path:
        return ""
    try:
        with open(path, "rb") as fh:
            if max_bytes is not None:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - max_bytes))
            text = fh.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    except OSError:
        if strict:
            raise
        return ""
    if last_state:  # (str.splitlines would split at the carriage returns too)
        text = "\n".join(line.split("\r")[-1] for line in text.split("\n"))
    if lines is None:
        return text
    return "\n".join(text.splitlines()[-lines:])


def read_from(path: str | os.PathLike, offset: int) -> tuple[str, int]:
    """What a log holds from byte ``offset`` on, and the offset to read from next (following
    a growing log); ``("", offset)`` while it does not exist."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
            return data.decode("utf-8", errors="replace"), fh.tell()
    except FileNotFoundError:
        return "", offset


# ---------------------------------------------------------------------- progress
def write_progress(path: str | os.PathLike, done: float, total: float | None = None, stage: str = "",
                   message: str = "", **extra: Any) -> None:
    """Write one progress record to ``path`` atomically (a reader never sees half of one).

    ``done`` of ``total`` units (``total`` None: ``done`` is a fraction 0..1); ``extra``
    fields (e.g. ``eta_s``) are kept. Errors are ignored: progress must never fail the work.
    """
    fraction = (float(done) / float(total) if total else 0.0) if total is not None else float(done)
    record = {"done": done, "total": total, "fraction": min(max(fraction, 0.0), 1.0), "stage": stage,
              "message": message, "time": time.time(), **extra}
    with contextlib.suppress(OSError):
        atomic_write_json(Path(path), record)


def report_progress(done: float, total: float | None = None, stage: str = "", message: str = "") -> None:
    """Record this process's progress for its starter (:func:`write_progress` to the file
    ``$LAOM_PROGRESS_FILE`` names; nothing when its starter set none)."""
    path = os.environ.get(PROGRESS_ENV)
    if path:
        write_progress(path, done, total, stage, message)


def read_progress(path: str | os.PathLike) -> dict[str, Any] | None:
    """The last record :func:`report_progress` wrote there, or None."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "fraction" in data else None

