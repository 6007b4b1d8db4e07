"""Shared helpers of the run tests (a unique module name: tests folders have no __init__).

The cluster tests (tests/cluster) use them too: their conftest puts this folder on the path.
"""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Callable, TypeVar

T = TypeVar("T")
FAKE = Path(__file__).with_name("fake_train.py")


def fake_argv(*extra: object, script: Path = FAKE) -> list[str]:
    """The command line of a fake run (``script``, by default fake_train.py); the launcher
    fills in ``{run_id}`` and ``{run_dir}``."""
    return [sys.executable, str(script), "--run-id", "{run_id}", "--run-dir", "{run_dir}", *map(str, extra)]


def wait_for(predicate: Callable[[], T], timeout: float = 20.0, interval: float = 0.05) -> T:
    """Poll until ``predicate()`` is truthy; return its value or fail the test."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {getattr(predicate, '__name__', predicate)}")


def kill_scheduler(workspace: Path) -> None:
    """SIGKILL the workspace's scheduler, if its lock names one that is alive (a test's leftover)."""
    lock = workspace / ".scheduler.lock"
    if lock.exists():
        from laom_core.runs.launcher import scheduler_alive

        text = lock.read_text().strip()
        if text.isdigit() and scheduler_alive():
            try:
                os.kill(int(text), signal.SIGKILL)
            except ProcessLookupError:
                pass
