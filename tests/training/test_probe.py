"""Probes: the closed-form ridge recovers linear maps; LAOM's latent actions carry the action."""
from __future__ import annotations

import json

import numpy as np
import pytest

from laom_core.data.toy import make_toy_dataset
from laom_core.training.probes import OnlineProbe, fit_ridge, held_out_probe, r2_per_dim, r2_pooled
from train_helpers import train


def test_ridge_recovers_a_linear_map_in_primal_and_dual_form():
    rng = np.random.default_rng(0)
    for n, d in ((400, 20), (50, 200)):
        w = rng.normal(size=(d, 3))
        x = rng.normal(size=(n, d))
        x_test = rng.normal(size=(100, d))
        predict = fit_ridge(x, x @ w + 0.5, ridge=1e-6)
        err = np.mean((predict(x_test) - (x_test @ w + 0.5)) ** 2)
        assert err < (1e-6 if n > d else 0.9 * np.var(x_test @ w))


def test_the_one_ridge_is_sklearns_on_standardized_features():
    """fit_ridge = sklearn Ridge(alpha = ridge * n) on features standardized with training statistics."""
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(3)
    for n, d in ((200, 6), (30, 80)):  # primal and dual
        x, y = rng.normal(size=(n, d)) * 3 + 1, rng.normal(size=(n, 2))
        xs = (x - x.mean(0)) / (x.std(0) + 1e-6)
        x_new = rng.normal(size=(10, d))
        expected = Ridge(alpha=0.1 * n).fit(xs, y).predict((x_new - x.mean(0)) / (x.std(0) + 1e-6))
        np.testing.assert_allclose(fit_ridge(x, y, ridge=0.1)(x_new), expected, rtol=1e-8, atol=1e-10)
        assert fit_ridge(x, y[:, :1])(x_new).shape == (10, 1)  # one target column stays a column
        # the closed form it replaced: (X'X + lambda I)^-1 X'y on centred targets
        w = np.linalg.solve(xs.T @ xs + 0.1 * n * np.eye(d), xs.T @ (y - y.mean(0))) if n > d else \
            xs.T @ np.linalg.solve(xs @ xs.T + 0.1 * n * np.eye(n), y - y.mean(0))
        np.testing.assert_allclose(fit_ridge(x, y, ridge=0.1)(x_new),
                                   (x_new - x.mean(0)) / (x.std(0) + 1e-6) @ w + y.mean(0), rtol=1e-8, atol=1e-10)


def test_the_one_r2():
    y = np.array([[1.0, 5.0, 2.0], [2.0, 5.0, 4.0], [3.0, 5.0, 6.0], [4.0, 5.0, 8.0]])
    pred = y + np.array([[0.5, 0.0, 0.0], [-0.5, 0.0, 0.0], [0.5, 0.0, 1.0], [-0.5, 0.0, -1.0]])
    per_dim = r2_per_dim(y, pred)
    assert per_dim[0] == pytest.approx(1 - 1.0 / 5.0) and np.isnan(per_dim[1]) and per_dim[2] == pytest.approx(0.9)
    assert r2_pooled(y, pred) == pytest.approx(1 - (1.0 + 2.0) / (5.0 + 20.0))  # total error / total variance
    assert np.isnan(r2_pooled(np.ones((3, 2)), np.zeros((3, 2))))


def test_no_other_module_solves_its_own_ridge_or_r2():
    """One estimator and one R^2 (training/probes.py, through scikit-learn) for every probe."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "laom_core"
    own = re.compile(r"linalg\.(solve|eigh|lstsq)|def _r2\b|class _Ridge|sklearn\.linear_model|import r2_score|r2_score\(")
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if p.name != "probes.py" and p.name != "augment.py" and own.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_held_out_probe_reports_chance_and_per_dim():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 5))
    y = np.stack([x[:, 0], rng.normal(size=300)], axis=1)
    result = held_out_probe(x[:200], y[:200], x[200:], y[200:], ridge=1e-3)
    assert result["per_dim"][0] < 0.01 < 0.5 < result["per_dim"][1]
    assert result["chance_mse"] > result["mse"] and len(result["chance_per_dim"]) == 2


def test_online_probe_learns():
    import torch

    torch.manual_seed(0)
    probe = OnlineProbe(4, 2, lr=0.05)
    x = torch.randn(256, 4)
    y = x[:, :2] * 3
    losses = [probe.update(x, y) for _ in range(100)]
    assert losses[-1] < 0.05 * losses[0]


def _laom_probe(capsys, data, run_dir, updates: int) -> tuple[dict, dict]:
    """Train LAOM (cpu-small architecture, short schedule) for ``updates``; (summary, probe.json)."""
    code, summary, err = train(capsys, "--method", "laom", "--preset", "cpu-small", "--data", str(data),
                               "--run-dir", str(run_dir), "--set", f"lapo.total_updates={updates}",
                               "--set", "lapo.learning_rate=1e-3", "--set", "run.probe_samples=1024",
                               "--set", "run.held_out_fraction=0.2", "--set", "run.log_every=50",
                               "--set", "bc.total_updates=2", "--set", "decoder.total_updates=2")
    assert code == 0, err
    return summary, json.loads((run_dir / "artifacts" / "probe.json").read_text())


@pytest.mark.slow
def test_laom_learns_latent_actions_that_carry_the_action(tmp_path, capsys):
    """On the toy set (a disc moved by the action) LAOM's held-out probe must clearly beat
    both the mean action and the same model after a single update (random features of
    two frames already carry some motion, so beating chance alone proves little)."""
    data = make_toy_dataset(tmp_path / "easy.h5", trajectories=20, steps=100, img_size=32, action_dim=2, seed=0)
    _, untrained = _laom_probe(capsys, data, tmp_path / "untrained", updates=1)
    summary, probe = _laom_probe(capsys, data, tmp_path / "trained", updates=300)
    assert len(probe["held_out_trajectories"]) == 4 and probe["action_probe"]["held_out_samples"] == 4 * 99
    assert probe["chance_mse"] == untrained["chance_mse"]  # same held-out transitions
    assert summary["probe_mse"] == probe["held_out_probe_mse"]
    assert probe["held_out_probe_mse"] < 0.7 * probe["chance_mse"], probe
    assert probe["held_out_probe_mse"] < 0.9 * untrained["held_out_probe_mse"], (probe, untrained)
