"""Linear probes: how much of the true action (or state) a representation holds linearly.

* :class:`OnlineProbe`: a linear layer trained with Adam alongside the model on detached
  inputs, as the paper logs it (``probe_mse``, ``state_probe_mse``).
* :func:`fit_ridge` / :func:`held_out_probe`: the number the dashboard compares, a linear
  map fitted in closed form (ridge on standardized features) on training trajectories and
  measured on held-out ones, per output dimension and overall, next to the MSE of
  predicting the training mean (chance).
* :func:`ridge_model` and :func:`r2_per_dim` / :func:`r2_pooled`: the one ridge estimator and
  the one R^2, both scikit-learn's; every probe of the project (the run's probes, the
  re-probe, the Latent page's per-point probe, the leakage probes) goes through them.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from torch import nn


class OnlineProbe(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, lr: float = 1e-3) -> None:
        super().__init__()
        self.linear = nn.Linear(in_dim, out_dim)
        self.optimizer = torch.optim.Adam(self.linear.parameters(), lr=lr)

    def update(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One Adam step on MSE(linear(x.detach()), y); returns the MSE before the step
        (a 0-d tensor, so a GPU run syncs only when it logs)."""
        loss = F.mse_loss(self.linear(x.detach().float()), y.float())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()


def ridge_model(x: np.ndarray, y: np.ndarray, penalty: float) -> Ridge:
    """scikit-learn's ridge regression with an unpenalized intercept, fitted on ``x`` (N, D)
    -> ``y`` (N, K) with penalty ``penalty`` (sklearn's ``alpha``). Its default solver uses
    the dual (kernel) form when there are more features than samples."""
    return Ridge(alpha=float(penalty), fit_intercept=True).fit(x, y)


def r2_per_dim(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """R^2 of each target column (sklearn's ``r2_score``, baseline: the mean of ``y``);
    NaN for a column that does not vary."""
    y, pred = np.asarray(y, dtype=np.float64), np.asarray(pred, dtype=np.float64)
    if y.ndim == 1:
        y, pred = y[:, None], pred[:, None]
    scores = r2_score(y, pred, multioutput="raw_values", force_finite=False)
    return np.where(y.var(0) > 0, scores, np.nan)


def r2_pooled(y: np.ndarray, pred: np.ndarray) -> float:
    """R^2 over all target columns pooled (sklearn's variance-weighted ``r2_score``:
    1 - total squared error / total variance); NaN when nothing varies."""
    y, pred = np.asarray(y, dtype=np.float64), np.asarray(pred, dtype=np.float64)
    if not (y.var(0) > 0).any():
        return float("nan")
    return float(r2_score(y, pred, multioutput="variance_weighted"))


def fit_ridge(x: np.ndarray, y: np.ndarray, ridge: float = 0.1) -> Callable[[np.ndarray], np.ndarray]:
    """The run's probe estimator: :func:`ridge_model` on features standardized with training
    statistics (std + 1e-6), penalty ``ridge * n``; returns ``predict(x_new)``."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    mu_x, sd = x.mean(0), x.std(0) + 1e-6
    model = ridge_model((x - mu_x) / sd, y, max(ridge, 1e-8) * len(x))

    def predict(x_new: np.ndarray) -> np.ndarray:
        pred = model.predict((np.asarray(x_new, dtype=np.float64) - mu_x) / sd)
        return pred.reshape(len(pred), *y.shape[1:])  # sklearn flattens a single target column

    return predict


def held_out_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                   ridge: float = 0.1) -> dict:
    """Fit on train, score on held-out: overall and per-dimension MSE, chance MSE, R^2."""
    predict = fit_ridge(train_x, train_y, ridge)
    pred = predict(test_x)
    err = (pred - test_y) ** 2
    chance = (test_y - train_y.mean(0)) ** 2
    per_dim = err.mean(0)
    r2 = r2_per_dim(test_y, pred)
    return {
        "mse": float(err.mean()),
        "per_dim": [float(v) for v in per_dim],
        "chance_mse": float(chance.mean()),
        "chance_per_dim": [float(v) for v in chance.mean(0)],
        "r2_per_dim": [None if np.isnan(v) else float(v) for v in r2],
        "train_samples": int(len(train_x)),
        "held_out_samples": int(len(test_x)),
        "feature_dim": int(train_x.shape[1]),
        "ridge": float(ridge),
    }
