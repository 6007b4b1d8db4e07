"""Linear probes over saved latents (``artifacts/latents.npz``), fitted in closed form.

Training logs its own probe (Adam, on the fly); this module re-fits a ridge-regularised
linear map on a saved sample so the dashboard can show per-point probe error and
per-dimension held-out MSE without a GPU or a checkpoint. Split: a fixed random fraction
of *trajectories* is held out, so consecutive frames never straddle the split.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from laom_core.errors import LaomError
from laom_core.training.probes import fit_ridge, r2_pooled


@dataclass
class ProbeResult:
    held_out_mse: float            # mean over held-out points and target dims
    per_dim_mse: np.ndarray        # (A,) held-out MSE per target dim
    per_point_error: np.ndarray    # (N,) squared error per point, mean over dims
    held_out: np.ndarray           # (N,) bool, True for held-out points
    r2: float                      # held-out R^2 over all dims
    chance_mse: float              # held-out MSE of predicting the train mean


def fit_linear_probe(
    inputs: np.ndarray,
    targets: np.ndarray,
    *,
    groups: np.ndarray | None = None,
    held_out_fraction: float = 0.2,
    ridge: float = 1e-3,
    seed: int = 0,
) -> ProbeResult:
    """Ridge regression ``inputs -> targets``; metrics on held-out groups (trajectories).

    The fit is the one ridge (:func:`laom_core.training.probes.fit_ridge`: standardized
    features, unpenalized intercept, penalty ``ridge * n``, dual form when D > N).
    """
    x = np.asarray(inputs, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or len(x) != len(y):
        raise LaomError(f"probe needs inputs (N, D) and targets (N, A); got {x.shape} and {y.shape}")
    if len(x) < 4:
        raise LaomError(f"probe needs at least 4 points, got {len(x)}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise LaomError("probe inputs or targets contain NaN or inf")
    rng = np.random.default_rng(seed)
    groups = np.arange(len(x)) if groups is None else np.asarray(groups)
    unique = np.unique(groups)
    if len(unique) >= 2:
        n_held = max(1, int(round(len(unique) * held_out_fraction)))
        held_groups = rng.choice(unique, size=min(n_held, len(unique) - 1), replace=False)
        held = np.isin(groups, held_groups)
    else:
        held = np.zeros(len(x), bool)
        held[rng.choice(len(x), size=max(1, int(len(x) * held_out_fraction)), replace=False)] = True
    train = ~held
    pred = fit_ridge(x[train], y[train], ridge)(x)  # the one ridge (training/probes.py)
    sq = (pred - y) ** 2
    per_dim = sq[held].mean(axis=0)
    chance = ((y[held] - y[train].mean(axis=0)) ** 2).mean()
    r2 = r2_pooled(y[held], pred[held])
    return ProbeResult(
        held_out_mse=float(per_dim.mean()), per_dim_mse=per_dim, per_point_error=sq.mean(axis=1),
        held_out=held, r2=float(r2), chance_mse=float(chance),
    )
