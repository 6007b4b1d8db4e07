"""2-D maps of a run's saved latent actions: PCA to 50 dims, then UMAP, of every saved point.

Computed once per latents file, in a background job (``python -m
laom_core.analysis.umap LATENTS OUT``), and cached in the workspace cache under a key made
of the file's path, size and modification time, so a re-trained run gets a fresh map and
a page rerun never recomputes. The cache file (``.npz``) also holds a closed-form linear
probe's per-point error (latent -> true action) for colouring the map.

At real size (50,000 latents of 8,192 dims, 1.6 GB) the job:

* memory-maps the latents inside the ``.npz`` (:mod:`laom_core.analysis.latents_file`):
  nothing is copied before it is needed;
* fits PCA to ``PCA_DIMS`` = 50 dims on ``PCA_FIT_ROWS`` random rows (randomized SVD), then
  projects every row in chunks: one pass over the file;
* writes the first two components of all points as a preview the page shows at once
  (:func:`load_preview`), before UMAP starts;
* runs UMAP on the 50-dim points with numba's on-disk cache in the workspace
  (``cache/numba``; UMAP's own kernels are switched to cached ones too), so only the first
  job in a workspace pays the compilation, and with numba's threads on all cores.

Progress is reported with :func:`laom_core.procs.report_progress` (the job's
``progress.json``), which :mod:`laom_core.jobs` reads.
"""
from __future__ import annotations

import hashlib
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from laom_core.analysis.latents_file import LatentsFile, open_latents
from laom_core.errors import LaomError
from laom_core.jobs import find_job, start_job
from laom_core.procs import report_progress
from laom_core.workspace import atomic_path, cache_dir

PCA_DIMS = 50
PCA_FIT_ROWS = 4096  # rows the PCA basis is fitted on (randomized SVD); every row is then projected
PREVIEW_ROWS = 2000  # rows of the page's instant PCA picture, read straight from the file
PREVIEW_BLOCKS = 20  # ... in this many contiguous runs of rows
CHUNK_ROWS = 4096  # rows projected at a time (8192 dims: 128 MB of float32)
LATENT_KEYS = ("latents", "actions", "states", "step", "traj", "clip_id", "obs_index")
_VERSION = "v2"


def load_latents(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of ``latents.npz`` (the latents memory-mapped when the file allows);
    raises :class:`LaomError` naming the problem."""
    lf = open_latents(path)
    return {"latents": lf.latents, **lf.columns}


def cache_key(latents_path: str | Path) -> str:
    path = Path(latents_path).resolve()
    st = path.stat()
    raw = f"{path}|{st.st_size}|{st.st_mtime_ns}|pca{PCA_DIMS}|all|{_VERSION}"
    return hashlib.sha1(raw.encode()).hexdigest()[:16]


def cache_path(latents_path: str | Path) -> Path:
    return cache_dir() / "umap" / f"{cache_key(latents_path)}.npz"


def preview_path(latents_path: str | Path) -> Path:
    """The job's PCA of all points (N, 2), written before UMAP starts."""
    return cache_path(latents_path).with_suffix(".pca2.npy")


def numba_cache_dir() -> Path:
    return cache_dir() / "numba"


def load_embedding(latents_path: str | Path) -> dict[str, np.ndarray] | None:
    """The cached map for this latents file, or None when not computed yet."""
    try:
        out = cache_path(latents_path)
    except OSError:
        return None
    if not out.is_file():
        return None
    with np.load(out, allow_pickle=False) as data:
        return {k: np.asarray(data[k]) for k in data.files}


def load_preview(latents_path: str | Path) -> np.ndarray | None:
    """The job's PCA-2 of every point, once written; None before that."""
    try:
        return np.load(preview_path(latents_path), allow_pickle=False)
    except (OSError, ValueError):
        return None


def pca_2d(z: np.ndarray, seed: int = 0, iterations: int = 4) -> np.ndarray:
    """Top-2 principal components by randomized subspace iteration (numpy only, fast).

    The page shows this for a sample of rows while the UMAP job runs: exact enough for a
    preview and cheap even for 8192-dim latents (a few N x D products instead of an SVD).
    """
    x = np.asarray(z, dtype=np.float32)  # float32: half the memory traffic of float64, ample for a picture
    x = x - x.mean(axis=0)
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(x.shape[1], min(8, x.shape[1]))).astype(np.float32)
    for _ in range(iterations):
        q, _ = np.linalg.qr(x.T @ (x @ q))
    small = x @ q
    _, _, vt = np.linalg.svd(small, full_matrices=False)
    return (small @ vt[:2].T).astype(np.float32)


def sample_rows(n: int, k: int, seed: int = 0) -> np.ndarray:
    """``min(k, n)`` row numbers, sorted (memory-mapped rows read in file order)."""
    if n <= k:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, k, replace=False))


def block_rows(n: int, k: int, blocks: int = PREVIEW_BLOCKS) -> np.ndarray:
    """``min(k, n)`` row numbers in ``blocks`` contiguous runs spread evenly over ``n`` rows.

    Runs, not scattered rows: from a file not in the page cache, 2,000 scattered 32 KB rows
    are 2,000 disk seeks (the bench's first visit took 15 s that way); 20 runs of 100 rows
    are 20 sequential reads. Rows are saved in trajectory order, so a run is a stretch of
    one or two trajectories.
    """
    if n <= k:
        return np.arange(n)
    blocks = max(1, min(blocks, k))
    per = k // blocks
    starts = np.linspace(0, n - per, blocks).astype(np.int64)
    return np.unique(np.concatenate([np.arange(s, s + per) for s in starts]))


def quick_preview(lf: LatentsFile, rows: int = PREVIEW_ROWS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(row numbers, PCA-2 of those rows): the page's first picture, from ``rows`` rows only."""
    index = block_rows(lf.n, rows)
    z = lf.rows(index)
    if not np.isfinite(z).all():
        raise LaomError(f"{lf.path}: latents contain NaN or inf")
    return index, pca_2d(z, seed=seed)


def project_pca(lf: LatentsFile, dims: int = PCA_DIMS, fit_rows: int = PCA_FIT_ROWS, seed: int = 0) -> np.ndarray:
    """Every row of ``lf`` on the top ``dims`` principal components (float32, (N, dims)).

    The basis is fitted on ``fit_rows`` random rows (randomized SVD, 2 power iterations);
    then all rows are centred and projected ``CHUNK_ROWS`` at a time, so memory stays at one
    chunk beside the (N, dims) result. NaN or inf anywhere in a row shows in its projection
    and is refused, naming the first such row.
    """
    from sklearn.decomposition import PCA

    fit = lf.rows(sample_rows(lf.n, fit_rows, seed))
    if not np.isfinite(fit).all():
        raise LaomError(f"{lf.path}: latents contain NaN or inf")
    n_comp = int(min(dims, lf.dim, len(fit) - 1))
    if n_comp < 2:
        return lf.rows(np.arange(lf.n))
    pca = PCA(n_components=n_comp, svd_solver="randomized", iterated_power=2, random_state=seed).fit(fit)
    basis = pca.components_.astype(np.float32).T
    mean = pca.mean_.astype(np.float32)
    out = np.empty((lf.n, n_comp), dtype=np.float32)
    for s in range(0, lf.n, CHUNK_ROWS):
        e = min(lf.n, s + CHUNK_ROWS)
        np.matmul(np.asarray(lf.latents[s:e], dtype=np.float32) - mean, basis, out=out[s:e])
    bad = ~np.isfinite(out).all(axis=1)
    if bad.any():
        raise LaomError(f"{lf.path}: latents contain NaN or inf (row {int(np.argmax(bad))} first)")
    return out


def _progress(value: float, stage: str) -> None:
    report_progress(round(value, 3), None, stage=stage)


_NUMBA_MODULES = ("umap.umap_", "umap.layouts", "umap.spectral", "umap.utils", "umap.distances",
                  "pynndescent.pynndescent_", "pynndescent.utils", "pynndescent.rp_trees", "pynndescent.distances",
                  "pynndescent.graph_utils", "pynndescent.threaded_rp_trees")


def cache_numba_kernels() -> None:
    """Make UMAP's and pynndescent's numba kernels use numba's on-disk cache.

    UMAP compiles ~80 kernels with ``numba.njit`` and no ``cache=True``, and pynndescent
    (its nearest-neighbour search) another ~100 of its ~280: every fresh process recompiled
    them (about 40 s of CPU on 2 cores). ``enable_caching`` before their first call stores
    the machine code under ``NUMBA_CACHE_DIR`` for the next job; a kernel numba cannot
    cache (one that takes another kernel as an argument) just compiles as before.
    """
    import importlib

    from numba.core.errors import NumbaWarning
    from numba.core.registry import CPUDispatcher

    # "Cannot cache compiled function ..." for the few that cannot: noise in the job's log.
    warnings.filterwarnings("ignore", message="Cannot cache compiled function", category=NumbaWarning)

    for name in _NUMBA_MODULES:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, CPUDispatcher) and getattr(value, "_cache", None) is not None \
                    and type(value._cache).__name__ == "NullCache":
                value.enable_caching()


EXACT_KNN_ROWS = 4096  # below this UMAP's own exact search is as fast; above it, faiss
KNN_PROBES = 16  # inverted lists searched per point (of about 2 sqrt(N))


def nearest_neighbors(points: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Every point's ``k`` nearest neighbours (itself first) and euclidean distances, with
    faiss: an inverted-file index of about 2 sqrt(N) lists, 16 searched per point.

    UMAP's own search (pynndescent) passes its distance function to numba kernels as an
    argument, and numba cannot cache such kernels: every fresh job recompiled them, 11 s
    on the 2-core machine, against 0.7 s of search. faiss has nothing to compile; at
    50,000 x 50 it finds 99.9 % of the exact neighbours in about 1 s (``bench/latent_page_speed.py``
    prints the recall). Returns None when faiss is not installed: UMAP then searches itself.
    """
    try:
        import faiss
    except ImportError:
        return None
    x = np.ascontiguousarray(points, dtype=np.float32)
    n, dim = x.shape
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    lists = max(1, int(round(2 * np.sqrt(n))))
    index = faiss.IndexIVFFlat(faiss.IndexFlatL2(dim), dim, lists)
    train = x[sample_rows(n, 64 * lists)]  # k-means on a sample: faiss asks for >= 39 points per list
    index.train(train)
    index.add(x)
    index.nprobe = min(KNN_PROBES, lists)
    sq_dists, neighbors = index.search(x, k)
    missing = (neighbors < 0).any(axis=1)  # probed lists held fewer than k points: search those exactly
    if missing.any():
        exact = faiss.IndexFlatL2(dim)
        exact.add(x)
        sq_dists[missing], neighbors[missing] = exact.search(x[missing], k)
    return neighbors.astype(np.int32), np.sqrt(np.maximum(sq_dists, 0)).astype(np.float32)


def run_umap(points: np.ndarray, seed: int = 0) -> np.ndarray:
    """UMAP to 2-D of ``points`` (N, d): 15 neighbours, min_dist 0.1, 200 epochs at 50,000
    points, numba threads on all cores.

    Initialised from the points' own principal components (``init="pca"``): the default
    spectral initialisation cost 34 s of CPU at 50,000 points on the 2-core machine, more
    than the whole optimisation (28 s). Neighbours come from :func:`nearest_neighbors`
    above ``EXACT_KNN_ROWS`` points."""
    import umap

    cache_numba_kernels()
    n = len(points)
    n_neighbors = int(min(15, max(2, n - 1)))
    # A random_state would force one thread; the seed goes to numpy's global generator instead.
    np.random.seed(seed)
    knn = nearest_neighbors(points, n_neighbors) if n > EXACT_KNN_ROWS else None
    reducer = umap.UMAP(n_components=2, n_neighbors=n_neighbors, min_dist=0.1, n_jobs=-1, low_memory=False,
                        init="pca" if n > n_neighbors + 2 else "random",
                        precomputed_knn=knn if knn is not None else (None, None, None))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)
        warnings.filterwarnings("ignore", module="numba")
        return reducer.fit_transform(points).astype(np.float32)


def compute_embedding(latents_path: str | Path, out: str | Path, seed: int = 0) -> Path:
    """PCA (50 dims) -> UMAP of every saved latent, plus probe errors; a PCA-2 preview first."""
    import time

    from laom_core.analysis.probes import fit_linear_probe  # torch and sklearn: the job's, never the page's imports

    times: dict[str, float] = {}
    t0 = time.perf_counter()
    _progress(0.02, "opening latents")
    lf = open_latents(latents_path)
    _progress(0.05, f"PCA of {lf.n} x {lf.dim} to {PCA_DIMS} dims")
    reduced = project_pca(lf, seed=seed)
    times["load+PCA"] = time.perf_counter() - t0
    with atomic_path(Path(out).with_suffix(".pca2.npy")) as tmp:  # = preview_path() for the cache file
        with open(tmp, "wb") as fh:
            np.save(fh, reduced[:, :2].astype(np.float32))
    result: dict[str, Any] = {"index": np.arange(lf.n), "pca": reduced[:, :2].astype(np.float32)}
    actions = lf.columns.get("actions")
    if actions is not None and actions.ndim == 2:
        _progress(0.2, "linear probe")

        try:
            probe = fit_linear_probe(reduced, actions, groups=lf.columns.get("traj"))
            result.update(probe_error=probe.per_point_error.astype(np.float32),
                          probe_per_dim=probe.per_dim_mse.astype(np.float32),
                          probe_held_out=probe.held_out)
        except LaomError as exc:
            print(f"[umap] probe skipped: {exc}", file=sys.stderr)
    times["probe"] = time.perf_counter() - t0 - times["load+PCA"]
    _progress(0.3, f"UMAP of {lf.n} points (the first job in a workspace compiles numba code)")
    t1 = time.perf_counter()
    result["embedding"] = run_umap(reduced, seed=seed)
    times["UMAP"] = time.perf_counter() - t1
    _progress(0.95, "saving")
    out = Path(out)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **result)
    print("[umap] seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in times.items()), file=sys.stderr)
    _progress(1.0, "done")
    return out


def start_embedding(latents_path: str | Path, retry: bool = False) -> str:
    """Start (or find) the background job computing this file's map; returns the job id.

    A running job is reused; a failed one is reported again rather than restarted on every
    page view, unless ``retry``; a finished one whose cache file went missing is redone.
    """
    latents_path = Path(latents_path).resolve()
    open_latents(latents_path)  # fail fast, with a clear message, on a bad file (reads no latents)
    out = cache_path(latents_path)
    key = f"umap:{out.name}"
    previous = find_job(key)
    if previous is not None:
        if previous.state == "running" or (previous.state == "failed" and not retry):
            return previous.id
        if previous.state == "finished" and out.is_file():
            return previous.id
    return start_job(
        "umap", [sys.executable, "-m", "laom_core.analysis.umap", str(latents_path), str(out)],
        label=f"UMAP of {latents_path.parent.parent.name}", key=key, reuse=(),
        env={"NUMBA_CACHE_DIR": str(numba_cache_dir())},
    )


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m laom_core.analysis.umap LATENTS.npz OUT.npz", file=sys.stderr)
        return 2
    try:
        compute_embedding(argv[0], argv[1])
    except LaomError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    # Before numba is imported: its on-disk cache in the workspace (a job started by
    # start_embedding already has it in its environment).
    os.environ.setdefault("NUMBA_CACHE_DIR", str(numba_cache_dir()))
    sys.exit(main(sys.argv[1:]))
