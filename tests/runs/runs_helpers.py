"""Shared helpers of the run tests (a unique module name: tests folders have no __init__)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

FAKE = Path(__file__).with_name("fake_train.py")


def fake_argv(*extra: str) -> list[str]:
    return [sys.executable, str(FAKE), "--run-id", "{run_id}", "--run-dir", "{run_dir}", *map(str, extra)]


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05):
    """Poll until ``predicate()`` is truthy; return its value or fail the test."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {getattr(predicate, '__name__', predicate)}")
