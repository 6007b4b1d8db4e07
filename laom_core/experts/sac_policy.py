"""A trained SAC actor as a :class:`~laom_core.experts.base.Policy`, and its export format.

An exported expert is a folder with two small files:
- ``actor.pt``: the actor's float32 state dict (``torch.load(weights_only=True)``);
- ``expert.json``: what is needed to run it and what it achieved (task, observation keys
  and dims, normalisation, action bounds, action repeat, training steps and time, return).
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch

from laom_core.envs.types import EnvStep
from laom_core.errors import LaomError
from laom_core.experts.sac import Actor, BEST_ACTOR, load_checkpoint
from laom_core.experts.state_env import flatten_observation, StateEnv
from laom_core.torch_io import load_weights
from laom_core.workspace import atomic_path, atomic_write_json

FORMAT = "laom-studio-sac-actor"
ACTOR_FILE = "actor.pt"
META_FILE = "expert.json"


class SACPolicy:
    """Deterministic SAC actor: tanh of the Gaussian mean, rescaled to the action bounds.

    Reads ``step.state`` (flattened proprioceptive observation); when that does not have
    the expected size it flattens ``step.observation`` itself. With ``action_repeat`` k the
    action chosen at an episode's step t is held for steps t..t+k-1, as in training.
    """

    def __init__(self, actor_state: dict, meta: dict, action_repeat: int | None = None) -> None:
        self.meta = dict(meta)
        self.task = meta.get("task")
        self.state_dim = int(meta["state_dim"])
        self.action_dim = int(meta["action_dim"])
        self.actor = Actor(self.state_dim, self.action_dim, int(meta.get("hidden_dim", 256)))
        try:
            self.actor.load_state_dict(actor_state)
        except (RuntimeError, KeyError) as exc:
            raise LaomError(f"actor weights do not match expert.json: {exc}") from exc
        self.actor.eval()
        self.low = np.asarray(meta.get("action_low", [-1.0] * self.action_dim), dtype=np.float32)
        self.high = np.asarray(meta.get("action_high", [1.0] * self.action_dim), dtype=np.float32)
        self.action_repeat = int(action_repeat or meta.get("action_repeat", 1))
        if self.action_repeat < 1:
            raise LaomError("action_repeat must be >= 1")
        self._t = 0
        self._held: np.ndarray | None = None

    def reset(self) -> None:
        self._t = 0
        self._held = None

    def _state(self, step: EnvStep) -> np.ndarray:
        state = getattr(step, "state", None)
        if state is not None and np.asarray(state).size == self.state_dim:
            return np.asarray(state, dtype=np.float32).ravel()
        if step.observation:
            state = flatten_observation(step.observation)
            if state.size == self.state_dim:
                return state
        raise LaomError(f"this expert expects a state of size {self.state_dim} ({self.task}); "
                        "the environment gives a different one")

    def act(self, step: EnvStep) -> np.ndarray:
        if self._held is None or self._t % self.action_repeat == 0:
            x = torch.from_numpy(self._state(step)).unsqueeze(0)
            a = self.actor.greedy(x)[0].numpy()
            self._held = (self.low + (a + 1.0) * 0.5 * (self.high - self.low)).astype(np.float32)
        self._t += 1
        return self._held.copy()


def _read_json(path: Path) -> dict:
    import json

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LaomError(f"cannot read {path}: {exc}") from exc


def load_sac_expert(folder: str | os.PathLike, action_repeat: int | None = None) -> SACPolicy:
    """Load an exported expert folder (actor.pt + expert.json)."""
    folder = Path(folder)
    meta_path, actor_path = folder / META_FILE, folder / ACTOR_FILE
    if not meta_path.is_file() or not actor_path.is_file():
        raise LaomError(f"{folder} is not an exported expert (needs {ACTOR_FILE} and {META_FILE})")
    meta = _read_json(meta_path)
    if meta.get("format") != FORMAT:
        raise LaomError(f"{meta_path} is not a LAOM Studio SAC expert (format {meta.get('format')!r})")

    state = load_weights(actor_path, what="actor weights")
    return SACPolicy(state, meta, action_repeat=action_repeat)


def load_sac_run(run: str | os.PathLike, which: str = "final", action_repeat: int | None = None) -> SACPolicy:
    """The actor of a SAC training run folder (``checkpoint.pt`` or ``best_actor.pt``)."""
    run = Path(run)
    ckpt = load_checkpoint(run)
    cfg = ckpt["config"]
    actor = ckpt["agent"]["actor"]
    weights_step = int(ckpt["counters"]["env_steps"])
    if which == "best":
        path = run / BEST_ACTOR
        if not path.is_file():
            raise LaomError(f"{run} has no {BEST_ACTOR} yet (no evaluation has run)")

        best = load_weights(path, what="best actor weights")
        actor, weights_step = best["actor"], int(best["env_step"])
    env = StateEnv(cfg["task"])
    try:
        meta = _meta_for(env, cfg, ckpt["counters"])
        meta["training"]["weights_env_step"] = weights_step
    finally:
        env.close()
    return SACPolicy(actor, meta, action_repeat=action_repeat)


def _meta_for(env, cfg: dict, counters: dict) -> dict:
    spec = env._env.observation_spec()
    return {
        "format": FORMAT,
        "version": 1,
        "algorithm": "SAC",
        "task": cfg["task"],
        "domain_name": env.domain_name,
        "task_name": env.task_name,
        "obs_keys": sorted(spec),
        "state_dim": env.state_dim,
        "action_dim": env.action_dim,
        "hidden_dim": cfg["hidden_dim"],
        "normalisation": "none (raw flattened dm_control observation, sorted keys)",
        "action_low": env.action_low.tolist(),
        "action_high": env.action_high.tolist(),
        "action_repeat": cfg["action_repeat"],
        "training": {
            "seed": cfg["seed"],
            "env_steps": int(counters["env_steps"]),
            "updates": int(counters["updates"]),
            "train_seconds": float(counters["train_seconds"]),
            "batch_size": cfg["batch_size"],
            "lr": cfg["lr"],
        },
    }


def export_actor(run: str | os.PathLike, out: str | os.PathLike, which: str = "final",
                 episodes: int = 10, action_repeat: int | None = None, seed: int = 12345) -> dict:
    """Write ``actor.pt`` + ``expert.json`` for a SAC run, with its measured return."""
    policy = load_sac_run(run, which=which, action_repeat=action_repeat)
    env = StateEnv(policy.task, seed=seed)
    try:
        returns = [run_policy_episode(env, policy) for _ in range(episodes)]
    finally:
        env.close()
    meta = dict(policy.meta)
    meta["action_repeat"] = policy.action_repeat
    meta["weights"] = which
    meta["eval"] = {"episodes": episodes, "return_mean": float(np.mean(returns)),
                    "return_std": float(np.std(returns)), "seed": seed,
                    "env": "dm_control suite, no distractors, deterministic policy"}
    out = Path(out)
    state = {k: v.detach().to(torch.float32).clone() for k, v in policy.actor.state_dict().items()}
    with atomic_path(out / ACTOR_FILE) as tmp:
        torch.save(state, tmp)
    atomic_write_json(out / META_FILE, meta)
    return meta


def run_policy_episode(env, policy, max_steps: int | None = None) -> float:
    """Total reward of one episode of ``policy`` in ``env`` (any env returning EnvStep)."""
    policy.reset()
    step = env.reset()
    total, t = 0.0, 0
    while not step.last and (max_steps is None or t < max_steps):
        step = env.step(policy.act(step))
        total += float(step.reward)
        t += 1
    if not math.isfinite(total):
        raise LaomError("episode return is not finite")
    return total
