"""The shipped expert weights: they load, act deterministically and beat a random policy."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from laom_core.cli import main
from laom_core.errors import LaomError
from laom_core.experts import shipped
from laom_core.experts.base import RandomPolicy
from laom_core.experts.sac_policy import run_policy_episode
from laom_core.experts.state_env import StateEnv

needs_cheetah = pytest.mark.skipif("cheetah-run" not in shipped.shipped_tasks(),
                                   reason="assets/experts/cheetah-run is missing")


@needs_cheetah
def test_assets_are_small_and_safe_to_load():
    folder = shipped.ASSETS_DIR / "cheetah-run"
    assert (folder / "actor.pt").stat().st_size < 1_000_000
    state = torch.load(folder / "actor.pt", weights_only=True)
    assert all(v.dtype == torch.float32 for v in state.values())
    info = shipped.shipped_expert_info("cheetah-run")
    assert info["task"] == "cheetah-run" and info["state_dim"] == 17 and info["action_dim"] == 6
    assert info["eval"]["return_mean"] >= 600  # the target, measured at export time
    assert info["training"]["env_steps"] > 0 and info["training"]["train_seconds"] > 0


@needs_cheetah
def test_shipped_expert_beats_random_by_a_wide_margin():
    steps = 300
    expert = shipped.load_shipped_expert("cheetah-run")
    env = StateEnv("cheetah-run", seed=7)
    expert_return = run_policy_episode(env, expert, max_steps=steps)
    random_return = run_policy_episode(env, RandomPolicy(env.action_low, env.action_high, seed=7), max_steps=steps)
    env.close()
    # a running cheetah earns up to 1 per step once at speed (after a start-up); random about 0.003
    assert expert_return > 0.2 * steps
    assert expert_return > 10 * max(random_return, 1.0)


@needs_cheetah
def test_shipped_expert_is_deterministic_and_resets():
    expert = shipped.load_shipped_expert("cheetah-run")
    env = StateEnv("cheetah-run", seed=1)
    step = env.reset()
    expert.reset()
    a = expert.act(step)
    assert a.shape == (6,) and a.dtype == np.float32 and np.all(np.abs(a) <= 1)
    expert.reset()
    np.testing.assert_array_equal(expert.act(step), a)
    env.close()


@needs_cheetah
def test_collection_spec_expert_resolves_to_the_shipped_expert():
    from laom_core.experts.loading import load_policy

    env = StateEnv("cheetah-run", seed=0)
    policy = load_policy("expert", env)
    step = env.reset()
    policy.reset()
    ref = shipped.load_shipped_expert("cheetah-run")
    ref.reset()
    np.testing.assert_array_equal(policy.act(step), ref.act(step))
    env.close()


def test_task_without_weights_is_a_clear_error(capsys):
    with pytest.raises(LaomError, match="no shipped expert for task 'cartpole-swingup'"):
        shipped.load_shipped_expert("cartpole-swingup")
    assert main(["expert", "eval", "--task", "cartpole-swingup", "--episodes", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no shipped expert") and "Traceback" not in err


@needs_cheetah
def test_eval_cli_prints_json_last(capsys):
    assert main(["expert", "eval", "--task", "cheetah-run", "--episodes", "1"]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(last) >= {"task", "return_mean", "return_std"} and last["task"] == "cheetah-run"
    assert last["return_mean"] > 300
