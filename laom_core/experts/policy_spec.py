"""Turn what a user names (nothing, "expert", a folder) into an expert :class:`Policy`.

Accepted specs:
- None, "expert", "shipped": the shipped expert for the environment's task;
- an exported expert folder (``actor.pt`` + ``expert.json``);
- a SAC training run folder (``checkpoint.pt`` + ``config.json`` from ``expert train``);
- a released PPO folder (``checkpoint.pt`` + ``config.pt``), through
  :func:`laom_core.experts.loading.load_policy`.
"""
from __future__ import annotations

from pathlib import Path

from laom_core.errors import LaomError
from laom_core.experts.sac_policy import load_sac_expert, load_sac_run
from laom_core.experts.shipped import load_shipped_expert
from laom_core.workspace import resolve_user_path


def load_expert_policy(spec: str | None, env, action_repeat: int | None = None):
    """A Policy for ``env`` (anything with domain_name/task_name/action_dim, e.g. StateEnv)."""
    task = f"{env.domain_name}-{env.task_name}".replace("_", "-")
    if spec is None or str(spec).lower() in ("expert", "shipped"):
        return load_shipped_expert(task, action_repeat=action_repeat)
    folder = resolve_user_path(spec, must_exist=True, kind="any")
    if folder.is_file():
        folder = folder.parent
    if (folder / "expert.json").is_file():
        policy = load_sac_expert(folder, action_repeat=action_repeat)
    elif (folder / "checkpoint.pt").is_file() and (folder / "config.json").is_file():
        policy = load_sac_run(folder, action_repeat=action_repeat)
    elif (folder / "checkpoint.pt").is_file() and (folder / "config.pt").is_file():
        try:
            from laom_core.experts.loading import load_policy
        except ImportError as exc:
            raise LaomError("released PPO checkpoints need laom_core.experts.loading, "
                            "which is not installed in this checkout") from exc
        return load_policy(str(folder), env)
    else:
        raise LaomError(f"{folder} is not an expert: expected actor.pt + expert.json, "
                        "a SAC run (checkpoint.pt + config.json) or a PPO folder (checkpoint.pt + config.pt)")
    if policy.task and policy.task != task:
        raise LaomError(f"{folder} is an expert for {policy.task}, not {task}")
    return policy
