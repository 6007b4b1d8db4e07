"""Cluster tests: real Slurm (scripts/start_slurm.sh) and Ray (scripts/start_ray.sh) on this machine.

A test of a backend skips, saying why, when its cluster is not up; when test.sh started that
cluster (``LAOM_CLUSTER_TESTS=slurm,ray``) it fails instead.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "runs"))  # runs_helpers: the run tests' helpers, shared
from runs_helpers import kill_scheduler  # noqa: E402 - after the path
# Backends whose cluster test.sh started: their tests must run, not skip.
REQUIRE = {b.strip() for b in os.environ.get("LAOM_CLUSTER_TESTS", "").split(",") if b.strip()}


def _need(backend: str, why: str | None) -> None:
    if why:
        if backend in REQUIRE:
            pytest.fail(f"test.sh started {backend} (LAOM_CLUSTER_TESTS={','.join(sorted(REQUIRE))}) but {why}")
        pytest.skip(why)


@pytest.fixture
def slurm():
    from laom_core.runs.backends.slurm import reachable

    why = reachable()
    if why is None:
        try:
            import submitit  # noqa: F401
        except ImportError:
            why = "submitit is not installed (pip install submitit)"
    _need("slurm", why and f"{why}; run `bash scripts/start_slurm.sh` to test the slurm backend")
    return "slurm"


@pytest.fixture
def ray_cluster():
    from laom_core.errors import ConfigError
    from laom_core.runs.backends.ray_jobs import RayBackend

    try:
        RayBackend().check({})
        why = None
    except ConfigError as exc:
        why = str(exc)
    _need("ray", why and f"{why}; run `bash scripts/start_ray.sh` to test the ray backend")
    return "ray"


@pytest.fixture(params=["slurm", "ray"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each remote backend in turn, through its own fixture above (skips or fails when its cluster is not up)."""
    return request.getfixturevalue({"slurm": "slurm", "ray": "ray_cluster"}[request.param])


@pytest.fixture
def store(workspace, monkeypatch):
    from laom_core.runs.store import RunStore

    monkeypatch.setenv("LAOM_STUDIO_SCHEDULER_POLL", "0.2")
    s = RunStore()
    yield s
    # stop whatever a failing test left on the clusters, and our scheduler
    from laom_core.runs import backends

    for run in backends.remote_active(s):
        if run.get("job_id"):
            try:
                backends.get(run["backend"]).cancel(run, grace_s=1.0)
            except Exception:  # noqa: BLE001
                pass
    s.close()
    kill_scheduler(workspace)


@pytest.fixture
def store_dir(workspace):
    """A store with one remote run record and its folder."""
    from laom_core.runs.store import RunStore

    s = RunStore()
    run_dir = workspace / "runs" / "r1"
    run_dir.mkdir(parents=True)
    run_id = s.create_run("r1", None, None, None, run_dir, status="running", run_id="r1", backend="slurm",
                          backend_opts={})
    yield s, run_id, run_dir
    s.close()
