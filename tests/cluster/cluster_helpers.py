"""Helpers of the cluster tests (a unique module name: tests folders have no __init__)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import psutil

FAKE = Path(__file__).with_name("fake_remote.py")


def fake_argv(*extra: str) -> list[str]:
    return [sys.executable, str(FAKE), "--run-id", "{run_id}", "--run-dir", "{run_dir}", *map(str, extra)]


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {getattr(predicate, '__name__', predicate)}")


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


def done(store, run_id: str):
    run = store.get_run(run_id, reconcile=False)
    return run if run["status"] in ("finished", "failed", "stopped") else None
