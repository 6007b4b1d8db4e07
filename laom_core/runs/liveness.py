"""Is a run's process still alive? Mark the dead ones failed.

A pid alone is not enough: after a crash or a reboot the number may belong to another
process. Each run records its process start time (``proc_start``) and host; a run is
alive only if a process with that pid exists on this host, started at that time, and is
not a zombie. Any read of the store calls :func:`reconcile`, so a run whose process died
(crash, SIGKILL, reboot) shows as failed, with the tail of its log, within seconds of
anyone looking.
"""
from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:  # pragma: no cover
    from laom_core.runs.store import RunStore

# A run claimed by the scheduler must get a pid within this many seconds.
CLAIM_GRACE_S = 60.0
START_TIME_TOLERANCE_S = 1.0
NO_REPORT = "the run's process exited without reporting"


def process_start_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, OSError):
        return None


def process_alive(pid: int | None, proc_start: float | None, host: str | None = None) -> bool | None:
    """True/False for a process on this host; None when it cannot be judged (other host, no pid)."""
    if pid is None:
        return None
    if host and host != socket.gethostname():
        return None
    try:
        proc = psutil.Process(int(pid))
        if proc_start is not None and abs(proc.create_time() - float(proc_start)) > START_TIME_TOLERANCE_S:
            return False  # the pid was reused by another process (reboot, long uptime)
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except (psutil.Error, OSError):
        return None


def group_alive(pgid: int | None) -> bool:
    """Whether any non-zombie process is left in process group ``pgid``."""
    import os

    if pgid is None or pgid <= 1:
        return False
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


def log_tail(run_dir: str | Path | None, lines: int = 20, max_bytes: int = 8192) -> str:
    """The last ``lines`` lines of a run's log.txt ('' if there is none)."""
    if not run_dir:
        return ""
    path = Path(run_dir) / "log.txt"
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


def reconcile(store: "RunStore") -> list[str]:
    """Mark running runs whose process is gone as failed (or stopped, if a stop was asked).

    Returns the ids changed. A training process that finished and set its own status in
    the meantime is never overwritten (the change is conditional on status 'running').
    """
    changed = []
    rows = store._read(lambda c: c.execute(
        "SELECT id, pid, proc_start, host, run_dir, started_at, stop_requested, updated_at, backend "
        "FROM runs WHERE status='running'").fetchall())
    now = time.time()
    remote = False
    for run_id, pid, proc_start, host, run_dir, started_at, stop_requested, updated_at, backend in rows:
        if backend and backend != "local":
            remote = True  # cluster backends hook: the scheduler watches the job (backend state)
            continue
        alive = process_alive(pid, proc_start, host)
        if alive is None:
            if pid is None and (host in (None, socket.gethostname())) and \
                    now - (updated_at or started_at or now) > CLAIM_GRACE_S:  # claimed (updated) that long ago
                reason = "the launcher died before the run's process started"
            else:
                continue
        elif alive:
            continue
        else:
            reason = None
        tail = log_tail(run_dir)
        if stop_requested:
            ok = store.transition(run_id, ["running"], "stopped", ended_at=now)
        else:
            summary = reason or f"{NO_REPORT} (crash, kill or reboot)"
            error = summary + (f"; log tail:\n{tail}" if tail else "")
            ok = store.transition(run_id, ["running"], "failed", ended_at=now, error=error)
        if ok:
            changed.append(run_id)
    if remote:  # cluster backends hook: a remote run needs a live scheduler; restart a dead one
        from laom_core.runs.launcher import ensure_scheduler, scheduler_alive

        if not scheduler_alive():
            ensure_scheduler(store)
    return changed
