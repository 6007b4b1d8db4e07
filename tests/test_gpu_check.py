"""bench/gpu_check.py: the prepared device check runs end to end on CPU (--tiny), and its
report survives a failing part (each part is written as soon as it ends)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import gpu_check  # noqa: E402


def test_a_failing_part_is_recorded_and_the_next_still_runs(tmp_path):
    report = gpu_check.Report(tmp_path / "out" / "gpu_check.json", budget_s=60, tiny=True)
    with report.part("first") as record:
        record["value"] = 1
        raise RuntimeError("boom")
    on_disk = json.loads(report.path.read_text())
    assert on_disk["parts"]["first"]["status"] == "failed" and "boom" in on_disk["parts"]["first"]["error"]
    with report.part("second") as record:
        record["value"] = 2
    on_disk = json.loads(report.path.read_text())
    assert on_disk["parts"]["second"] == {"status": "done", "value": 2, "wall_s": on_disk["parts"]["second"]["wall_s"]}
    assert not list(report.path.parent.glob("*.partial"))  # written atomically, no temp file left
    assert 0 < report.left() <= 60


def test_the_carry_is_used_only_by_the_python_it_was_built_for(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.setattr(gpu_check, "CARRY", site)
    assert gpu_check.carry_usable() == (False, "no carry (scripts/build_gpu_carry.py builds it)")
    (site / "carry.json").write_text(json.dumps({"python": "2.7"}))
    usable, note = gpu_check.carry_usable()
    assert not usable and "built for Python 2.7" in note
    (site / "carry.json").write_text(json.dumps({"python": f"{sys.version_info.major}.{sys.version_info.minor}"}))
    assert gpu_check.carry_usable() == (True, str(site))


@pytest.mark.slow
def test_tiny_runs_all_four_parts_on_cpu(tmp_path):
    out = tmp_path / "gpu_check.json"
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    env.pop("OUT", None)
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "gpu_check.py"), "--tiny", "--out", str(out),
                           "--work", str(tmp_path / "work")], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    wall = time.monotonic() - t0
    report = json.loads(out.read_text())
    parts = report["parts"]
    statuses = {name: part["status"] for name, part in parts.items()}
    assert statuses == dict.fromkeys(("device", "methods", "throughput", "comparison"), "done"), (
        statuses, proc.stderr[-3000:], {k: v.get("error") for k, v in parts.items()})
    assert proc.returncode == 0 and report["finished"] and report["tiny"] and wall < 300

    device = parts["device"]
    assert device["torch"] and device["cpu_count"] >= 1 and device["egl_render"]["ok"]

    methods = parts["methods"]
    assert methods["all_ok"] == {"eager": True}
    for method, run in methods["runs"]["eager"].items():
        assert run["switches"] == {"bf16": True, "channels_last": True, "compile": False}, method
        assert run["first_stage_loss_fell"], (method, run["losses"])
        assert run["eval_return_mean"] is not None  # the learned policy ran in the real cheetah-run

    throughput = parts["throughput"]
    assert throughput["variants"]["fp32"]["status"] == "done"
    for variant in throughput["variants"].values():
        if variant["status"] == "done":
            assert variant["full_samples_per_s"] > 0 and variant["pipeline_samples_per_s"] > 0
            assert variant["ratio"] > 0
    assert throughput["speedup_vs_fp32"]["fp32"] == 1.0

    comparison = parts["comparison"]
    assert comparison["collect"]["D1"]["trajectories"] == comparison["episodes"]
    assert comparison["settings"]["D1"] == {"difficulty": "easy", "env": {"camera_scale": 0.0, "color_scale": 0.0}}
    assert comparison["updates"] >= 1
    ratio = comparison["lapo_over_laom"]["D1"]
    assert ratio["probe_mse"] > 0 and ratio["online_probe_mse"] > 0
