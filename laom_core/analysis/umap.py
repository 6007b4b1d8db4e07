"""2-D maps of a run's saved latent actions: PCA to ~50 dims, then UMAP.

Computed once per latents file, in a background job (``python -m
laom_core.analysis.umap LATENTS OUT``), and cached in the workspace cache under a key made
of the file's path, size and modification time, so a re-trained run gets a fresh map and
a page rerun never recomputes. The cache file (``.npz``) also holds a closed-form linear
probe's per-point error (latent -> true action) for colouring the map.

Progress is printed as JSON lines ``{"progress": x, "stage": "..."}`` that
:mod:`laom_core.jobs` reads.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from laom_core.analysis.probes import fit_linear_probe
from laom_core.errors import LaomError
from laom_core.jobs import find_job, start_job
from laom_core.workspace import atomic_path, cache_dir

MAX_POINTS = 5000
PCA_DIMS = 50
LATENT_KEYS = ("latents", "actions", "states", "step", "traj", "clip_id", "obs_index")


def load_latents(path: str | Path) -> dict[str, np.ndarray]:
    """Read ``latents.npz`` and check it; raises :class:`LaomError` naming the problem."""
    path = Path(path)
    if not path.is_file():
        raise LaomError(f"no latents file at {path} (the run has not saved its latent actions yet)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k]) for k in data.files}
    except (OSError, ValueError) as exc:
        raise LaomError(f"{path} is not a readable latents file: {exc}") from None
    if "latents" not in arrays:
        raise LaomError(f"{path} has no 'latents' array (found: {', '.join(sorted(arrays)) or 'nothing'})")
    z = arrays["latents"]
    if z.ndim != 2 or len(z) < 5:
        raise LaomError(f"{path}: latents must be (N, D) with N >= 5, got shape {z.shape}")
    for key, value in arrays.items():
        if key != "latents" and value.ndim >= 1 and len(value) != len(z):
            raise LaomError(f"{path}: '{key}' has {len(value)} rows but latents has {len(z)}")
    return arrays


def cache_key(latents_path: str | Path) -> str:
    path = Path(latents_path).resolve()
    st = path.stat()
    raw = f"{path}|{st.st_size}|{st.st_mtime_ns}|pca{PCA_DIMS}|max{MAX_POINTS}|v1"
    return hashlib.sha1(raw.encode()).hexdigest()[:16]


def cache_path(latents_path: str | Path) -> Path:
    return cache_dir() / "umap" / f"{cache_key(latents_path)}.npz"


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


def pca_2d(z: np.ndarray, seed: int = 0, iterations: int = 6) -> np.ndarray:
    """Top-2 principal components by randomized subspace iteration (numpy only, fast).

    The page shows this while the UMAP job runs: exact enough for a preview and cheap
    even for 8192-dim latents (a few N x D products instead of an SVD).
    """
    x = np.asarray(z, dtype=np.float64)
    x = x - x.mean(axis=0)
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(x.shape[1], min(8, x.shape[1])))
    for _ in range(iterations):
        q, _ = np.linalg.qr(x.T @ (x @ q))
    small = x @ q
    _, _, vt = np.linalg.svd(small, full_matrices=False)
    return (small @ vt[:2].T).astype(np.float32)


def _progress(value: float, stage: str) -> None:
    print(json.dumps({"progress": round(value, 3), "stage": stage}), flush=True)


def compute_embedding(latents_path: str | Path, out: str | Path, seed: int = 0) -> Path:
    """PCA -> UMAP of the latents (subsampled to ``MAX_POINTS``), plus probe errors."""
    _progress(0.02, "loading latents")
    arrays = load_latents(latents_path)
    z = arrays["latents"].astype(np.float32)
    if not np.isfinite(z).all():
        raise LaomError(f"{latents_path}: latents contain NaN or inf")
    rng = np.random.default_rng(seed)
    index = np.arange(len(z))
    if len(z) > MAX_POINTS:
        index = np.sort(rng.choice(len(z), MAX_POINTS, replace=False))
    z = z[index]
    _progress(0.1, "PCA")
    from sklearn.decomposition import PCA

    n_comp = int(min(PCA_DIMS, z.shape[1], len(z) - 1))
    reduced = PCA(n_components=n_comp, random_state=seed).fit_transform(z) if n_comp >= 2 else z
    result: dict[str, Any] = {"index": index, "pca": reduced[:, :2].astype(np.float32)}
    if "actions" in arrays and arrays["actions"].ndim == 2:
        _progress(0.2, "linear probe")

        groups = arrays["traj"][index] if "traj" in arrays else None
        try:
            probe = fit_linear_probe(reduced, arrays["actions"][index], groups=groups)
            result.update(probe_error=probe.per_point_error.astype(np.float32),
                          probe_per_dim=probe.per_dim_mse.astype(np.float32),
                          probe_held_out=probe.held_out)
        except LaomError as exc:
            print(f"[umap] probe skipped: {exc}", file=sys.stderr)
    _progress(0.3, "UMAP (the first run compiles numba code, up to a minute)")
    import umap

    n_neighbors = int(min(15, max(2, len(z) - 1)))
    reducer = umap.UMAP(n_components=2, n_neighbors=n_neighbors, min_dist=0.1, random_state=seed,
                        n_jobs=1, init="spectral" if len(z) > n_neighbors + 2 else "random")
    result["embedding"] = reducer.fit_transform(reduced).astype(np.float32)
    _progress(0.95, "saving")
    out = Path(out)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **result)
    _progress(1.0, "done")
    return out


def start_embedding(latents_path: str | Path, retry: bool = False) -> str:
    """Start (or find) the background job computing this file's map; returns the job id.

    A running job is reused; a failed one is reported again rather than restarted on every
    page view, unless ``retry``; a finished one whose cache file went missing is redone.
    """
    latents_path = Path(latents_path).resolve()
    load_latents(latents_path)  # fail fast, with a clear message, on a bad file
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
    import os

    os.environ.setdefault("NUMBA_NUM_THREADS", "1")

    sys.exit(main(sys.argv[1:]))
