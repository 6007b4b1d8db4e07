"""bench/reproduce.py's engine: the plan, the claims' arithmetic, the report, and a smoke run."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from laom_core.studies import demo
from laom_core.studies import reproduction as rp

REPO = Path(__file__).resolve().parents[2]


def _row(method, distractors=True, budget=None, seed=0, probe=None, ret=None, ablation=None):
    return {"method": method, "task": "cheetah-run", "distractors": distractors, "budget": budget, "seed": seed,
            "probe_mse": probe, "chance_probe_mse": 0.5, "eval_return_mean": ret, "normalized_return": None,
            "ablation": ablation, "status": "finished", "name": f"{method}-{budget}-{seed}",
            "dataset": {"train": {"trajectories": 20, "steps": 20000}, "labeled": None, "eval": None}}


def _paperlike_rows() -> list[dict]:
    """Numbers shaped like the paper's findings, two seeds."""
    rows = []
    for seed in (0, 1):
        rows += [
            _row("bc", ret=800 + seed, seed=seed),
            _row("lapo", budget=32, probe=0.40, ret=100, seed=seed),
            _row("laom", budget=32, probe=0.10, ret=200, seed=seed),
            _row("lapo", distractors=False, budget=32, probe=0.11, seed=seed),
            _row("laom", distractors=False, budget=32, probe=0.10, seed=seed),
        ]
        for b, sup_ret, idm_ret in ((2, 300, 50), (8, 350, 250), (32, 400, 380)):
            rows += [_row("laom-labels", budget=b, probe=0.05, ret=sup_ret, seed=seed),
                     _row("idm", budget=b, probe=0.2, ret=idm_ret, seed=seed)]
    return rows


def _report(rows):
    report = {"runs": rows, "preset": "cpu-small", "created": "now", "commit": "abc", "plan": {"smoke": False}}
    report["normalizers"] = rp._normalize(rows)
    return report


def test_claims_pass_on_paperlike_numbers():
    report = _report(_paperlike_rows())
    assert report["normalizers"]["cheetah-run|distractors"]["divisor"] == pytest.approx(800.5)
    claims = rp.check_claims(report)
    assert [c["claim"] for c in claims] == [1, 2, 3, 4]
    assert [c["result"] for c in claims] == ["PASS"] * 4, claims
    assert "4.00x" in claims[0]["detail"]


def test_claims_fail_and_pend_where_the_numbers_say_so():
    rows = _paperlike_rows()
    for r in rows:
        if r["method"] == "laom" and r["distractors"]:
            r["probe_mse"] = 0.3  # only 1.33x better than LAPO
        if r["method"] == "idm":
            r["eval_return_mean"] = 300  # flat: IDM does not fall with the budget
    claims = {c["claim"]: c for c in rp.check_claims(_report(rows))}
    assert claims[1]["result"] == "FAIL" and claims[4]["result"] == "FAIL"
    assert claims[3]["result"] == "PASS"

    pending = rp.check_claims(_report([r for r in _paperlike_rows() if r["distractors"] and r["method"] != "lapo"]))
    assert {c["claim"]: c["result"] for c in pending} == {1: "PENDING", 2: "PENDING", 3: "PENDING", 4: "PASS"}


def test_claims_compare_means_over_the_seeds_where_every_run_finished():
    """While a study is partial, a mean over three seeds against one over two can tie or flip
    for no other reason: each comparison reads only the seeds where all its runs finished."""
    rows = _paperlike_rows()
    # seed 2: LAOM and LAPO finished (LAOM's probe far better on it), LAOM+supervision not yet
    rows += [_row("lapo", budget=32, probe=0.40, ret=100, seed=2), _row("laom", budget=32, probe=0.01, ret=200, seed=2)]
    for r in rows:
        if r["method"] == "laom-labels":
            r["probe_mse"] = 0.08  # better than LAOM on seeds 0-1 (0.10), worse than LAOM's 3-seed mean (0.07)
    claims = {c["claim"]: c for c in rp.check_claims(_report(rows))}
    assert claims[3]["result"] == "PASS", claims[3]
    assert "vs LAOM 0.1000" in claims[3]["detail"] and "(2 paired seeds)" in claims[3]["detail"]
    assert "(3 paired seeds)" in claims[1]["detail"] and "LAOM 0.0700" in claims[1]["detail"]
    assert rp.seed_paired_means(rows, ["probe_mse"], {"a": {"method": "nope"}}) == (None, 0)


def test_claim_two_warns_when_the_gap_with_distractors_is_within_noise():
    rows = _paperlike_rows()
    assert "caution" not in rp.check_claims(_report(rows))[1]["detail"]
    for r in rows:
        if r["method"] in ("lapo", "laom") and r["distractors"]:
            r["probe_mse"] = {("lapo", 0): 0.60, ("lapo", 1): 0.50, ("laom", 0): 0.56, ("laom", 1): 0.52}[
                (r["method"], r["seed"])]  # gap 0.01, spread 0.07
        if r["method"] == "lapo" and not r["distractors"]:
            r["probe_mse"] = 0.10  # no gap without distractors either: the rule passes
    claim = rp.check_claims(_report(rows))[1]
    assert claim["result"] == "PASS" and "less than one seed standard deviation" in claim["detail"]


def test_claim_two_needs_the_gap_to_shrink_without_distractors():
    rows = _paperlike_rows()
    for r in rows:
        if r["method"] == "lapo" and not r["distractors"]:
            r["probe_mse"] = 0.35  # vanilla gap 3.5x vs 4x with distractors: not much smaller
    claims = {c["claim"]: c for c in rp.check_claims(_report(rows))}
    assert claims[2]["result"] == "FAIL"


def test_claims_read_the_clip_seen_probe_where_the_dataset_has_one():
    """Issue 19: the claims answer the paper's question (clips seen in training), named per claim."""
    rows = _paperlike_rows()
    for r in rows:  # the all-held-out probe says 4x; the clip-seen probe says 1.33x
        if r["method"] in ("lapo", "laom", "laom-labels"):
            r["probe_clip_seen"] = {"lapo": 0.40, "laom": 0.30, "laom-labels": 0.05}[r["method"]]
        r["setting"] = "scale_easy_video_hard" if r["distractors"] else "vanilla"
    claims = {c["claim"]: c for c in rp.check_claims(_report(rows))}
    assert claims[1]["result"] == "FAIL" and "probe_clip_seen" in claims[1]["detail"]
    assert "1.33x" in claims[1]["detail"]
    assert {c["probe"] for c in claims.values()} == {"probe_clip_seen"}
    assert {c["setting"] for c in claims.values()} == {"scale_easy_video_hard"}
    table = rp.probe_table(_report(rows))
    laom_row = next(line for line in table if line[1] == "LAOM")
    assert laom_row[2].startswith("0.3000")


def test_claims_fall_back_to_the_held_out_probe_and_say_so():
    """A dataset with no held-out trajectory on a training clip has no clip-seen probe."""
    rows = _paperlike_rows()
    for r in rows:
        r["probe_clip_seen"] = None if r["distractors"] else r["probe_mse"]
    report = _report(rows)
    claims = rp.check_claims(report)
    assert {c["probe"] for c in claims} == {"probe_mse"} and claims[0]["result"] == "PASS"
    assert "probe_mse LAPO 0.4000 / LAOM 0.1000" in claims[0]["detail"]
    assert "no held-out trajectory shares a clip" in rp.probe_note(report)
    pending = [dict(r, task="walker-run", probe_mse=None, status="queued") for r in rows]
    assert "walker-run (distractors): no run with distractors has finished yet" in rp.probe_note(
        _report(rows + pending))


def test_a_side_study_on_its_own_dataset_does_not_switch_the_claims_probe():
    """The data study trains on larger files, whose held-out trajectories can share clips with
    training. Its clip-seen probe says nothing of the main grid's dataset, which has none: the
    claims and the tables keep reading the main grid's probe (a finished 2x run once turned
    every cheetah-run claim PENDING)."""
    rows = _paperlike_rows()
    for r in rows:
        r["probe_clip_seen"] = None if r["distractors"] else r["probe_mse"]
    rows += [dict(_row(m, budget=32, probe=0.55), data_factor=2, probe_clip_seen=0.5, name=f"{m}-data2x")
             for m in ("lapo", "laom")]
    report = _report(rows)
    assert rp.claim_probe(rows, "cheetah-run") == rp.FALLBACK_PROBE
    claims = rp.check_claims(report)
    assert [c["result"] for c in claims] == ["PASS"] * 4, claims
    assert "probe_mse LAPO 0.4000 / LAOM 0.1000" in claims[0]["detail"]
    data = rp.data_table(report)
    assert data[1][1:5] == ["1x", "0.4000", "0.1000", "4.00x"] and data[2][1:5] == ["2x", "0.5500", "0.5500", "1.00x"]


def test_plan_reuses_the_demo_runs_and_orders_headline_first():
    plan = rp.ReproPlan()
    reqs = rp.run_requests(plan)
    names = [r["name"] for r in reqs]
    assert len(set(names)) == len(names)
    demo_reqs = demo.run_requests(demo.make_plan(False))
    seed0 = [r for r in reqs if r["seed"] == 0 and r["distractors"] and not rp.is_side_study(r)]
    assert [r["name"] for r in seed0] == [r["name"] for r in demo_reqs]  # seed 0 with distractors = the demo
    assert all(r["token"] == f"demo:{r['name']}" and r["sets"] == [] for r in seed0)
    assert [r["method"] for r in reqs[:5]] == ["lapo", "laom", "laom-labels", "lapo", "laom"]
    assert [r["distractors"] for r in reqs[3:5]] == [False, False]
    later = [r for r in reqs if r["seed"] == 2]
    assert later and all("seed=2" in r["sets"] and r["name"].endswith("_s2") for r in later)
    ablation = [r for r in reqs if r["ablation"]]
    assert [r["ablation"] for r in ablation] == ["LAPO", "+ multi-step IDM", "+ large latent", "+ latent FDM"]
    assert all("run.stop_after=lam" in r["sets"] for r in ablation)
    assert "lapo.latent_action_dim=32" in ablation[0]["sets"] and "lapo.future_obs_offset=10" in ablation[1]["sets"]
    assert ablation[3]["method"] == "laom" and "lapo.use_aug=false" in ablation[3]["sets"]
    scale = [r for r in reqs if r.get("scale")]
    assert [(r["method"], r["scale"]) for r in scale] == [("lapo", 3), ("laom", 3)]
    assert all("lapo.total_updates=3000" in r["sets"] and "run.stop_after=lam" in r["sets"] for r in scale)
    assert reqs.index(scale[-1]) < reqs.index(later[0])  # the scale study runs before seeds 1 and 2
    latent = [r for r in reqs if r.get("latent_dim")]
    assert [(r["method"], r["latent_dim"], r["seed"]) for r in latent] == [("lapo", 8192, 0), ("laom", 8192, 0)]
    assert all("lapo.latent_action_dim=8192" in r["sets"] and "run.stop_after=lam" in r["sets"]
               and "lapo.total_updates=3000" not in r["sets"] for r in latent)
    data = [r for r in reqs if r.get("data_factor")]
    assert [(r["method"], r["data_factor"], r["seed"]) for r in data] == [
        ("lapo", 2, 0), ("laom", 2, 0), ("lapo", 4, 0), ("laom", 4, 0)]
    assert all(f"repro-data{r['data_factor']}x_cheetah-run_train" in r["data"]
               and f"lapo.total_updates={1000 * r['data_factor']}" in r["sets"]
               and "run.stop_after=lam" in r["sets"] and rp.is_side_study(r) for r in data)
    # every labeled subset is cut from the run's own train file: the held-out trajectories
    # depend on the file, so a subset of another file could share some (a label leak)
    assert all(Path(r["labeled_data"]).name.startswith(Path(r["data"]).stem + "-")
               for r in reqs if r.get("labeled_data"))
    assert rp.ReproPlan().scaled_data_plan("cheetah-run", 2).train_episodes == 2 * demo.make_plan(False).train_episodes
    assert not [r for r in rp.run_requests(rp.smoke_plan()) if r.get("data_factor")]
    for r in reqs:  # every queued configuration is valid
        from laom_core.config import load_config

        load_config(r["preset"], r["method"], None, r["sets"])


def test_headline_task_plans_claims_one_and_two_only(tmp_path):
    plan = rp.ReproPlan(headline_tasks=("walker-run",), experts=(("walker-run", str(tmp_path)),))
    assert plan.data_plan("walker-run", True).policy == str(tmp_path)
    assert plan.data_plan("cheetah-run", True).policy == "expert"  # the shipped one
    walker = [r for r in rp.run_requests(plan) if r["task"] == "walker-run"]
    assert [(r["method"], r["distractors"], r["seed"]) for r in walker] == [
        ("lapo", True, 0), ("laom", True, 0), ("lapo", False, 0), ("laom", False, 0)]
    assert all("run.stop_after=lam" in r["sets"] and r["token"] == f"repro:{r['name']}"
               and r["name"].endswith("_stage1") and not rp.is_side_study(r) for r in walker)
    assert "demo_walker-run_train" in walker[0]["data"] and "repro-vanilla_walker-run" in walker[2]["data"]
    assert len(rp.run_requests(plan)) == len(rp.run_requests(rp.ReproPlan())) + 4

    rows = _paperlike_rows() + [dict(_row(m, distractors=d, budget=32, probe=p), task="walker-run")
                                for m, d, p in (("lapo", True, 0.5), ("laom", True, 0.1),
                                                ("lapo", False, 0.2), ("laom", False, 0.19))]
    report = _report(rows)
    report["plan"] = {"tasks": ["cheetah-run"], "headline_tasks": ["walker-run"]}
    claims = [(c["task"], c["claim"], c["result"]) for c in rp.check_claims(report)]
    assert [c for c in claims if c[0] == "walker-run"] == [("walker-run", 1, "PASS"), ("walker-run", 2, "PASS")]
    assert len([c for c in claims if c[0] == "cheetah-run"]) == 4


def test_headline_task_cli_checks_the_expert_folder_and_remembers_the_task(tmp_path):
    import os

    env = {**os.environ, "LAOM_STUDIO_WORKSPACE": str(tmp_path / "ws")}
    base = [sys.executable, str(REPO / "bench" / "reproduce.py"), "--report-only",
            "--json-out", str(tmp_path / "r.json"), "--md-out", str(tmp_path / "r.md")]
    bad = subprocess.run(base + ["--headline-task", f"walker-run={tmp_path / 'missing'}"], capture_output=True,
                         text=True, env=env, timeout=120)
    assert bad.returncode == 2 and "expert folder" in bad.stderr and "Traceback" not in bad.stderr
    ok = subprocess.run(base + ["--headline-task", f"walker-run={tmp_path}"], capture_output=True, text=True,
                        env=env, timeout=120)
    assert ok.returncode == 0, ok.stderr[-2000:]
    again = subprocess.run(base, capture_output=True, text=True, env=env, timeout=120)  # remembered
    report = json.loads((tmp_path / "r.json").read_text())
    assert again.returncode == 0 and report["plan"]["headline_tasks"] == ["walker-run"]
    assert {r["task"] for r in report["runs"]} == {"cheetah-run", "walker-run"}
    assert "claim 1 (walker-run)" in again.stdout and "claim 3 (walker-run)" not in again.stdout


def test_report_keeps_the_investigation_and_draws_figures(tmp_path):
    rows = _paperlike_rows() + [_row("lapo", budget=32, probe=0.5, ablation="LAPO")]
    rows += [dict(_row(m, budget=32, probe=p), latent_dim=8192) for m, p in (("lapo", 0.3), ("laom", 0.05))]
    rows += [dict(_row(m, budget=32, probe=p), data_factor=4, common_probe_mse=c, common_chance_probe_mse=0.5,
                  common_r2_action=a, common_r2_state=st)
             for m, p, c, a, st in (("lapo", 0.2, 0.45, 0.1, 0.3), ("laom", 0.02, 0.3, 0.6, None))]
    report = _report(rows)
    report["data_probe"] = {"cheetah-run": {"data": "/w/big.h5", "fit": [0, 1], "test": [7, 9]}}
    assert rp.check_claims(report)[0]["detail"].count("4.00x") == 1  # the latent-size rows stay out of the claims
    md = tmp_path / "results.md"
    rp.write_report(report, rp.check_claims(report), md, tmp_path / "results")
    text = md.read_text()
    assert "| 1 | cheetah-run |" in text and "**PASS**" in text
    assert "LAOM+supervision (2 chunks)" in text and "0.0500 ± 0.0000 (n=2)" in text
    assert "| cheetah-run | LAPO | 0.5000 | 22.1 |" in text  # ablation row
    assert "| cheetah-run | 1x (1000 updates) | 0.4000 | 0.1000 | 4.00x |" in text  # scale table
    assert "| cheetah-run | 256 (preset) | 0.4000 | 0.1000 | 4.00x |" in text  # latent-size table
    assert "| cheetah-run | 8192 | 0.3000 | 0.0500 | 6.00x |" in text
    assert "| cheetah-run | 1x | 0.4000 | 0.1000 | 4.00x | – / – | 0.500 | – / – | – / – |" in text  # data table
    assert "| cheetah-run | 4x | 0.2000 | 0.0200 | 10.00x | 0.450 / 0.300 | 0.500 | 0.100 / 0.600 | 0.300 / – |" in text
    assert "cheetah-run, common split: ridge probes fitted on 2 trajectories every run above trained on, " \
           "scored on trajectories 7, 9 of `big.h5`" in text
    md.write_text(text + "\nOur investigation: hand-written.\n")
    rp.write_report(report, rp.check_claims(report), md, tmp_path / "results")
    assert "Our investigation: hand-written." in md.read_text()
    svg = (tmp_path / "results" / "returns_cheetah-run.svg").read_text()
    assert svg.startswith("<svg") and svg.count("<circle") == 6  # 3 budgets x (IDM, LAOM+supervision)
    assert "<rect" in (tmp_path / "results" / "probe_cheetah-run.svg").read_text()


@pytest.mark.slow
def test_smoke_reproduction_end_to_end(workspace, tmp_path):
    """bench/reproduce.py --smoke --wait: datasets, every run finished, JSON, report, claims printed."""
    from laom_core.experts import shipped

    if "cheetah-run" not in shipped.shipped_tasks():
        pytest.skip("no shipped cheetah-run expert")
    out_json, out_md = tmp_path / "reproduce.json", tmp_path / "docs" / "results.md"
    cmd = [sys.executable, str(REPO / "bench" / "reproduce.py"), "--smoke", "--wait", "--max-runs", "2",
           "--json-out", str(out_json), "--md-out", str(out_md)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=REPO)
    finally:
        from laom_core.runs import launcher

        launcher.stop_all(grace_s=2.0)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out_json.read_text())
    rows = report["runs"]
    assert len(rows) == len(rp.run_requests(rp.smoke_plan()))
    assert {r["status"] for r in rows} == {"finished"}, [(r["name"], r["status"]) for r in rows]
    for key in ("method", "task", "distractors", "setting", "budget", "seed", "probe_mse", *rp.PROBE_FIELDS,
                "eval_return_mean", "normalized_return"):
        assert all(key in r for r in rows)
    assert {(r["method"], r["distractors"]) for r in rows} >= {("lapo", False), ("laom", False), ("bc", True)}
    assert all(r["probe_mse"] is not None for r in rows if r["method"] != "bc")
    # normalized by the one rule (laom_core.metrics), or refused with the reason (a smoke BC is noise)
    assert all(r["normalized_return"] is not None or r.get("normalization_problem")
               for r in rows if not rp.is_side_study(r))
    assert all(r["eval_return_mean"] is None for r in rows if rp.is_side_study(r))  # stage 1 only
    assert any(r["latent_dim"] == 128 for r in rows)
    assert report["commit"] and rows[0]["dataset"]["train"]["steps"] == 400
    assert [c["result"] in ("PASS", "FAIL") for c in report["claims"]] == [True] * 4
    assert {r["setting"] for r in rows} == {"vanilla", demo.make_plan(True).difficulty}
    assert all(c["setting"] == demo.make_plan(True).difficulty and c["probe"] in (rp.CLAIM_PROBE, rp.FALLBACK_PROBE)
               for c in report["claims"])
    lines = proc.stdout.strip().splitlines()
    assert sum(line.startswith(("PASS", "FAIL")) for line in lines) == 4
    assert "## Claims" in out_md.read_text() and (out_md.parent / "results" / "probe_cheetah-run.svg").exists()
    # queueing again queues nothing new
    again = subprocess.run(cmd[:-4] + ["--json-out", str(out_json), "--md-out", str(out_md)], capture_output=True,
                           text=True, timeout=300, cwd=REPO)
    assert again.returncode == 0, again.stderr[-2000:]
    assert [r["run_id"] for r in json.loads(out_json.read_text())["runs"]] == [r["run_id"] for r in rows]


def test_interrupted_runs_are_resumed_and_finished_ones_left_alone(workspace):
    from laom_core.runs.store import RunStore

    argv = [sys.executable, "-c", "pass"]
    with RunStore() as store:
        ids = {status: store.create_run(status, "laom", "toy", {}, workspace / status, status="queued", argv=argv)
               for status in ("stopped", "failed", "finished")}
        for status, run_id in ids.items():
            store.set_status(run_id, status)
    resumed = rp.resume_interrupted(list(ids.values()))
    assert sorted(resumed) == sorted([ids["stopped"], ids["failed"]])
    with RunStore() as store:
        assert store.get_run(ids["finished"])["status"] == "finished"
        for key in ("stopped", "failed"):
            run = store.get_run(ids[key], reconcile=False)
            assert run["status"] in ("queued", "running", "finished") and "--resume" in run["argv"]
    from laom_core.runs import launcher

    launcher.stop_all(grace_s=1.0)


def test_return_claims_carry_a_caution_when_bc_itself_fails():
    rows = _paperlike_rows()
    for r in rows:
        if r["eval_return_mean"] is not None:
            r["eval_return_mean"] /= 100  # BC returns 8: nothing controls the agent
    claims = {c["claim"]: c for c in rp.check_claims(_report(rows))}
    assert claims[3]["result"] == "PASS" and "ratios of noise" in claims[3]["detail"]
    assert "ratios of noise" in claims[4]["detail"] and "ratios of noise" not in claims[1]["detail"]


def test_rows_carry_the_runs_leakage_figures(tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "artifacts").mkdir(parents=True)
    figures = {"r2_action": 0.06, "obs_r2_state": 0.23, "leakage": 0.81, "clip_score": 0.25}
    (run_dir / "artifacts" / "leakage.json").write_text(json.dumps({"available": True, "figures": figures}))
    got = rp.run_leakage_figures({"run_dir": str(run_dir)})
    assert got == {"r2_action": 0.06, "obs_r2_state": 0.23, "leakage": 0.81}
    (run_dir / "artifacts" / "leakage.json").write_text("{not json")
    assert rp.run_leakage_figures({"run_dir": str(run_dir)}) == dict.fromkeys(rp.LEAKAGE_FIELDS)
    assert rp.run_leakage_figures(None) == dict.fromkeys(rp.LEAKAGE_FIELDS)


def test_common_data_probe_split_tests_on_trajectories_no_run_trained_on():
    def member(method, n, factor=None):
        row = dict(_row(method, budget=32, probe=0.5), data_factor=factor, status="queued", run_id=None,
                   name=f"{method}-{n}")
        row["dataset"] = {"train": {"trajectories": n, "steps": n * 1000}}
        return {"data": f"/w/train{n}.h5"}, row

    pairs = [member("lapo", 20), member("laom", 20), member("lapo", 80, 4), member("laom", 80, 4)]
    pairs.append(member("bc", 20))  # not a LAM: not in the study
    requests, rows = [p[0] for p in pairs], [p[1] for p in pairs]
    out = rp.add_common_data_probe(rp.ReproPlan(), requests, rows, {})
    split = out["cheetah-run"]
    assert split["data"] == "/w/train80.h5" and split["test"] == [19, 36, 50, 53, 64, 66]  # held out at 80 and at 20 or beyond 20
    assert 4 not in split["fit"] and 19 not in split["fit"] and 5 not in split["fit"] and max(split["fit"]) < 20
    assert all(r["common_probe_mse"] is None for r in rows[:4]) and "common_probe_mse" not in rows[4]
    # an unfinished run (queued: an empty folder; running: no summary yet) counts with the split it will use
    for i, row in enumerate(rows):
        row["run_id"] = f"run{i}"
    rows[2]["status"] = "running"
    queued_dirs = {row["run_id"]: "/nonexistent/queued-run" for row in rows}
    assert rp.add_common_data_probe(rp.ReproPlan(), requests, rows, queued_dirs)["cheetah-run"] == out["cheetah-run"]
    for row in rows:
        row["dataset"]["train"] = None  # the files are not there (yet)
    assert "no runs" in rp.add_common_data_probe(rp.ReproPlan(), requests, rows, {})["cheetah-run"]["error"]
