"""The Latent space page at real size: 50,000 saved latents of dim 8,192 (1.6 GB).

    python bench/latent_page_speed.py [--n 50000] [--dim 8192] [--workspace DIR] [--keep]

Builds a workspace with one finished LAOM run whose ``artifacts/latents.npz`` holds ``--n``
synthetic latents of ``--dim`` dims in the training layout (latents driven by the actions;
``laom_core.analysis.latents_file.write_synthetic_latents``; with ``--workspace`` an
existing one is reused, which skips the minutes of writing 1.6 GB), then measures in one run:

1. **first picture**: the page rendered through streamlit's AppTest with empty caches
   and no map computed yet (a first visit): the time until the script has drawn its
   plotly chart. Target 2 s. The page starts the UMAP job here, as a user's visit does.
2. **UMAP of every point, end to end**: that job, a fresh process (``python -m
   laom_core.analysis.umap``) that loads the file, runs PCA to 50 dims and UMAP on all
   ``--n`` points and saves the map; its wall time from start to saved map. It is the
   first job in the workspace, so numba compiles into the workspace's on-disk cache. A
   second fresh job over the same file then runs with that cache warm: what every later
   job costs. Target 30 s, for the warm job (the cold one is printed too).
3. the page again once the UMAP is cached (all points drawn).

Each line prints measured / target. The machine's load average is printed beside the
figures: on a shared machine wall time stretches with it, CPU time much less.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from laom_core.rundir import RunDir  # noqa: E402 - after the path
from _page_render import first_render  # noqa: E402 - bench/, this script's folder
from _scratch_workspace import scratch_workspace  # noqa: E402
FIRST_PICTURE_TARGET_S = 2.0
UMAP_TARGET_S = 30.0


def build(root: Path, n: int, dim: int) -> Path:
    """The workspace's run and its latents file (kept when already there with that shape)."""
    from laom_core.analysis.latents_file import open_latents, write_synthetic_latents
    from laom_core.runs.store import RunStore
    from laom_core.workspace import runs_dir

    folder = runs_dir() / "bench-latents"
    latents = RunDir(folder).latents
    try:
        lf = open_latents(latents)
        ok = (lf.n, lf.dim) == (n, dim)
    except Exception:
        ok = False
    if not ok:
        t0 = time.perf_counter()
        write_synthetic_latents(latents, n, dim)
        print(f"wrote {latents} ({n} x {dim}, {latents.stat().st_size / 1e9:.2f} GB) in "
              f"{time.perf_counter() - t0:.0f} s")
    with RunStore() as store:
        if not store.list_runs():
            rid = store.create_run("LAOM big latents", "laom", "cheetah-run", {}, folder, seed=0, status="queued")
            store.set_status(rid, "finished")
    return latents


def first_visit() -> tuple[float, str]:
    """Seconds for the Latent page's first render with empty caches; the map's title."""
    seconds, at = first_render("pages/latent_space.py", timeout=300)
    if at.exception:
        raise SystemExit(f"the page raised: {at.exception[0].value}")
    charts = at.get("plotly_chart")
    if not charts:
        raise SystemExit("the page drew no chart")
    import json

    spec = json.loads(charts[0].proto.spec)
    return seconds, spec["layout"]["title"]["text"]


def wait_for_job(timeout_s: float = 3600) -> tuple[float, str]:
    """The UMAP job the page started: (wall seconds from its start to finished, state)."""
    from laom_core import jobs

    t_end = time.time() + timeout_s
    while time.time() < t_end:
        listed = jobs.list_jobs("umap")
        if listed and listed[0].state != "running":
            job = listed[0]
            return (job.ended or time.time()) - job.created, job.state
        time.sleep(0.5)
    raise SystemExit("the UMAP job did not finish in time")


def fresh_job(latents: Path, out: Path) -> tuple[float, float]:
    """(wall, CPU seconds) of one more UMAP job in a fresh process, numba cache warm."""
    from laom_core.analysis.umap import numba_cache_dir

    env = dict(os.environ, NUMBA_CACHE_DIR=str(numba_cache_dir()), PYTHONPATH=str(REPO))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "laom_core.analysis.umap", str(latents), str(out)], env=env,
                   check=True, stdout=subprocess.DEVNULL, cwd=REPO)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return time.perf_counter() - t0, cpu


def knn_recall(latents: Path, queries: int = 2000) -> float | None:
    """Share of the exact 15 nearest neighbours (in the job's 50 PCA dims) that the job's
    faiss search finds, over ``queries`` random points; None without faiss."""
    import numpy as np

    from laom_core.analysis.latents_file import open_latents
    from laom_core.analysis.umap import nearest_neighbors, project_pca, sample_rows

    points = project_pca(open_latents(latents))
    found = nearest_neighbors(points, 15)
    if found is None:
        return None
    import faiss

    rows = sample_rows(len(points), queries, seed=1)
    exact = faiss.IndexFlatL2(points.shape[1])
    exact.add(np.ascontiguousarray(points))
    _, truth = exact.search(np.ascontiguousarray(points[rows]), 15)
    return float(np.mean([len(set(a) & set(b)) / 15 for a, b in zip(found[0][rows], truth)]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--dim", type=int, default=8192)
    parser.add_argument("--workspace", type=Path, default=None, help="reuse this workspace (its latents file too)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    args = parser.parse_args()

    with scratch_workspace(args.workspace, args.keep, prefix="laom-latent-speed-") as root:
        # Every measurement starts without a map and without numba's cache (first job in a workspace).
        shutil.rmtree(root / "cache" / "umap", ignore_errors=True)
        shutil.rmtree(root / "cache" / "numba", ignore_errors=True)
        shutil.rmtree(root / "jobs", ignore_errors=True)
        latents = build(root, args.n, args.dim)
        load0 = os.getloadavg()[0]
        first_s, first_title = first_visit()
        cold_s, state = wait_for_job()
        if state != "finished":
            raise SystemExit(f"the UMAP job {state}")
        warm_s, warm_cpu = fresh_job(latents, root / "cache" / "bench-second.npz")
        again_s, again_title = first_visit()
        load1 = os.getloadavg()[0]
        recall = knn_recall(latents)

        print(f"latents: {args.n} x {args.dim} float32; load average {load0:.1f} -> {load1:.1f} on "
              f"{os.cpu_count()} cores")
        print(f"{'measure':58s} {'seconds':>8s} {'target':>7s} {'ratio':>6s}")
        rows = [
            (f"first picture, first visit ({first_title.split(' · ')[-1]})", first_s, FIRST_PICTURE_TARGET_S),
            (f"UMAP of all points, fresh job, numba cache warm (CPU {warm_cpu:.0f} s)", warm_s, UMAP_TARGET_S),
            ("UMAP of all points, first job in the workspace (compiles)", cold_s, UMAP_TARGET_S),
            (f"page with the map cached ({again_title.split(' · ')[-1]})", again_s, FIRST_PICTURE_TARGET_S),
        ]
        for label, seconds, target in rows:
            print(f"{label[:58]:58s} {seconds:8.2f} {target:7.0f} {seconds / target:6.2f}x")
        print("nearest-neighbour recall of the job's search against the exact one: "
              + (f"{recall:.4f}" if recall is not None else "n/a (faiss not installed: UMAP's own search)"))
        print(f"first picture ratio: {first_s / FIRST_PICTURE_TARGET_S:.2f}x of {FIRST_PICTURE_TARGET_S:.0f} s; "
              f"UMAP end-to-end ratio: {warm_s / UMAP_TARGET_S:.2f}x of {UMAP_TARGET_S:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
