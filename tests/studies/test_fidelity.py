"""The fidelity study: its claims on known rows, and the whole study at smoke size."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from laom_core.studies import fidelity as fs

REPO = Path(__file__).resolve().parents[2]


def _row(setting, method, seed, value, budget=None):
    return {"setting": setting, "method": method, "seed": seed, "budget": budget, "status": "finished",
            "probe_clip_seen": value, "probe_online": None, "probe_clip_unseen": None, "variant": None}


def _claims(rows, setting=None):
    return {(c["claim"], c["setting"]): c for c in fs.check_claims(rows, setting)}


def test_claims_pass_only_where_the_gap_is_twofold_and_vanishes_without_distractors():
    rows = [_row("V", "lapo", s, 0.10) for s in (0, 1)] + [_row("V", "laom", s, 0.10) for s in (0, 1)]
    rows += [_row("D1", "lapo", s, 0.50) for s in (0, 1)] + [_row("D1", "laom", s, 0.20) for s in (0, 1)]
    rows += [_row("D2", "lapo", s, 0.50) for s in (0, 1)] + [_row("D2", "laom", s, 0.30) for s in (0, 1)]
    claims = _claims(rows)
    assert claims[(1, "D1")]["result"] == "PASS" and "2.50x" in claims[(1, "D1")]["detail"]
    assert claims[(1, "D2")]["result"] == "FAIL"  # 1.67x: not twofold
    assert claims[(2, "D1")]["result"] == "PASS"
    assert (1, "SEVH") not in claims  # not in the rows: not planned
    # a gap that is as large without distractors is no distractor effect
    rows_v = [dict(r, probe_clip_seen=0.04) if r["setting"] == "V" and r["method"] == "laom" else r for r in rows]
    assert _claims(rows_v)[(2, "D1")]["result"] == "FAIL"


def test_lapo_and_laom_are_compared_on_the_seeds_both_finished():
    rows = [_row("D1", "lapo", s, v) for s, v in ((0, 0.5), (1, 0.5), (2, 0.1))] + \
           [_row("D1", "laom", s, 0.2) for s in (0, 1)]
    assert fs.paired_means(rows, "probe_clip_seen", "D1") == (0.5, 0.2, 2)  # LAPO's seed 2 waits for LAOM's
    claim = _claims(rows)[(1, "D1")]
    assert claim["result"] == "PASS" and "2.50x" in claim["detail"] and "2 paired seeds" in claim["detail"]
    rows.append(_row("D1", "laom", 2, 0.2))
    assert fs.paired_means(rows, "probe_clip_seen", "D1")[2] == 3
    assert _claims(rows)[(1, "D1")]["result"] == "FAIL"  # (0.5 + 0.5 + 0.1) / 3 / 0.2 = 1.83x
    assert fs.paired_means(rows, "probe_clip_seen", "V") == (None, None, 0)


def test_supervision_setting_is_the_largest_gap_and_claims_3_4_use_it():
    rows = [_row("D1", "lapo", 0, 0.5), _row("D1", "laom", 0, 0.4), _row("D2", "lapo", 0, 0.5),
            _row("D2", "laom", 0, 0.2)]
    three = fs.FidelityPlan(settings=("V", "D1", "D2"))
    assert fs.choose_supervision_setting(three, rows) == "D2"
    assert fs.choose_supervision_setting(fs.FidelityPlan(supervision_setting="D1"), rows) == "D1"
    assert fs.choose_supervision_setting(three, []) is None
    # SEVH is planned but not finished: no choice yet
    assert fs.choose_supervision_setting(fs.FidelityPlan(), rows) is None
    # the choice reads the ratio claim 1 reads, over paired seeds: LAPO's seeds 1-2 on D1 have no
    # LAOM yet; counted, they would make D1's ratio 3.58x, past D2's 2.5x (paired: 1.25x)
    assert fs.choose_supervision_setting(three, rows + [_row("D1", "lapo", 1, 0.9), _row("D1", "lapo", 2, 2.9)]) == "D2"
    rows += [_row("D2", "laom-labels", 0, 0.10, 32), _row("D2", "laom-labels", 0, 0.15, 2),
             _row("D2", "idm", 0, 0.05, 32), _row("D2", "idm", 0, 0.40, 2)]
    claims = _claims(rows, "D2")
    assert claims[(3, "D2")]["result"] == "PASS"
    assert claims[(4, "D2")]["result"] == "PASS"  # IDM +0.35, LAOM+supervision +0.05
    rows.append(_row("D2", "laom-labels", 1, 0.9, 2))  # seed 1: LAOM and LAPO not finished, not compared yet
    claim3 = _claims(rows, "D2")[(3, "D2")]
    assert claim3["result"] == "PASS" and "budget 2: 0.1500 vs LAOM 0.2000, LAPO 0.5000 (1 paired seed)" in claim3["detail"]
    rows += [_row("D2", "lapo", 1, 0.5), _row("D2", "laom", 1, 0.2)]  # mean at budget 2 now 0.525: worse than LAOM
    assert _claims(rows, "D2")[(3, "D2")]["result"] == "FAIL"


def test_twins_share_seeds_and_differ_only_in_distractors():
    plan = fs.FidelityPlan()
    plans = {s: plan.data_plan(s) for s in plan.settings}
    assert len({p.seed for p in plans.values()}) == 1 and len({p.train_path for p in plans.values()}) == 4
    assert plans["D1"].env_overrides == {"fast_render": True, "camera_scale": 0.0, "color_scale": 0.0}
    assert plans["V"].difficulty == "vanilla" and plans["SEVH"].difficulty == "scale_easy_video_hard"
    reqs = fs.run_requests(plan, "D2")
    assert [r["name"] for r in reqs[:2]] == ["fidelity_V_lapo_s0", "fidelity_V_laom_s0"]  # seed 0 first
    assert reqs[8]["name"] == "fidelity_D1_laom-authors-aug_s0" and "lapo.aug_views=independent" in reqs[8]["sets"]
    assert reqs[11]["name"] == "fidelity_D1_lapo-unet-fdm_s0" and "lapo.fdm_arch=unet" in reqs[11]["sets"]
    assert not any(r["variant"] == "unet-fdm" and r["setting"] != "D1" for r in reqs)
    longer = [r for r in reqs if r["variant"] == "3x-updates"]
    assert [(r["setting"], r["method"]) for r in longer] == [("D1", "lapo"), ("D1", "laom")]
    assert all(f"lapo.total_updates={3 * plan.updates}" in r["sets"] for r in longer)
    assert f"lapo.total_updates={plan.updates}" in reqs[0]["sets"]
    assert all("run.stop_after=lam" in r["sets"] or "run.stop_after=idm" in r["sets"] for r in reqs)
    sup = [r for r in reqs if r["method"] in ("laom-labels", "idm")]
    assert {r["setting"] for r in sup} == {"D2"} and len(sup) == 2 * 3 * 3


def test_d2_is_taken_apart_on_the_first_seed_without_claims():
    plan = fs.FidelityPlan()
    assert plan.splits == ("D1cam", "D1col") and plan.all_settings[-2:] == plan.splits
    d2 = plan.data_plan("D2").env_overrides
    cam, col = plan.data_plan("D1cam").env_overrides, plan.data_plan("D1col").env_overrides
    # each split is D2 with exactly one of its two additions to D1 switched off
    assert {k for k in cam if cam[k] != d2.get(k)} == {"color_scale"} and cam["color_scale"] == 0.0
    assert {k for k in col if col[k] != d2.get(k)} == {"camera_scale"} and col["camera_scale"] == 0.0
    assert plan.data_plan("D1cam").seed == plan.data_plan("D2").seed  # twins
    splits = [r for r in fs.run_requests(plan, "D2") if r["setting"] in fs.SPLITS]
    assert [(r["setting"], r["method"], r["seed"]) for r in splits] == [
        ("D1cam", "lapo", 0), ("D1cam", "laom", 0), ("D1col", "lapo", 0), ("D1col", "laom", 0)]
    assert fs.FidelityPlan(settings=("V", "D1")).splits == ()  # nothing to take apart without D2
    rows = [_row(s, m, 0, v) for s in ("V", "D1cam") for m, v in (("lapo", 0.5), ("laom", 0.1))]
    assert {c["setting"] for c in fs.check_claims(rows, None) if c["claim"] in (1, 2)} == set()


def test_report_shows_what_the_latent_carries_and_keeps_the_hand_written_part(tmp_path):
    from laom_core.workspace import write_generated_block

    row = dict(_row("D1", "lapo", 0, 0.4), r2_action=0.123, r2_background_step=0.45, r2_camera_delta=0.0,
               r2_color_delta=0.0, clip_score=1.0, leakage=0.9, fdm_z_gain=4.5, probe_online=0.4,
               probe_clip_unseen=0.5, chance_clip_seen=0.58)
    rep = {"commit": "abc", "claim_probe": fs.CLAIM_PROBE, "progress": {"finished": 1}, "runs": [row],
           "plan": {"seeds": [0, 1]}, "claims": [],
           "settings": {"D1": {"description": "d1", "split": False}},
           "frame_change": {"D1": {"energy": 0.011, "agent_share": 0.138}}}
    text = fs.markdown(rep)
    assert "| D1 | 0.14 | lapo | 0.123 | 0.450 | 0.000 | 0.000 | 1.000 | 0.900 | 4.50 |" in text
    md = tmp_path / "f.md"
    new = "# T\n\n{generated}\n\n## What moved what\n\nhand\n"
    write_generated_block(md, "old block", fs.MD_BEGIN, fs.MD_END, new)
    md.write_text(md.read_text().replace("hand", "my analysis"))
    write_generated_block(md, text, fs.MD_BEGIN, fs.MD_END, new)
    out = md.read_text()
    assert "old block" not in out and "| D1 | 0.14 | lapo |" in out and out.endswith("my analysis\n")


@pytest.mark.slow
def test_smoke_study_end_to_end(tmp_path):
    env = {**__import__("os").environ, "LAOM_STUDIO_WORKSPACE": str(tmp_path / "ws"), "MUJOCO_GL": "egl"}
    out = subprocess.run([sys.executable, str(REPO / "bench" / "fidelity_study.py"), "--smoke", "--wait",
                          "--settings", "V", "D1", "--max-runs", "2", "--json-out", str(tmp_path / "f.json"),
                          "--md-out", str(tmp_path / "f.md")], env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    rep = json.loads((tmp_path / "f.json").read_text())
    assert rep["progress"] == {"finished": 12} and rep["supervision_setting"] == "D1"  # 4 + 4 variants + 4
    variants = [r["variant"] for r in rep["runs"]]
    assert variants.count("authors-aug") == 1 and variants.count("unet-fdm") == 1
    assert variants.count("3x-updates") == 2
    for row in rep["runs"]:
        assert row["probe_clip_seen"] is not None and row["probe_clip_unseen"] is not None
        assert (row["probe_online"] is None) == (row["method"] == "idm")
    results = {(c["claim"], c["setting"]): c["result"] for c in rep["claims"]}
    assert all(results[(n, "D1")] in ("PASS", "FAIL") for n in (1, 2, 3, 4))
    assert "| D1 |" in (tmp_path / "f.md").read_text() and "| lapo unet-fdm | D1 |" in (tmp_path / "f.md").read_text()
