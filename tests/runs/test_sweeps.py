"""Sweeps: the plan (methods x budgets x seeds), labeled subsets, idempotency, progress, aggregation."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from laom_core.cli import main
from laom_core.data.hdf5 import open_dataset
from laom_core.data.toy import make_toy_dataset
from laom_core.errors import ConfigError, LaomError, RunError
from laom_core.runs.sweeps import aggregate_sweep, create_sweep, make_spec, parse_budgets, sweep_progress


@pytest.fixture
def files(tmp_path):
    data = make_toy_dataset(tmp_path / "unlabeled.hdf5", trajectories=6, steps=12, img_size=16, seed=0)
    labeled = make_toy_dataset(tmp_path / "labeled.hdf5", trajectories=8, steps=12, img_size=16, seed=1)
    return data, labeled


def _arg(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_sweep_plans_every_cell_with_seeded_subsets(store, files):
    data, labeled = files
    spec = make_spec("budget-curve", "lapo,laom-labels", "2,4,all", "0,1", "toy-move", str(data),
                     labeled_data=str(labeled), preset="smoke")
    ids = create_sweep(spec, store, start_scheduler=False)
    assert len(ids) == 2 * 3 * 2 == len(set(ids))
    runs = store.list_runs(group="budget-curve")
    assert sorted(r["id"] for r in runs) == sorted(ids)
    cells = {(r["method"], r["labeled_budget"], r["seed"]) for r in runs}
    assert cells == {(m, b, s) for m in ("lapo", "laom-labels") for b in (2, 4, 8) for s in (0, 1)}
    for run in runs:
        argv = run["argv"]
        assert f"seed={run['seed']}" in argv and _arg(argv, "--preset") == "smoke"
        assert run["config"]["seed"] == run["seed"] and run["status"] == "queued" and run["task"] == "toy-move"
        sub = Path(_arg(argv, "--labeled-data"))
        with open_dataset(sub) as ds:
            assert ds.num_trajectories == run["labeled_budget"]
    # Methods of one (budget, seed) share a subset; seeds draw different ones.
    by_cell = {(r["labeled_budget"], r["seed"], r["method"]): _arg(r["argv"], "--labeled-data") for r in runs}
    assert by_cell[(2, 0, "lapo")] == by_cell[(2, 0, "laom-labels")] != by_cell[(2, 1, "lapo")]
    assert by_cell[(8, 0, "lapo")] == str(labeled)  # 'all' uses the file itself

    progress = sweep_progress("budget-curve", store)
    assert progress["total"] == 12 and progress["done"] == 0 and progress["queued"] == 12

    # Repeating the command adds nothing; the same name with another plan is refused.
    assert create_sweep(spec, store, start_scheduler=False) == ids
    assert len(store.list_runs()) == 12
    other = make_spec("budget-curve", "lapo", "2", "0", "toy-move", str(data), labeled_data=str(labeled))
    with pytest.raises(RunError, match="different plan"):
        create_sweep(other, store, start_scheduler=False)


def test_bad_sweep_values_are_clear(files):
    data, labeled = files
    with pytest.raises(ConfigError, match="not a number"):
        parse_budgets("2,lots")
    with pytest.raises(ConfigError, match="unknown method"):
        make_spec("s", "lapo,magic", "2", "0", "toy-move", str(data), labeled_data=str(labeled))
    with pytest.raises(ConfigError, match="labeled-data"):
        make_spec("s", "lapo", "2", "0", "toy-move", str(data))
    with pytest.raises(ConfigError, match=r"\{task\}"):
        make_spec("s", "lapo", "2", "0", "cheetah-run,walker-run", str(data), labeled_data=str(labeled))
    spec = make_spec("too-many", "lapo", "64", "0", "toy-move", str(data), labeled_data=str(labeled))
    with pytest.raises(ConfigError, match="exceeds the 8 trajectories"):
        create_sweep(spec, start_scheduler=False)


def test_aggregate_mean_std_over_seeds(store, files):
    data, labeled = files
    spec = make_spec("agg", "laom,laom-labels", "2", "0,1,2", "toy-move", str(data), labeled_data=str(labeled))
    create_sweep(spec, store, start_scheduler=False)
    runs = store.list_runs(group="agg")
    for run in runs:
        bonus = 1.0 if run["method"] == "laom-labels" else 0.0
        if run["seed"] == 2 and run["method"] == "laom":
            # No summary.json: the last logged values count instead.
            store.set_status(run["id"], "finished")
            with store.metric_writer(run["id"]) as w:
                w.log("lam", 10, {"held_out_probe_mse": 99.0})
                w.log("lam", 20, {"held_out_probe_mse": 3.0})
                w.log("eval", 0, {"eval_return_mean": 30.0})
            continue
        Path(run["run_dir"]).mkdir(parents=True, exist_ok=True)
        summary = {"probe_mse": 1.0 + run["seed"] - bonus, "eval_return_mean": 10.0 * run["seed"] + 100 * bonus,
                   "normalized_return": None}
        (Path(run["run_dir"]) / "summary.json").write_text(json.dumps(summary))
        store.set_status(run["id"], "finished" if run["seed"] != 1 or run["method"] == "laom" else "failed")
    rows = {r["method"]: r for r in aggregate_sweep("agg", store)}
    laom, sup = rows["laom"], rows["laom-labels"]
    assert laom["n"] == 3 and laom["seeds"] == [0, 1, 2] and laom["labeled_budget"] == 2
    assert laom["held_out_probe_mse_mean"] == pytest.approx((1 + 2 + 3) / 3)
    assert laom["held_out_probe_mse_std"] == pytest.approx(1.0)
    assert laom["eval_return_mean_mean"] == pytest.approx((0 + 10 + 30) / 3)
    assert laom["normalized_return_mean"] is None and laom["normalized_return_n"] == 0
    assert sup["n"] == 2 and sup["seeds"] == [0, 2]  # the failed seed is left out
    assert sup["held_out_probe_mse_mean"] == pytest.approx(1.0) and sup["eval_return_mean_mean"] == 110.0
    progress = sweep_progress("agg", store)
    assert (progress["done"], progress["total"], progress["failed"]) == (6, 6, 1)


def test_sweep_cli_queues_and_summarises(store, files, capsys, monkeypatch):
    monkeypatch.setenv("LAOM_STUDIO_SCHEDULER_POLL", "0.1")
    data, labeled = files
    # Concurrency 1 and a long-running first run keep the rest queued while we look.
    assert main(["sweep", "--name", "cli", "--methods", "lapo,laom", "--budgets", "2", "--seeds", "0",
                 "--data", str(data), "--labeled-data", str(labeled), "--preset", "smoke", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(out["run_ids"]) == 2 and out["progress"]["total"] == 2
    from laom_core.runs.launcher import stop

    for run_id in out["run_ids"]:
        run = store.get_run(run_id)
        if run["status"] in ("queued", "running"):
            stop(run_id, grace_s=2, store=store)
    assert main(["sweep", "--name", "cli", "--summary"]) == 0
    text = capsys.readouterr().out
    assert "sweep cli: 2/2 done" in text
    assert main(["sweep", "--name", "nope", "--summary"]) == 2


def test_launch_sweep_for_pages(store, files):
    from laom_core.runs.sweeps import launch_sweep

    data, labeled = files
    out = launch_sweep("page", ["laom"], [2, 4], [0], str(data), labeled_source=str(labeled), preset="smoke",
                       overrides=["lapo.batch_size=8"], store=store, start_scheduler=False)
    assert out["name"] == "page" and len(out["run_ids"]) == 2 and out["progress"]["total"] == 2
    run = store.get_run(out["run_ids"][0])
    assert run["task"] == "toy-move" and run["config"]["lapo"]["batch_size"] == 8


def test_subsets_are_sampled_again_for_a_recollected_or_another_same_named_source(store, files, tmp_path):
    """The cache key is the source's identity, not its name: no chunks of an old file are reused."""
    import os
    import time

    import numpy as np

    from laom_core.runs.sweeps import labeled_subset

    _, labeled = files
    first, _ = labeled_subset(labeled, 2, 0, 6)
    assert labeled_subset(labeled, 2, 0, 6)[0] == first  # unchanged source: cached
    time.sleep(0.01)
    fresh = make_toy_dataset(tmp_path / "new.hdf5", trajectories=8, steps=12, img_size=16, seed=7)
    os.replace(fresh, labeled)  # re-collected under the same name
    second, _ = labeled_subset(labeled, 2, 0, 6)
    assert second != first
    other_dir = tmp_path / "elsewhere"
    other_dir.mkdir()
    other = make_toy_dataset(other_dir / "labeled.hdf5", trajectories=8, steps=12, img_size=16, seed=9)
    third, _ = labeled_subset(other, 2, 0, 6)
    assert third not in (first, second)
    with open_dataset(second) as a, open_dataset(labeled) as src:
        assert a.num_trajectories == 2
        obs = a.read(0, "obs", 0, 6)
        assert any(np.array_equal(obs, src.read(t, "obs", s, s + 6)) for t in range(8) for s in range(7))


@pytest.mark.parametrize("seeds", ["-1", "0,-3", "99999999999999999999"])
def test_sweep_with_a_negative_or_huge_seed_is_one_line_error(store, files, capsys, seeds):
    data, labeled = files
    assert main(["sweep", "--name", "bad-seeds", "--methods", "lapo", "--budgets", "2", "--seeds", seeds,
                 "--data", str(data), "--labeled-data", str(labeled), "--preset", "smoke"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: seeds must be an integer in 0..") and "\n" not in err
    assert store.list_runs() == []


def test_a_sweep_whose_later_cells_fail_queues_nothing(store, files, tmp_path):
    """Validate the whole plan first: no half-queued sweep, and the corrected plan keeps the name."""
    data, labeled = files
    bad_budget = make_spec("half", "lapo,laom", "2,64", "0", "toy-move", str(data), labeled_data=str(labeled),
                           preset="smoke")
    with pytest.raises(ConfigError, match="b64.*exceeds the 8 trajectories.*nothing was queued"):
        create_sweep(bad_budget, store, start_scheduler=False)
    assert store.list_runs() == [] and store.get_sweep("half") is None
    assert not (tmp_path / "workspace" / "datasets" / "subsets").exists()  # no subset sampled either
    # A later task's missing file is caught before the first task's cells are queued.
    import shutil

    shutil.copy(data, tmp_path / "toy-move-u.hdf5")
    shutil.copy(labeled, tmp_path / "toy-move-l.hdf5")
    two_tasks = make_spec("half", "lapo", "2", "0", "toy-move,toy-gone", str(tmp_path / "{task}-u.hdf5"),
                          labeled_data=str(tmp_path / "{task}-l.hdf5"), preset="smoke")
    with pytest.raises(LaomError, match="toy-gone.*no such file.*nothing was queued"):
        create_sweep(two_tasks, store, start_scheduler=False)
    assert store.list_runs() == [] and store.get_sweep("half") is None
    fixed = make_spec("half", "lapo,laom", "2,4", "0", "toy-move", str(data), labeled_data=str(labeled),
                      preset="smoke")
    ids = create_sweep(fixed, store, start_scheduler=False)
    assert len(ids) == 4 and sweep_progress("half", store)["total"] == 4


def test_home_and_summary_agree_on_sweep_progress(store, files):
    """Home counts a sweep against its plan, as `sweep --summary` does, not against its queued runs."""
    from streamlit.testing.v1 import AppTest

    data, labeled = files
    spec = make_spec("agree", "lapo,laom", "2,4", "0", "toy-move", str(data), labeled_data=str(labeled))
    store.save_sweep(spec.name, spec.to_dict())  # a sweep left half-queued by an older version
    for method in ("lapo", "laom"):
        rid = store.create_run(f"agree/{method}", method, "toy-move", {}, None, group="agree", status="queued")
        store.set_status(rid, "finished")
    progress = sweep_progress("agree", store)
    assert (progress["done"], progress["total"]) == (2, 4)
    repo = Path(__file__).resolve().parents[2]
    at = AppTest.from_file(str(repo / "app.py"), default_timeout=60).run()
    at.switch_page("pages/home.py").run()
    assert not at.exception
    labels = [p.proto.text for p in at.get("progress")]
    assert any("agree" in t and "2 / 4 done" in t for t in labels), labels
