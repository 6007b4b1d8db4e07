"""The Latent space page over a run with 50,000 saved latents: a first picture at once,
refined to the PCA of every point and then the UMAP of every point.

The test's latents have 64 dims, not the 8,192 of a real-size run: writing and mapping
1.6 GB on the shared 2-core test machine takes minutes; the rows, columns and code path
are those of a real-size file (``bench/latent_page_speed.py`` measures 8,192 dims).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from laom_core.analysis.latents_file import npz_member_memmap, open_latents, write_synthetic_latents
from laom_core.errors import LaomError

APP = str(Path(__file__).resolve().parents[2] / "app.py")
N, DIM = 50_000, 64


@pytest.fixture
def big_run(workspace) -> Path:
    from laom_core.runs.store import RunStore
    from laom_core.workspace import runs_dir

    folder = runs_dir() / "big"
    latents = write_synthetic_latents(folder / "artifacts" / "latents.npz", N, DIM)
    with RunStore() as store:
        rid = store.create_run("LAOM big", "laom", "cheetah-run", {}, folder, seed=0, status="queued")
        store.set_status(rid, "finished")
    yield latents
    from laom_core import jobs

    for job in jobs.list_jobs():
        if job.state == "running":
            jobs.stop_job(job.id, grace_s=2.0)


def _chart(at: AppTest) -> dict:
    charts = at.get("plotly_chart")
    assert charts, "no latent map drawn"
    return json.loads(charts[0].proto.spec)


def _points(spec: dict) -> int:
    trace = spec["data"][0]
    x = trace["x"]
    return int(len(x)) if isinstance(x, list) else int(np.frombuffer(
        __import__("base64").b64decode(x["bdata"]), dtype=x["dtype"]).size)


def test_latent_page_over_50000_latents_draws_at_once_then_refines(big_run):
    from laom_core import jobs
    from laom_core.analysis import umap as umap_mod

    at = AppTest.from_file(APP, default_timeout=120).run()
    t0 = time.perf_counter()
    at.switch_page("pages/latent_space.py").run()
    first_s = time.perf_counter() - t0
    assert not at.exception, [e.value for e in at.exception]
    spec = _chart(at)
    assert "PCA of 2,000 sampled points" in spec["layout"]["title"]["text"]
    assert _points(spec) == umap_mod.PREVIEW_ROWS
    assert spec["data"][0]["type"] == "scatter"  # 2,000 points: SVG
    running = [j for j in jobs.list_jobs("umap") if j.state == "running"]
    assert len(running) == 1, "the page did not start the UMAP of every point"
    print(f"first picture over {N} latents: {first_s:.2f} s")

    # The job's first product, the PCA of every point, replaces the sample on the next rerun.
    preview = umap_mod.project_pca(open_latents(big_run))[:, :2]
    umap_mod.preview_path(big_run).parent.mkdir(parents=True, exist_ok=True)
    np.save(umap_mod.preview_path(big_run), preview)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    spec = _chart(at)
    assert f"PCA of all {N:,} points" in spec["layout"]["title"]["text"]
    assert _points(spec) == N and spec["data"][0]["type"] == "scattergl"
    options = at.selectbox(key="ls_color_a").options
    assert "action dim 0" in options and "distractor clip" in options


def test_latents_are_memory_mapped_inside_the_npz(tmp_path):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(300, 33)).astype(np.float32)
    np.savez(tmp_path / "plain.npz", latents=z, actions=np.ones((300, 2)))
    mapped = npz_member_memmap(tmp_path / "plain.npz", "latents")
    assert isinstance(mapped, np.memmap) and np.array_equal(mapped, z)
    lf = open_latents(tmp_path / "plain.npz")
    assert isinstance(lf.latents, np.memmap) and set(lf.columns) == {"actions"}
    assert np.array_equal(lf.rows(np.array([3, 7])), z[[3, 7]])
    np.savez_compressed(tmp_path / "packed.npz", latents=z)
    assert npz_member_memmap(tmp_path / "packed.npz", "latents") is None
    assert np.array_equal(open_latents(tmp_path / "packed.npz").latents, z)  # read whole instead


def test_pca_of_every_row_from_a_sampled_basis(tmp_path):
    from laom_core.analysis.umap import project_pca

    rng = np.random.default_rng(1)
    n, d = 6000, 256
    scales = np.r_[8.0, 4.0, np.full(d - 2, 0.05)]
    z = (rng.normal(size=(n, d)) * scales).astype(np.float32)
    np.savez(tmp_path / "latents.npz", latents=z)
    reduced = project_pca(open_latents(tmp_path / "latents.npz"), dims=10, fit_rows=1000)
    assert reduced.shape == (n, 10) and reduced.dtype == np.float32
    assert abs(np.corrcoef(reduced[:, 0], z[:, 0])[0, 1]) > 0.99  # the basis fitted on 1,000 rows
    assert abs(np.corrcoef(reduced[:, 1], z[:, 1])[0, 1]) > 0.99  # holds for all 6,000
    z[5555, 100] = np.nan  # a row outside the fitted sample
    np.savez(tmp_path / "bad.npz", latents=z)
    with pytest.raises(LaomError, match="row 5555"):
        project_pca(open_latents(tmp_path / "bad.npz"), dims=10, fit_rows=1000)


def test_nearest_neighbours_match_the_exact_search(tmp_path):
    """The UMAP job's faiss search (an inverted-file index, approximate) finds nearly all
    exact neighbours, each point first, with euclidean (not squared) distances."""
    from sklearn.neighbors import NearestNeighbors

    from laom_core.analysis.umap import nearest_neighbors

    rng = np.random.default_rng(2)
    centres = rng.normal(size=(40, 12)) * 5
    points = (centres[rng.integers(0, 40, 8000)] + rng.normal(size=(8000, 12))).astype(np.float32)
    neighbors, dists = nearest_neighbors(points, 15)
    assert neighbors.shape == dists.shape == (8000, 15)
    assert (neighbors[:, 0] == np.arange(8000)).mean() > 0.999 and np.allclose(dists[:, 0], 0, atol=1e-3)
    exact_d, exact_i = NearestNeighbors(n_neighbors=15).fit(points).kneighbors(points[:500])
    recall = np.mean([len(set(a) & set(b)) / 15 for a, b in zip(neighbors[:500], exact_i)])
    assert recall > 0.97, recall
    assert np.allclose(np.sort(dists[:500], axis=1)[:, -1], exact_d[:, -1], rtol=0.05)  # same units
    assert np.all(np.diff(dists, axis=1) >= -1e-5)  # nearest first

