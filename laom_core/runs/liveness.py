"""Is a run's process still alive?

A pid alone is not enough: after a crash or a reboot the number may belong to another
process. Each run records its process start time (``proc_start``) and host; a run is
alive only if a process with that pid exists on this host, started at that time, and is
not a zombie (:mod:`laom_core.procs` judges that). Any read of the store calls
:meth:`RunStore.reconcile <laom_core.runs.store.RunStore.reconcile>`, which asks this
module, so a run whose process died (crash, SIGKILL, reboot) shows as failed, with the
tail of its log, within seconds of anyone looking. This module knows processes, not the store.
"""
from __future__ import annotations

from pathlib import Path

from laom_core.procs import START_TIME_TOLERANCE_S, group_alive, process_alive, process_start_time, tail
from laom_core.rundir import RunDir

__all__ = ["START_TIME_TOLERANCE_S", "CLAIM_GRACE_S", "NO_REPORT", "group_alive", "process_alive",
           "process_start_time", "log_tail"]

# A run claimed by the scheduler must get a pid within this many seconds.
CLAIM_GRACE_S = 60.0
NO_REPORT = "the run's process exited without reporting"


def log_tail(run_dir: str | Path | None, lines: int = 20, max_bytes: int = 8192) -> str:
    """The last ``lines`` lines of a run's log ('' if there is none)."""
    if not run_dir:
        return ""
    return tail(RunDir(run_dir).log, lines, max_bytes)
