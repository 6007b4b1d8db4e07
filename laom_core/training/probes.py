"""Linear probes: how much of the true action (or state) a representation holds linearly.

* :class:`OnlineProbe`: a linear layer trained with Adam alongside the model on detached
  inputs, as the paper logs it (``probe_mse``, ``state_probe_mse``).
* :func:`fit_ridge` / :func:`held_out_probe`: the number the dashboard compares, a linear
  map fitted in closed form (ridge on standardized features) on training trajectories and
  measured on held-out ones, per output dimension and overall, next to the MSE of
  predicting the training mean (chance).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
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


def fit_ridge(x: np.ndarray, y: np.ndarray, ridge: float = 0.1) -> Callable[[np.ndarray], np.ndarray]:
    """Closed-form ridge regression with intercept; returns ``predict(x_new)``.

    Features are standardized with training statistics; the penalty is ``ridge * n``.
    The dual form is used when there are more features than samples.
    """
    x = torch.as_tensor(np.asarray(x, dtype=np.float64))
    y = torch.as_tensor(np.asarray(y, dtype=np.float64))
    mu_x, mu_y = x.mean(0), y.mean(0)
    sd = x.std(0, unbiased=False) + 1e-6
    xs, yc = (x - mu_x) / sd, y - mu_y
    n, d = xs.shape
    lam = max(ridge, 1e-8) * n
    if d <= n:
        w = torch.linalg.solve(xs.T @ xs + lam * torch.eye(d, dtype=xs.dtype), xs.T @ yc)
    else:
        w = xs.T @ torch.linalg.solve(xs @ xs.T + lam * torch.eye(n, dtype=xs.dtype), yc)

    def predict(x_new: np.ndarray) -> np.ndarray:
        xn = (torch.as_tensor(np.asarray(x_new, dtype=np.float64)) - mu_x) / sd
        return (xn @ w + mu_y).numpy()

    return predict


def held_out_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                   ridge: float = 0.1) -> dict:
    """Fit on train, score on held-out: overall and per-dimension MSE, chance MSE, R^2."""
    predict = fit_ridge(train_x, train_y, ridge)
    pred = predict(test_x)
    err = (pred - test_y) ** 2
    chance = (test_y - train_y.mean(0)) ** 2
    per_dim = err.mean(0)
    var = test_y.var(0)
    return {
        "mse": float(err.mean()),
        "per_dim": [float(v) for v in per_dim],
        "chance_mse": float(chance.mean()),
        "chance_per_dim": [float(v) for v in chance.mean(0)],
        "r2_per_dim": [float(1 - e / v) if v > 0 else None for e, v in zip(per_dim, var)],
        "train_samples": int(len(train_x)),
        "held_out_samples": int(len(test_x)),
        "feature_dim": int(train_x.shape[1]),
        "ridge": float(ridge),
    }
