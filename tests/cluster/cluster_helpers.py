"""Helpers of the cluster tests (a unique module name: tests folders have no __init__).

The run tests' helpers (tests/runs/runs_helpers.py, on the path through this folder's
conftest) with the cluster's script and slower polling, and what only clusters need.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, TypeVar

import psutil

import runs_helpers

T = TypeVar("T")
FAKE = Path(__file__).with_name("fake_remote.py")


def fake_argv(*extra: object) -> list[str]:
    """The command line of a fake remote run (fake_remote.py)."""
    return runs_helpers.fake_argv(*extra, script=FAKE)


def wait_for(predicate: Callable[[], T], timeout: float = 60.0, interval: float = 0.2) -> T:
    """:func:`runs_helpers.wait_for` at a cluster's pace (a job takes seconds to start)."""
    return runs_helpers.wait_for(predicate, timeout, interval)


def processes_of(run_id: str) -> list[psutil.Process]:
    """Live processes whose command line names the run (its entry wrapper and command)."""
    out = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and any(run_id in a for a in proc.info["cmdline"] or []):
                out.append(proc)
        except (psutil.Error, TypeError):
            continue
    return out


def queue(store, backend: str, *extra: object, opts: dict | None = None) -> str:
    """Launch a fake remote run on ``backend``; its run id."""
    from laom_core.runs.backends import check_backend
    from laom_core.runs.launcher import launch_argv

    return launch_argv(fake_argv(*extra), method="fake", store=store, backend=backend,
                       backend_opts=check_backend(backend, opts or {}))


def done(store, run_id: str):
    run = store.get_run(run_id, reconcile=False)
    return run if run["status"] in ("finished", "failed", "stopped") else None
