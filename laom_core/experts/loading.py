"""Turn a policy spec from the CLI or a page into a :class:`Policy` for an environment.

Specs:
- "random": uniform actions within the env's bounds (seeded);
- "expert": the project's shipped expert for the env's task
  (``laom_core.experts.shipped.load_shipped_expert(task)``);
- a folder with ``checkpoint.pt`` + ``config.pt``: a released PPO expert (``experts.ppo``).
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from laom_core.errors import LaomError
from laom_core.experts.base import Policy, RandomPolicy


def _env_task(env: Any) -> str:
    return f"{env.domain_name}-{env.task_name}".replace("_", "-")


def describe_policy_spec(spec: str) -> str:
    """A short label for a spec (stored with datasets and shown in pages)."""
    if spec in ("random", "expert"):
        return spec
    return f"ppo:{Path(spec).name}"


def load_policy(spec: str, env: Any, seed: int = 0) -> Policy:
    """Resolve ``spec`` against ``env`` (which gives the task, bounds and state size)."""
    if spec is None or str(spec).strip() == "":
        raise LaomError("empty policy spec; use 'random', 'expert' or a folder with checkpoint.pt + config.pt")
    spec = str(spec)
    task = _env_task(env)
    if spec == "random":
        return RandomPolicy(env.action_low, env.action_high, seed=seed)
    if spec == "expert":
        try:
            shipped = importlib.import_module("laom_core.experts.shipped")
            loader = getattr(shipped, "load_shipped_expert")
        except (ImportError, AttributeError) as exc:
            raise LaomError(
                "no shipped experts in this installation yet; use --policy random or a released "
                "PPO folder (checkpoint.pt + config.pt)"
            ) from exc
        policy = loader(task)
        if policy is None:
            raise LaomError(f"no shipped expert for task {task}")
        return policy
    from laom_core.experts.ppo import is_ppo_folder, load_ppo_policy  # imports torch: only when needed

    path = Path(spec).expanduser()
    if not path.exists():
        raise LaomError(f"unknown policy {spec!r}: not 'random' or 'expert', and no such folder")
    if not is_ppo_folder(path):
        raise LaomError(f"{path.resolve()} is not a policy folder (expected checkpoint.pt and config.pt inside)")
    policy = load_ppo_policy(path)
    expert_task = policy.task.replace("_", "-")
    if expert_task != task:
        raise LaomError(f"the expert in {path.resolve()} is for {expert_task}, but the environment is {task}")
    if policy.state_dim != int(env.state_dim):
        raise LaomError(f"the expert expects {policy.state_dim} state values, the environment gives {env.state_dim}")
    return policy
