"""Is a run's process still alive? Mark the dead ones failed.

A pid alone is not enough: after a crash or a reboot the number may belong to another
process. Each run records its process start time (``proc_start``) and host; a run is
alive only if a process with that pid exists on this host, started at that time, and is
not a zombie. Any read of the store calls :meth:`RunStore.reconcile
<laom_core.runs.store.RunStore.reconcile>`, which asks this module, so a run whose process
died (crash, SIGKILL, reboot) shows as failed, with the tail of its log, within seconds of
anyone looking. This module knows processes, not the store.
"""
from __future__ import annotations

import socket
from pathlib import Path
import psutil

from laom_core.rundir import RunDir

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
    path = RunDir(run_dir).log
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])
