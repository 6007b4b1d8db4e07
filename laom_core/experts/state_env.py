"""A render-free dm_control environment on proprioceptive states, for expert training.

Experts act on the observation dict flattened in *sorted key order* (the released PPO
experts' convention, and ``EnvStep.state``). Training never renders, so this wrapper talks
to ``dm_control.suite`` directly instead of going through the distracting suite.
"""
from __future__ import annotations

import numpy as np

from laom_core.envs.types import EnvStep
from laom_core.errors import EnvError

_EMPTY_PIXELS = np.zeros((0, 0, 3), dtype=np.uint8)


def split_task(task: str) -> tuple[str, str]:
    """"cheetah-run" -> ("cheetah", "run"); raises EnvError for a malformed or unknown task."""
    from dm_control import suite

    if not isinstance(task, str) or "-" not in task:
        raise EnvError(f"task must look like 'domain-task' (e.g. cheetah-run), got {task!r}")
    domain, name = task.split("-", 1)
    name = name.replace("-", "_")
    if (domain, name) not in suite.ALL_TASKS:
        raise EnvError(f"unknown dm_control task {task!r}")
    return domain, name


def flatten_observation(observation: dict) -> np.ndarray:
    """The observation dict flattened in sorted key order, float32."""
    parts = [np.asarray(observation[k], dtype=np.float32).ravel() for k in sorted(observation)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


class StateEnv:
    """dm_control task with flattened-state observations; steps return :class:`EnvStep`.

    Exposes the same descriptive attributes as ``DistractingEnv`` (``action_dim``,
    ``state_dim``, ``action_low``, ``action_high``, ``domain_name``, ``task_name``) so that
    policy loaders can take either. ``pixels`` is an empty (0, 0, 3) array.
    """

    def __init__(self, task: str, seed: int = 0) -> None:
        from dm_control import suite

        self.domain_name, self.task_name = split_task(task)
        self.task = task
        self._env = suite.load(self.domain_name, self.task_name, task_kwargs={"random": seed})
        spec = self._env.action_spec()
        self.action_low = np.asarray(spec.minimum, dtype=np.float32)
        self.action_high = np.asarray(spec.maximum, dtype=np.float32)
        self.action_dim = int(spec.shape[0])
        obs_spec = self._env.observation_spec()
        self.state_dim = int(sum(int(np.prod(obs_spec[k].shape)) for k in obs_spec))
        self.difficulty = "vanilla"

    def _wrap(self, ts, first: bool) -> EnvStep:
        return EnvStep(
            pixels=_EMPTY_PIXELS,
            state=flatten_observation(ts.observation),
            observation=dict(ts.observation),
            reward=float(ts.reward or 0.0),
            first=first,
            last=bool(ts.last()),
        )

    def reset(self) -> EnvStep:
        return self._wrap(self._env.reset(), first=True)

    def step(self, action: np.ndarray) -> EnvStep:
        action = np.clip(np.asarray(action, dtype=np.float64), self.action_low, self.action_high)
        return self._wrap(self._env.step(action), first=False)

    def close(self) -> None:
        self._env.close()
