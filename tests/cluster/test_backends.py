"""The same real checks for every remote backend: each test runs once on Slurm and once on
Ray (the ``backend`` fixture, tests/cluster/conftest.py); what only one backend has is in
test_slurm.py and test_ray.py."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from cluster_helpers import done, processes_of, queue, wait_for


def test_smoke_runs_finish_and_metrics_arrive_once(store, backend: str) -> None:
    ids = [queue(store, backend, "--steps", 25) for _ in range(3)]
    for run_id in ids:
        run = wait_for(lambda: done(store, run_id), timeout=120)
        assert run["status"] == "finished", run["error"]
        assert run["backend"] == backend and run["job_id"] and run["exit_code"] == 0
        curve = store.metrics(run_id, stage="lam")["loss"]
        assert list(curve["step"]) == list(range(25))
        assert store.count_metrics(run_id) == 25  # exactly once
        assert "fake remote" in Path(run["run_dir"]).joinpath("log.txt").read_text()


def test_stop_cancels_the_job_and_leaves_no_process(store, backend: str) -> None:
    from laom_core.runs.launcher import stop

    run_id = queue(store, backend, "--steps", 1000, "--sleep", 0.1)
    wait_for(lambda: store.count_metrics(run_id) >= 3, timeout=120)
    assert stop(run_id, grace_s=5.0, store=store) == "stopped"
    wait_for(lambda: not processes_of(run_id), timeout=30)
    time.sleep(1.0)
    assert store.get_run(run_id)["status"] == "stopped"


def test_killing_the_scheduler_mid_run_loses_no_metric(store, backend: str, workspace: Path) -> None:
    from laom_core.runs.launcher import ensure_scheduler, scheduler_alive

    run_id = queue(store, backend, "--steps", 60, "--sleep", 0.1)
    wait_for(lambda: store.count_metrics(run_id) >= 5, timeout=120)
    pid = int((workspace / ".scheduler.lock").read_text().strip())
    os.kill(pid, signal.SIGKILL)  # mid-ingest perhaps: rows and offset commit together
    wait_for(lambda: not scheduler_alive(), timeout=10)
    time.sleep(1.0)  # the run goes on writing meanwhile
    assert store.get_run(run_id, reconcile=False)["status"] == "running"
    ensure_scheduler(store)
    run = wait_for(lambda: done(store, run_id), timeout=120)
    assert run["status"] == "finished", run["error"]
    curve = store.metrics(run_id, stage="lam")["loss"]
    assert list(curve["step"]) == list(range(60)) and store.count_metrics(run_id) == 60


def test_failing_run_is_reported_failed_with_its_log_tail(store, backend: str) -> None:
    run_id = queue(store, backend, "--steps", 10, "--crash-at", 4)
    run = wait_for(lambda: done(store, run_id), timeout=120)
    assert run["status"] == "failed" and run["exit_code"] == 1
    assert "boom at step 4" in run["error"] and "log tail" in run["error"]
    assert store.count_metrics(run_id) == 4


def test_stopped_run_resumes_as_a_new_job(store, backend: str) -> None:
    from laom_core.runs.launcher import resume, stop

    run_id = queue(store, backend, "--steps", 30, "--sleep", 0.3)
    wait_for(lambda: store.count_metrics(run_id) >= 2, timeout=120)
    stop(run_id, grace_s=5.0, store=store)
    first_job = store.get_run(run_id)["job_id"]
    resume(run_id, store=store)
    run = wait_for(lambda: done(store, run_id), timeout=180)
    assert run["status"] == "finished", run["error"]
    assert run["job_id"] != first_job and run["attempts"] == 2
    assert list(store.metrics(run_id, stage="lam")["loss"]["step"]) == list(range(30))
