"""The one-command demo: smoke mode end to end in a temporary workspace, resumable."""
from __future__ import annotations

import json

import numpy as np
import pytest

from laom_core.studies import demo
from laom_core.errors import LaomError
from laom_core.experts import shipped


@pytest.fixture
def stop_runs_after(workspace):
    """Whatever happens in the test, leave no queued or running demo run behind."""
    yield
    from laom_core.runs import launcher

    if (workspace / "runs.sqlite").exists():
        launcher.stop_all(grace_s=2.0)


def test_status_before_any_demo():
    status = demo.demo_status()
    assert status["state"] == "not-started" and status["done"] == 0
    assert [s["name"] for s in status["steps"]] == list(demo.STEP_NAMES)


def test_missing_expert_fails_with_a_clear_status(monkeypatch, tmp_path):
    monkeypatch.setattr(shipped, "ASSETS_DIR", tmp_path / "no-assets")
    with pytest.raises(LaomError, match="shipped expert"):
        demo.run_demo(smoke=True)
    status = demo.demo_status()
    assert status["state"] == "failed" and "shipped expert" in status["message"]


def test_run_requests_cover_methods_and_budget_sweeps():
    plan = demo.make_plan(smoke=False)
    reqs = demo.run_requests(plan)
    methods = {r["method"] for r in reqs}
    assert methods == {"bc", "idm", "lapo", "laom", "laom-labels"}
    assert [r["method"] for r in reqs[:3]] == ["lapo", "laom", "laom-labels"]  # headline first
    for method in ("idm", "laom-labels"):
        assert sorted(r["labeled_budget"] for r in reqs if r["method"] == method) == [2, 8, 32]
    assert all(r["preset"] == "cpu-small" for r in reqs)
    assert len({r["name"] for r in reqs}) == len(reqs)


@pytest.mark.slow
@pytest.mark.skipif("cheetah-run" not in shipped.shipped_tasks(), reason="no shipped cheetah-run expert")
def test_smoke_demo_end_to_end(workspace, monkeypatch, stop_runs_after):
    from laom_core.commands.demo import wait_for_runs
    from laom_core.data.hdf5 import open_dataset
    from laom_core.runs.store import RunStore

    monkeypatch.setenv("LAOM_STUDIO_MAX_RUNS", "2")
    status = demo.run_demo(smoke=True)
    assert status["state"] == "finished" and status["done"] == status["total"] == len(demo.STEP_NAMES)
    plan = demo.make_plan(smoke=True)

    with open_dataset(plan.train_path) as ds:
        assert ds.num_trajectories == plan.train_episodes
        assert ds.attrs["difficulty"] == plan.difficulty and ds.attrs["split"] == "train"
        # the expert runs: a cheetah at speed, not random flailing
        assert np.mean([ds.trajectory_return(i) for i in range(ds.num_trajectories)]) > 0.1 * plan.steps  # random: ~0.01 per step
    for budget in plan.budgets:
        with open_dataset(plan.labeled_path(budget)) as ds:
            assert ds.num_trajectories == budget and set(ds.lengths) == {plan.chunk_size}
    with open_dataset(plan.eval_path) as ds:
        assert ds.attrs["split"] == "eval"

    runs = status["runs"]
    assert len(runs) == 7
    final = wait_for_runs([r["run_id"] for r in runs], poll_s=1.0)
    assert set(final.values()) == {"finished"}, final

    store = RunStore()
    for r in runs:
        run = store.get_run(r["run_id"])
        assert run["group"] == plan.group
        run_dir = workspace / "runs" / r["run_id"]
        summary = json.loads((run_dir / "summary.json").read_text())
        assert np.isfinite(summary["eval_return_mean"])
        assert (run_dir / "config.yaml").is_file() and (run_dir / "log.txt").is_file()
        episodes = json.loads((run_dir / "artifacts" / "rollouts" / "episodes.json").read_text())
        assert episodes and "return" in episodes[0]
        if r["method"] in ("lapo", "laom", "laom-labels"):
            assert (run_dir / "artifacts" / "latents.npz").is_file()
            probe = json.loads((run_dir / "artifacts" / "probe.json").read_text())
            assert np.isfinite(probe["held_out_probe_mse"])
        assert store.metrics(r["run_id"])  # curves for the pages
    store.close()

    # resumable: a second call skips every step and queues nothing new
    again = demo.run_demo(smoke=True)
    assert [s["state"] for s in again["steps"]][:4] == ["skipped"] * 4
    assert sorted(r["run_id"] for r in again["runs"]) == sorted(r["run_id"] for r in runs)


def test_start_demo_detaches_and_is_not_started_twice(workspace):
    import os
    import signal
    import time

    pid = demo.start_demo(smoke=True)
    try:
        deadline = time.time() + 120
        status = demo.demo_status()
        while status.get("pid") != pid and time.time() < deadline:
            time.sleep(0.5)
            status = demo.demo_status()
        assert status.get("pid") == pid, status
        assert status["smoke"] is True
        if status["state"] == "running":
            assert demo.start_demo(smoke=True) == pid  # a second click joins the running demo
        assert os.getpgid(pid) == pid  # its own session: survives the dashboard
    finally:
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.time() + 30
    while time.time() < deadline and demo._pid_alive(pid):
        time.sleep(0.2)
    if not demo._pid_alive(pid):
        assert demo.demo_status()["state"] == "failed"  # ended without finishing: resumable


def test_results_table_reads_the_store_and_fills_the_readme_block(workspace, tmp_path):
    import time

    from laom_core.runs.store import RunStore

    plan = demo.make_plan(smoke=False)
    reqs = demo.run_requests(plan)
    demo._Status(plan)  # the demo's start time
    with RunStore() as store:
        for i, req in enumerate(reqs[:3]):
            run_dir = workspace / "runs" / f"r{i}"
            run_dir.mkdir(parents=True)
            (run_dir / "summary.json").write_text(json.dumps(
                {"probe_mse": 0.1 * (i + 1), "chance_probe_mse": 0.57, "eval_return_mean": 100.0 + i,
                 "normalized_return": 0.2 + i / 10}))
            rid = store.create_run(req["name"], req["method"], "cheetah-run", {}, run_dir, status="queued")
            store.set_status(rid, "running")
            with store.metric_writer(rid) as writer:
                writer.log("lam", 1, {"loss": 1.0})
            store.set_status(rid, "finished")
    results = demo.demo_results()
    rows = results["rows"]
    assert [r["status"] for r in rows[:3]] == ["finished"] * 3 and rows[3]["status"] == "not queued"
    assert rows[1]["probe_mse"] == pytest.approx(0.2)
    # no demo BC run finished: every row is normalized by the paper's BC (823 for cheetah-run)
    assert rows[2]["normalized_return"] == pytest.approx(102.0 / 823.0)
    assert results["normalizer"]["source"] == "paper BC (distractors)"
    t = results["timeline"]
    assert t["first_metric_min"] is not None and t["headline_finished_min"] is not None
    assert t["all_finished_min"] is None  # six runs never ran
    text = demo.results_markdown(results)
    assert "| LAOM | 32 | finished | 0.2000 | 0.5700 | 101.0 | 0.123 |" in text

    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{demo.README_BEGIN}\nold table\n{demo.README_END}\nrest\n")
    demo.write_readme_block(readme, text)
    new = readme.read_text()
    assert "old table" not in new and "| LAOM | 32 | finished" in new and new.endswith("rest\n")
    readme.write_text("no markers\n")
    with pytest.raises(LaomError, match="demo-results block"):
        demo.write_readme_block(readme, text)
