"""The released PPO importer reproduces the authors' cheetah-run expert (>= 800)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from laom_core.envs.types import EnvStep
from laom_core.errors import LaomError
from laom_core.experts.loading import load_policy
from laom_core.experts.ppo import PPOImportError, flatten_observation, load_ppo_policy

from pathlib import Path

SHARED_EXPERTS = Path(__file__).resolve().parents[2].parent / "shared" / "experts"
CHEETAH = SHARED_EXPERTS / "cheetah-run"


def _episode_return(policy, seed: int) -> float:
    """One 1000-step episode on states only (no rendering), clipping like the env does."""
    from dm_control import suite

    env = suite.load("cheetah", "run", task_kwargs={"random": seed})
    spec = env.action_spec()
    ts = env.reset()
    total = 0.0
    while not ts.last():
        step = EnvStep(pixels=np.zeros((0, 0, 3), np.uint8), state=flatten_observation(ts.observation), observation=dict(ts.observation))
        action = policy.act(step)
        ts = env.step(np.clip(action, spec.minimum, spec.maximum))
        total += float(ts.reward)
    return total


@pytest.mark.expert
@pytest.mark.skipif(not CHEETAH.is_dir(), reason="../shared/experts is absent")
def test_cheetah_expert_reaches_800():
    policy = load_ppo_policy(CHEETAH)
    assert (policy.state_dim, policy.action_dim) == (17, 6)
    returns = [_episode_return(policy, seed) for seed in range(3)]
    assert np.mean(returns) >= 800, returns


def _fake_folder(tmp_path, state_dim=5, action_dim=2, hidden=8, task=("cheetah", "run")):
    g = torch.Generator().manual_seed(0)
    sd = {
        "obs_rms.mean": torch.randn(state_dim, generator=g),
        "obs_rms.var": torch.rand(state_dim, generator=g) + 0.5,
        "obs_rms.count": torch.tensor(100.0),
        "actor_logstd": torch.zeros(1, action_dim),
        "actor_mean.0.weight": torch.randn(hidden, state_dim, generator=g),
        "actor_mean.0.bias": torch.randn(hidden, generator=g),
        "actor_mean.2.weight": torch.randn(hidden, hidden, generator=g),
        "actor_mean.2.bias": torch.randn(hidden, generator=g),
        "actor_mean.4.weight": torch.randn(action_dim, hidden, generator=g),
        "actor_mean.4.bias": torch.randn(action_dim, generator=g),
    }
    tmp_path.mkdir(exist_ok=True)
    torch.save(sd, tmp_path / "checkpoint.pt")
    torch.save({"domain": task[0], "task": task[1], "hidden_dim": hidden}, tmp_path / "config.pt")
    return sd


def test_importer_matches_formula(tmp_path):
    sd = _fake_folder(tmp_path)
    policy = load_ppo_policy(tmp_path)
    s = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32) * 50  # some clipped at 10
    x = np.clip((s - sd["obs_rms.mean"].numpy()) / np.sqrt(sd["obs_rms.var"].numpy() + 1e-8), -10, 10)
    h = np.tanh(x @ sd["actor_mean.0.weight"].numpy().T + sd["actor_mean.0.bias"].numpy())
    h = np.tanh(h @ sd["actor_mean.2.weight"].numpy().T + sd["actor_mean.2.bias"].numpy())
    a = h @ sd["actor_mean.4.weight"].numpy().T + sd["actor_mean.4.bias"].numpy()
    np.testing.assert_allclose(policy.act_state(s), a, rtol=1e-5, atol=1e-5)
    # act() flattens the observation dict in sorted key order
    obs = {"velocity": s[0, 2:], "position": s[0, :2]}
    step = EnvStep(pixels=np.zeros((1, 1, 3), np.uint8), state=np.zeros(5, np.float32), observation=obs)
    np.testing.assert_allclose(policy.act(step), a[0], rtol=1e-5, atol=1e-5)


def test_importer_errors(tmp_path):
    with pytest.raises(PPOImportError, match="no such expert folder"):
        load_ppo_policy(tmp_path / "nope")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "checkpoint.pt").write_bytes(b"junk")
    (tmp_path / "a" / "config.pt").write_bytes(b"junk")
    with pytest.raises(PPOImportError, match="cannot load"):
        load_ppo_policy(tmp_path / "a")
    sd = _fake_folder(tmp_path / "b")
    del sd["actor_mean.2.bias"]
    torch.save(sd, tmp_path / "b" / "checkpoint.pt")
    with pytest.raises(PPOImportError, match="lacks keys: actor_mean.2.bias"):
        load_ppo_policy(tmp_path / "b")


class _Env:
    domain_name, task_name, state_dim = "walker", "run", 24
    action_low, action_high = -np.ones(6, np.float32), np.ones(6, np.float32)


def test_load_policy_specs(tmp_path):
    env = _Env()
    p = load_policy("random", env, seed=1)
    a = p.act(None)
    assert a.shape == (6,) and np.all(np.abs(a) <= 1)
    _fake_folder(tmp_path / "c", state_dim=5)
    with pytest.raises(LaomError, match="is for cheetah-run, but the environment is walker-run"):
        load_policy(str(tmp_path / "c"), env)
    with pytest.raises(LaomError, match="unknown policy"):
        load_policy("nonsense", env)
    (tmp_path / "empty").mkdir()
    with pytest.raises(LaomError, match="not a policy folder"):
        load_policy(str(tmp_path / "empty"), env)
