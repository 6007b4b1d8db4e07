"""SAC expert trainer: a tiny run trains, checkpoints load safely, resume continues."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from laom_core.cli import main
from laom_core.errors import LaomError
from laom_core.experts.sac import (CHECKPOINT, REPLAY, Actor, ReplayBuffer, SACAgent, SACConfig,
                                   load_checkpoint, train_sac)
from laom_core.experts.sac_policy import export_actor, load_sac_expert, run_policy_episode
from laom_core.experts.state_env import StateEnv, flatten_observation


def tiny(task="cheetah-run", steps=400, **kw):
    return SACConfig(task=task, steps=steps, seed=0, action_repeat=2, hidden_dim=32, batch_size=32,
                     learning_starts=100, eval_every=200, eval_episodes=1, checkpoint_every=100, **kw)


def test_state_env_flattens_sorted_keys():
    env = StateEnv("walker-walk", seed=0)
    step = env.reset()
    obs = step.observation
    assert list(obs) != sorted(obs)  # dm_control order is not alphabetical: the sort matters
    expected = np.concatenate([np.ravel(obs[k]) for k in sorted(obs)])
    np.testing.assert_allclose(step.state, expected)
    assert step.state.shape == (env.state_dim,) == (24,)
    env.close()


def test_actor_log_prob_matches_change_of_variables():
    torch.manual_seed(0)
    actor = Actor(5, 2, 16)
    s = torch.randn(4000, 5)
    torch.manual_seed(1)
    a, logp = actor.sample(s)
    assert a.abs().max() < 1
    mean, log_std = actor(s)
    u = torch.atanh(a.clamp(-1 + 1e-6, 1 - 1e-6))
    base = torch.distributions.Normal(mean, log_std.exp()).log_prob(u).sum(-1)
    ref = base - torch.log(1 - a.pow(2) + 1e-12).sum(-1)
    ok = a.abs().max(-1).values < 0.999  # away from the saturated ends the formulas agree
    assert torch.allclose(logp[ok], ref[ok], atol=1e-3)


def test_critic_learns_a_fixed_target():
    cfg = SACConfig(hidden_dim=32, batch_size=64, lr=1e-3)
    agent = SACAgent(3, 1, cfg)
    buf = ReplayBuffer(500, 3, 1)
    rng = np.random.default_rng(0)
    for _ in range(500):
        s = rng.normal(size=3).astype(np.float32)
        buf.add(s, rng.uniform(-1, 1, 1).astype(np.float32), 1.0, s)
    gen = torch.Generator().manual_seed(0)
    first = agent.update(buf.sample(64, gen))["critic_loss"]
    for _ in range(150):
        last = agent.update(buf.sample(64, gen))
    assert all(math.isfinite(v) for v in last.values())
    assert last["critic_loss"] < first
    assert last["q"] > 1.0  # rewards of 1 with bootstrapping: values grow above one step's reward


def test_tiny_run_checkpoints_and_resumes(tmp_path):
    out = tmp_path / "run"
    status = train_sac(tiny(steps=400), out, progress=False)
    assert status["env_steps"] == 400
    assert status["updates"] == (400 - 100) // 2 + 1  # one update per agent step from step 100 on
    assert all(math.isfinite(v) for v in status["losses"].values())
    ckpt = torch.load(out / CHECKPOINT, weights_only=True)
    assert ckpt["counters"]["env_steps"] == 400
    replay = torch.load(out / REPLAY, weights_only=True)
    assert replay["size"] == ckpt["replay_size"] == 200
    assert np.isfinite(replay["rewards"].numpy()).all()
    evals = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["env_step"] for r in evals if r["kind"] == "eval"] == [200, 400]

    with pytest.raises(LaomError, match="--resume"):
        train_sac(tiny(steps=400), out, progress=False)
    status = train_sac(tiny(steps=600), out, resume=True, progress=False)
    assert status["env_steps"] == 600 and status["updates"] == 251
    ckpt2 = load_checkpoint(out)
    assert ckpt2["replay_size"] == 300
    # the resumed run kept training the same networks (weights moved on from the first part)
    w1, w2 = ckpt["agent"]["actor"]["net.0.weight"], ckpt2["agent"]["actor"]["net.0.weight"]
    assert w1.shape == w2.shape and not torch.equal(w1, w2)


def test_resume_refuses_other_task(tmp_path):
    out = tmp_path / "run"
    train_sac(tiny(steps=200), out, progress=False)
    with pytest.raises(LaomError, match="cheetah-run"):
        train_sac(tiny(task="walker-walk", steps=300), out, resume=True, progress=False)


def test_export_gives_a_small_deterministic_policy(tmp_path):
    out = tmp_path / "run"
    train_sac(tiny(steps=200), out, progress=False)
    meta = export_actor(out, tmp_path / "exp", episodes=1)
    assert meta["state_dim"] == 17 and meta["action_dim"] == 6 and meta["action_repeat"] == 2
    assert (tmp_path / "exp" / "actor.pt").stat().st_size < 1_000_000
    policy = load_sac_expert(tmp_path / "exp")
    env = StateEnv("cheetah-run", seed=3)
    step = env.reset()
    policy.reset()
    a1 = policy.act(step)
    a2 = policy.act(step)  # held by action repeat 2
    assert a1.shape == (6,) and a1.dtype == np.float32 and np.all(np.abs(a1) <= 1)
    np.testing.assert_array_equal(a1, a2)
    policy.reset()
    np.testing.assert_array_equal(policy.act(step), a1)  # deterministic
    # flattening the raw dict gives the same action when state is absent
    step.state = None
    policy.reset()
    np.testing.assert_array_equal(policy.act(step), a1)
    assert np.isfinite(run_policy_episode(env, policy, max_steps=50))
    env.close()


def test_cli_train_eval_and_errors(tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["expert", "train", "--task", "cheetah-run", "--steps", "200", "--out", str(out),
                 "--learning-starts", "100", "--batch-size", "32", "--hidden-dim", "32",
                 "--eval-every", "200", "--eval-episodes", "1", "--checkpoint-every", "100", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["env_steps"] == 200
    assert main(["expert", "eval", "--task", "cheetah-run", "--policy", str(out), "--episodes", "1"]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["task"] == "cheetah-run" and math.isfinite(last["return_mean"]) and last["return_std"] == 0
    assert main(["expert", "eval", "--task", "walker-walk", "--policy", str(out), "--episodes", "1"]) == 2
    assert "cheetah-run" in capsys.readouterr().err
    assert main(["expert", "train", "--task", "cheetah-sprint", "--steps", "10", "--out", str(tmp_path / "x")]) == 2
    assert main(["expert", "eval", "--task", "cheetah-run", "--policy", str(tmp_path / "nope")]) == 2
    assert "no such" in capsys.readouterr().err
    assert main(["expert", "train", "--task", "cheetah-run", "--steps", "0", "--out", str(tmp_path / "y")]) == 2
