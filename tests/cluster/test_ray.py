"""The ray backend against a real local Ray head (scripts/start_ray.sh)."""
from __future__ import annotations

import backend_cases as cases


def test_smoke_runs_finish_and_metrics_arrive_once(store, ray_cluster):
    cases.smoke_runs_finish_with_metrics_once(store, ray_cluster)


def test_stop_cancels_the_job_and_leaves_no_process(store, ray_cluster):
    cases.stop_cancels_and_leaves_no_process(store, ray_cluster)


def test_killing_the_scheduler_mid_run_loses_no_metric(store, ray_cluster, workspace):
    cases.scheduler_killed_mid_run_loses_nothing(store, ray_cluster, workspace)


def test_failing_run_is_reported_failed_with_its_log_tail(store, ray_cluster):
    cases.failing_run_is_failed_with_log_tail(store, ray_cluster)


def test_stopped_run_resumes_as_a_new_job(store, ray_cluster):
    cases.resume_after_stop(store, ray_cluster)
