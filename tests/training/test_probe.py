"""Probes: the closed-form ridge recovers linear maps; LAOM's latent actions carry the action."""
from __future__ import annotations

import json

import numpy as np
import pytest

from laom_core.data.toy import make_toy_dataset
from laom_core.training.probes import OnlineProbe, fit_ridge, held_out_probe
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


@pytest.mark.slow
def test_laom_probe_beats_the_mean_action(tmp_path, capsys):
    data = make_toy_dataset(tmp_path / "easy.h5", trajectories=20, steps=100, img_size=32, action_dim=2, seed=0)
    run_dir = tmp_path / "run"
    code, summary, err = train(capsys, "--method", "laom", "--preset", "smoke", "--data", str(data),
                               "--run-dir", str(run_dir), "--set", "lapo.total_updates=24",
                               "--set", "lapo.batch_size=32", "--set", "lapo.latent_action_dim=64",
                               "--set", "lapo.obs_head_dim=256", "--set", "lapo.act_head_dim=256",
                               "--set", "run.probe_samples=1024", "--set", "bc.total_updates=2",
                               "--set", "decoder.total_updates=2")
    assert code == 0, err
    probe = json.loads((run_dir / "artifacts" / "probe.json").read_text())
    assert probe["held_out_trajectories"] == 4 and probe["action_probe"]["held_out_samples"] == 4 * 99
    assert summary["probe_mse"] < 0.95 * probe["chance_mse"], probe
