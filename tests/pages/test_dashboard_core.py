"""The laom_core pieces behind the pages: jobs, aggregation, probes, progress, figures, video."""
from __future__ import annotations

import json
import sys
import time

import numpy as np
import pytest

from laom_core import jobs
from laom_core.analysis.aggregate import aggregate, average_over, normalized_returns, paper_reference
from laom_core.analysis.probes import fit_linear_probe
from laom_core.analysis.progress import last_bars, stage_progress
from laom_core.errors import LaomError
from laom_core.viz.curves import curve_figure, downsample, mean_std_on_grid, smooth


def wait(job_id: str, timeout: float = 60.0) -> jobs.JobStatus:
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = jobs.job_status(job_id)
        if status.done:
            return status
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not end")


SCRIPT = "import sys, time\nfor i in range(4):\n    print(f'{i + 1}/4 [work]', flush=True)\n    time.sleep(0.05)\nprint('{\"rows\": 4}')\n"


def test_job_runs_reports_progress_and_result(workspace):
    job_id = jobs.start_job("test", [sys.executable, "-c", SCRIPT], label="count", key="k1")
    assert jobs.start_job("test", [sys.executable, "-c", "pass"], key="k1") == job_id  # idempotent
    status = wait(job_id)
    assert status.state == "finished" and status.returncode == 0 and status.progress == 1.0
    assert status.result == {"rows": 4}
    assert [j.id for j in jobs.list_jobs("test")] == [job_id]


def test_job_failure_and_stop(workspace):
    failed = wait(jobs.start_job("test", [sys.executable, "-c", "raise SystemExit(3)"]))
    assert failed.state == "failed" and failed.returncode == 3
    sleeper = jobs.start_job("test", [sys.executable, "-c", "import time; time.sleep(60)"])
    time.sleep(0.5)
    jobs.stop_job(sleeper, grace_s=5)
    assert wait(sleeper).state == "stopped"


def test_job_progress_from_tqdm_and_json_lines():
    assert jobs._progress("collect:  40%|####      | 4/10 [00:01<00:02]")[0] == pytest.approx(0.4)
    assert jobs._progress('{"progress": 0.25, "stage": "PCA"}\n') == (pytest.approx(0.25), "PCA")
    assert jobs._progress("nothing here")[0] is None


def test_call_argv_refuses_unknown_functions():
    with pytest.raises(LaomError):
        jobs.call_argv("os.system", cmd="rm -rf /")
    argv = jobs.call_argv("labeled_subset", source="a", trajectories=2, chunk_size=10, seed=0)
    assert argv[1:5] == ["-m", "laom_core.jobs", "call", "labeled_subset"]
    assert json.loads(argv[5])["trajectories"] == 2


def test_aggregate_mean_std_per_method_and_budget():
    rows = [
        {"id": "a", "method": "laom-labels", "labeled_budget": 2, "task": "t1", "v": 1.0},
        {"id": "b", "method": "laom-labels", "labeled_budget": 2, "task": "t1", "v": 3.0},
        {"id": "c", "method": "laom-labels", "labeled_budget": 8, "task": "t1", "v": 5.0},
        {"id": "d", "method": "lapo", "labeled_budget": None, "task": "t1", "v": float("nan")},
        {"id": "e", "method": "lapo", "labeled_budget": None, "task": "t2", "v": 7.0},
    ]
    out = {(e["method"], e["labeled_budget"]): e for e in aggregate(rows, "v")}
    assert out[("laom-labels", 2)]["mean"] == 2.0 and out[("laom-labels", 2)]["std"] == 1.0
    assert out[("laom-labels", 2)]["n"] == 2 and out[("laom-labels", 8)]["n"] == 1
    assert out[("lapo", None)]["n"] == 1  # NaN left out
    per_task = aggregate(rows, "v", by=("task", "method", "labeled_budget"))
    avg = {(e["method"], e["labeled_budget"]): e for e in average_over(per_task, "task", ("method", "labeled_budget"))}
    assert avg[("lapo", None)]["mean"] == 7.0


def test_normalized_returns_use_own_bc_runs():
    rows = [{"method": "bc", "labeled_budget": None, "task": "cheetah-run", "eval_return_mean": 400.0},
            {"method": "laom", "labeled_budget": None, "task": "cheetah-run", "eval_return_mean": 100.0},
            {"method": "laom", "labeled_budget": None, "task": "walker-run", "eval_return_mean": 100.0}]
    norm = normalized_returns(rows)  # no difficulty: the setting without distractors
    assert norm[1]["normalized_return"] == 0.25
    assert norm[2]["normalized_return"] == 100.0 / 735.0  # no BC run of ours: the paper's BC


def test_paper_reference_holds_the_papers_numbers():
    ref = paper_reference()
    assert ref["probe_mse_median"]["distractors"] == {"lapo": 22.1, "laom": 2.7}
    assert ref["normalized_return_at_128"]["distractors_mean_of_4_tasks"]["laom-labels"] == 0.44
    assert ref["bc_full_data_return"]["distractors"]["cheetah-run"] == 823
    assert ref["expert_return"]["humanoid-walk"] == 617.2


def test_linear_probe_beats_chance_on_linear_targets_and_not_on_noise():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(600, 40))
    actions = z[:, :4] @ rng.normal(size=(4, 3))
    groups = np.repeat(np.arange(30), 20)
    good = fit_linear_probe(z, actions, groups=groups)
    assert good.held_out_mse < 0.01 * good.chance_mse and good.r2 > 0.99
    assert good.per_dim_mse.shape == (3,) and good.per_point_error.shape == (600,)
    # held-out split is by trajectory: no trajectory on both sides
    assert all(len(set(good.held_out[groups == g])) == 1 for g in range(30))
    noise = fit_linear_probe(z, rng.normal(size=(600, 3)), groups=groups)
    assert noise.held_out_mse > 0.9 * noise.chance_mse
    wide = fit_linear_probe(rng.normal(size=(60, 500)), rng.normal(size=(60, 2)), groups=np.repeat(np.arange(6), 10))
    assert np.isfinite(wide.held_out_mse)  # dual form when dims > points
    with pytest.raises(LaomError):
        fit_linear_probe(np.full((10, 3), np.nan), np.zeros((10, 1)))


def test_stage_progress_reads_stages_and_tqdm_bars(tmp_path):
    (tmp_path / "stages.json").write_text(json.dumps(
        {"method": "laom", "planned": ["lam", "bc", "decoder"],
         "finished": {"lam": {"updates": 30, "wall_s": 12.0}}}))
    (tmp_path / "log.txt").write_text("lam: 100%|##| 30/30 [00:12<00:00]\nbc:  25%|#  | 5/20 [00:03<00:09, 1.6it/s]"
                                      "\rbc:  50%|## | 10/20 [00:06<01:06, 1.6it/s]")
    stages = stage_progress(tmp_path, "running")
    assert [s["state"] for s in stages] == ["done", "running", "waiting"]
    assert stages[1]["fraction"] == 0.5 and stages[1]["eta_s"] == 66.0
    assert stage_progress(tmp_path / "missing", "running") == []
    assert last_bars("eval: 100%|#| 1/1 [00:27<00:00, 27.6s/it]")["eval"]["total"] == 1


def test_smoothing_downsampling_and_seed_bands():
    v = np.array([0.0, 10.0, 10.0, 10.0])
    s = smooth(v, 0.5)
    assert s[0] == 0.0 and 0 < s[1] < 10 and s[-1] < 10
    assert np.array_equal(smooth(v, 0.0), v)
    step, value = downsample(np.arange(10_000), np.arange(10_000, dtype=float), 500)
    assert len(step) == 500 and step[-1] == 9999 and value[0] == pytest.approx(9.5)
    grid, mean, std, n = mean_std_on_grid([(np.array([0, 10]), np.array([0.0, 10.0])),
                                           (np.array([0, 5, 20]), np.array([2.0, 7.0, 22.0]))])
    assert n == 2 and grid[0] == 0 and grid[-1] == 10  # overlap only
    assert mean[0] == 1.0 and std[0] == 1.0
    fig = curve_figure([{"name": "a", "group": "laom", "step": np.arange(5), "value": np.arange(5.0)},
                        {"name": "b", "group": "laom", "step": np.arange(5), "value": np.arange(5.0) + 1}],
                       group=True)
    names = [t.name for t in fig.data if t.name]
    assert names == ["laom (n=2)"]  # one mean line (plus an unnamed band) per method


def test_video_roundtrip_mp4_and_webm(tmp_path):
    from laom_core.viz.video import frame_grid, read_video, write_videos

    frames = np.zeros((12, 64, 64, 3), np.uint8)
    frames[:, :32] = 200  # top half bright
    paths = write_videos(frames, tmp_path / "clip")
    for kind in ("mp4", "webm"):
        back = read_video(paths[kind])
        assert back.shape == (12, 256, 256, 3)  # upscaled for browsers
        assert back[:, :100].mean() > 150 and back[:, 160:].mean() < 50
    assert not list(tmp_path.glob("*.partial"))
    with pytest.raises(LaomError):
        write_videos(np.zeros((3, 8, 8), np.uint8), tmp_path / "bad")
    assert frame_grid(frames[:5], columns=4).shape == (2 * 66 + 2, 4 * 66 + 2, 3)


def test_latents_file_checks_and_pca_preview(tmp_path):
    from laom_core.analysis.umap import load_latents, pca_2d

    with pytest.raises(LaomError, match="no latents file"):
        load_latents(tmp_path / "latents.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(LaomError, match="not a readable"):
        load_latents(tmp_path / "junk.npz")
    np.savez(tmp_path / "short.npz", latents=np.zeros((10, 4), np.float32), actions=np.zeros((9, 2)))
    with pytest.raises(LaomError, match="actions"):
        load_latents(tmp_path / "short.npz")
    rng = np.random.default_rng(0)
    z = rng.normal(size=(300, 64)) * np.r_[10.0, 5.0, np.full(62, 0.1)]
    xy = pca_2d(z)
    assert xy.shape == (300, 2)
    assert abs(np.corrcoef(xy[:, 0], z[:, 0])[0, 1]) > 0.99  # first axis = largest variance


@pytest.mark.slow
def test_umap_embedding_job_end_to_end(workspace, tmp_path):
    """The background job computes and caches the map (UMAP's numba compile takes ~30-60 s).
    With more than EXACT_KNN_ROWS points UMAP runs on the job's faiss neighbours: two far
    apart clusters of latents stay apart in the map."""
    from laom_core.analysis import umap as umap_mod

    rng = np.random.default_rng(0)
    n = umap_mod.EXACT_KNN_ROWS + 904
    cluster = rng.integers(0, 2, n)
    np.savez(tmp_path / "latents.npz", latents=(rng.normal(size=(n, 16)) + 30 * cluster[:, None]).astype(np.float32),
             actions=rng.normal(size=(n, 2)).astype(np.float32), traj=np.repeat(np.arange(n // 20 + 1), 20)[:n],
             step=np.tile(np.arange(20), n // 20 + 1)[:n])
    job = umap_mod.start_embedding(tmp_path / "latents.npz")
    status = wait(job, timeout=600)
    assert status.state == "finished", status.log_tail
    emb = umap_mod.load_embedding(tmp_path / "latents.npz")
    xy = emb["embedding"]
    assert xy.shape == (n, 2) and emb["probe_error"].shape == (n,) and np.isfinite(xy).all()
    spread = max(xy[cluster == 0].std(0).max(), xy[cluster == 1].std(0).max())
    assert np.linalg.norm(xy[cluster == 0].mean(0) - xy[cluster == 1].mean(0)) > 3 * spread
    assert umap_mod.start_embedding(tmp_path / "latents.npz") == job  # cached, not recomputed


def test_stage_progress_prefers_the_stages_own_record(tmp_path):
    from laom_core.procs import write_progress

    (tmp_path / "stages.json").write_text(json.dumps({"method": "bc", "planned": ["bc", "eval"], "finished": {}}))
    (tmp_path / "log.txt").write_text("bc:  90%|#  | 18/20 [00:03<00:01, 1.6it/s]")  # stale or garbled text
    write_progress(tmp_path / "progress.json", 5, 20, stage="bc", eta_s=30.0)
    stages = stage_progress(tmp_path, "running")
    assert stages[0]["fraction"] == 0.25 and stages[0]["n"] == 5 and stages[0]["eta_s"] == 30.0
