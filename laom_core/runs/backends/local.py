"""The ``local`` backend: today's launcher, unchanged.

Local runs are started, watched and stopped by :mod:`laom_core.runs.launcher` itself (a
process group per run, pid + start time for liveness); this class only gives them the
same face as the cluster backends, for code that talks to any backend.
"""
from __future__ import annotations

from laom_core.runs.backends.base import JobState


class LocalBackend:
    name = "local"

    def check(self, opts: dict) -> None:
        return None

    def submit(self, run: dict, argv: list[str], env: dict[str, str], opts: dict) -> str:
        raise NotImplementedError("local runs are started by the launcher's scheduler")

    def poll(self, run: dict) -> JobState:
        from laom_core.runs.liveness import process_alive

        alive = process_alive(run.get("pid"), run.get("proc_start"), run.get("host"))
        if alive is None:
            return JobState("pending" if run.get("status") == "queued" else "gone")
        return JobState("running") if alive else JobState("gone", run.get("exit_code"))

    def cancel(self, run: dict, grace_s: float) -> None:
        from laom_core.procs import stop_group

        pgid = run.get("pgid") or run.get("pid")
        if pgid:  # the launcher's own stop (runs.launcher.stop) also records the request; this is the process side
            stop_group(int(pgid), grace_s=grace_s)

    def log(self, run: dict, lines: int = 50) -> str:
        from laom_core.runs.liveness import log_tail

        return log_tail(run.get("run_dir"), lines=lines)
