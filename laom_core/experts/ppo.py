"""Importer for the authors' released PPO experts (a folder with checkpoint.pt + config.pt).

Checkpoint format (see paper-notes, "PPO checkpoint format"): a state dict with
``obs_rms.{mean,var,count}``, ``actor_mean.{0,2,4}.{weight,bias}``, ``actor_logstd`` and
``critic.*``; ``config.pt`` is a dict with at least ``domain``, ``task``, ``hidden_dim``.
The greedy action is the actor mean on the normalised state:

    x = clip((s - mean) / sqrt(var + 1e-8), -10, 10)
    a = W3 tanh(W2 tanh(W1 x + b1) + b2) + b3

where ``s`` is the dm_control observation dict flattened in sorted key order. The policy
returns ``a`` unclipped (datasets store raw actions); environments clip to [-1, 1].
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from laom_core.envs.types import EnvStep
from laom_core.errors import LaomError

CHECKPOINT_FILE = "checkpoint.pt"
CONFIG_FILE = "config.pt"
OBS_CLIP = 10.0
OBS_EPS = 1e-8


class PPOImportError(LaomError):
    """A folder is not a released PPO expert (missing files, wrong keys or shapes)."""


def flatten_observation(observation: dict) -> np.ndarray:
    """dm_control observation dict -> float32 vector, keys in sorted order."""
    parts = [np.asarray(observation[k], dtype=np.float32).ravel() for k in sorted(observation)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def is_ppo_folder(path: str | os.PathLike) -> bool:
    path = Path(path)
    return path.is_dir() and (path / CHECKPOINT_FILE).is_file() and (path / CONFIG_FILE).is_file()


class ActorMean(nn.Module):
    """The released actor's mean network: Linear-tanh-Linear-tanh-Linear."""

    def __init__(self, state_dim: int, action_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(state_dim, hidden_dim),
            nn.Tanh(),
            nn.Linear(hidden_dim, hidden_dim),
            nn.Tanh(),
            nn.Linear(hidden_dim, action_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PPOPolicy:
    """Greedy (mean) action of a released PPO expert; implements ``Policy``."""

    def __init__(self, actor: ActorMean, obs_mean: np.ndarray, obs_var: np.ndarray, config: dict) -> None:
        self.actor = actor.eval()
        self.obs_mean = np.asarray(obs_mean, dtype=np.float32)
        self.obs_std = np.sqrt(np.asarray(obs_var, dtype=np.float32) + OBS_EPS)
        self.config = dict(config)
        self.state_dim = int(self.obs_mean.shape[0])
        self.action_dim = int(actor.net[-1].out_features)

    @property
    def task(self) -> str:
        return f"{self.config.get('domain')}-{self.config.get('task')}"

    def reset(self) -> None:
        pass

    def normalise(self, state: np.ndarray) -> np.ndarray:
        return np.clip((state - self.obs_mean) / self.obs_std, -OBS_CLIP, OBS_CLIP).astype(np.float32)

    def act_state(self, state: np.ndarray) -> np.ndarray:
        """Action for a flattened state (S,) or a batch (N, S)."""
        state = np.asarray(state, dtype=np.float32)
        if state.shape[-1] != self.state_dim:
            raise LaomError(
                f"PPO expert for {self.task} expects states of size {self.state_dim}, got {state.shape[-1]} "
                "(wrong task for this checkpoint?)"
            )
        with torch.no_grad():
            out = self.actor(torch.from_numpy(self.normalise(state)))
        return out.numpy().astype(np.float32)

    def act(self, step: EnvStep) -> np.ndarray:
        state = flatten_observation(step.observation) if step.observation else np.asarray(step.state)
        return self.act_state(state)


def load_ppo_policy(folder: str | os.PathLike) -> PPOPolicy:
    """Load a released PPO expert folder; raises PPOImportError on anything unexpected."""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise PPOImportError(f"no such expert folder: {folder}")
    for name in (CHECKPOINT_FILE, CONFIG_FILE):
        if not (folder / name).is_file():
            raise PPOImportError(f"{folder} has no {name} (a released PPO expert has checkpoint.pt and config.pt)")
    from laom_core.torch_io import describe_load_error

    loaded = []
    for name in (CHECKPOINT_FILE, CONFIG_FILE):
        try:
            loaded.append(torch.load(folder / name, weights_only=True, map_location="cpu"))
        except Exception as exc:  # pickle errors, truncated zip, forbidden globals...
            raise PPOImportError(f"cannot load {folder} as a PPO expert: {name}: "
                                 f"{describe_load_error(exc)}") from None
    state, config = loaded
    if not isinstance(state, dict) or not isinstance(config, dict):
        raise PPOImportError(f"{folder}: checkpoint.pt and config.pt must each hold a dict")
    needed = ["obs_rms.mean", "obs_rms.var"] + [f"actor_mean.{i}.{p}" for i in (0, 2, 4) for p in ("weight", "bias")]
    missing = [k for k in needed if k not in state]
    if missing:
        raise PPOImportError(f"{folder}/checkpoint.pt lacks keys: {', '.join(missing)}")
    w0, w4 = state["actor_mean.0.weight"], state["actor_mean.4.weight"]
    hidden, state_dim = int(w0.shape[0]), int(w0.shape[1])
    action_dim = int(w4.shape[0])
    if "hidden_dim" in config and int(config["hidden_dim"]) != hidden:
        raise PPOImportError(f"{folder}: config hidden_dim {config['hidden_dim']} but weights have {hidden}")
    if tuple(state["obs_rms.mean"].shape) != (state_dim,):
        raise PPOImportError(f"{folder}: obs_rms.mean has shape {tuple(state['obs_rms.mean'].shape)}, expected ({state_dim},)")
    actor = ActorMean(state_dim, action_dim, hidden)
    try:
        actor.load_state_dict({k.replace("actor_mean.", "net."): state[k].float() for k in needed[2:]})
    except RuntimeError as exc:
        raise PPOImportError(f"{folder}: actor weights do not fit Linear-tanh-Linear-tanh-Linear: {exc}") from exc
    return PPOPolicy(
        actor,
        state["obs_rms.mean"].float().numpy(),
        state["obs_rms.var"].float().numpy(),
        {k: v for k, v in config.items() if isinstance(v, (str, int, float, bool)) or v is None},
    )
