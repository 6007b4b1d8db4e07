"""Helpers for run tests: launch the fake training script through the real launcher."""
from __future__ import annotations

import pytest

from runs_helpers import kill_scheduler


@pytest.fixture
def store(workspace):
    from laom_core.runs.store import RunStore

    s = RunStore()
    yield s
    s.close()


@pytest.fixture(autouse=True)
def _kill_leftovers(workspace):
    """Stop whatever a failing test left running (only processes recorded in this test's store)."""
    yield
    import os
    import signal

    from laom_core.runs import liveness
    from laom_core.runs.store import RunStore

    if not (workspace / "runs.sqlite").exists():
        return
    from laom_core.errors import WorkspaceError

    try:
        s = RunStore(reconcile=False)
    except WorkspaceError:
        return
    with s:
        for run in s.list_runs(reconcile=False):
            if not run["argv"] or run["pgid"] in (None, os.getpgid(0)):
                continue  # only processes the launcher started
            if liveness.process_alive(run["pid"], run["proc_start"], run["host"]):
                try:
                    os.killpg(run["pgid"], signal.SIGKILL)
                except ProcessLookupError:
                    pass
    kill_scheduler(workspace)
