"""Soft Actor-Critic on proprioceptive states: LAOM Studio's own expert trainer.

Why SAC and not PPO: on dm_control state tasks SAC is far more sample efficient (off-policy,
one gradient update per agent step, replay). Cheetah-run reaches a good gait in a few
hundred thousand environment steps, which a CPU can do in about an hour, whereas PPO needs
millions of steps (the released PPO experts were trained with many parallel envs on a
GPU machine). SAC's cost is per update, not per environment step, so it also suits a
machine without vectorised simulation.

Conventions:
- The state is the dm_control observation dict flattened in sorted key order (the released
  experts' convention, ``EnvStep.state``); no normalisation.
- Actions: tanh-squashed Gaussian, rescaled to the action bounds; the deployed policy is
  deterministic (tanh of the mean).
- ``action_repeat`` k: the agent decides every k environment steps (rewards summed).
  It shortens the effective horizon and makes learning per update much faster on
  locomotion tasks (PlaNet/SAC-AE used 4 for cheetah); the shipped policy records the
  repeat it should be deployed with. ``steps`` counts *environment* steps.
- No terminal states in these tasks: episodes end by time limit, so targets always bootstrap.

Resuming: ``checkpoint.pt`` (networks, optimisers, temperature, counters, RNG states) and
``replay.pt`` (the filled part of the replay buffer) are written atomically together every
``checkpoint_every`` environment steps and at the end; both load with
``torch.load(weights_only=True)``. A resumed run starts a fresh episode (the interrupted
episode's partial transitions are already in the buffer).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from laom_core.errors import ConfigError, LaomError
from laom_core.experts.state_env import StateEnv, split_task
from laom_core.workspace import atomic_path, atomic_write_json

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0
CHECKPOINT = "checkpoint.pt"
REPLAY = "replay.pt"
BEST_ACTOR = "best_actor.pt"
LOG = "log.jsonl"
STATUS = "status.json"


# Action repeat per domain from the PlaNet benchmark conventions; 2 elsewhere.
DEFAULT_ACTION_REPEAT = {"cheetah": 4, "cartpole": 8, "reacher": 4, "ball_in_cup": 4, "walker": 2, "finger": 2}


def default_action_repeat(task: str) -> int:
    return DEFAULT_ACTION_REPEAT.get(task.split("-", 1)[0], 2)


@dataclass
class SACConfig:
    task: str = "cheetah-run"
    steps: int = 500_000  # environment steps
    seed: int = 0
    action_repeat: int = 4
    hidden_dim: int = 256
    # Defaults: the settings of the shipped cheetah-run expert (SAC-AE's state-SAC recipe);
    # batch 128 and delayed actor/target updates keep an update cheap on a CPU.
    batch_size: int = 128
    lr: float = 1e-3  # actor and critic
    alpha_lr: float = 1e-4  # temperature
    gamma: float = 0.99
    tau: float = 0.01
    init_alpha: float = 0.1
    actor_update_every: int = 2  # delayed actor/temperature updates
    target_update_every: int = 2
    learning_starts: int = 5_000  # environment steps of random actions before updates
    buffer_size: int = 1_000_000  # transitions (agent steps)
    eval_every: int = 20_000  # environment steps
    eval_episodes: int = 5
    checkpoint_every: int = 10_000  # environment steps

    def validate(self) -> None:
        split_task(self.task)
        for name in ("steps", "action_repeat", "hidden_dim", "batch_size", "buffer_size",
                     "eval_every", "eval_episodes", "checkpoint_every", "actor_update_every",
                     "target_update_every"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.learning_starts < 0:
            raise ConfigError("learning_starts must be >= 0")
        if not (0.0 < self.gamma < 1.0) or not (0.0 < self.tau <= 1.0) or self.lr <= 0:
            raise ConfigError("gamma must be in (0, 1), tau in (0, 1], lr > 0")


# ----------------------------------------------------------------------------- networks
class Actor(nn.Module):
    """state -> (mean, log_std) of a Gaussian squashed by tanh."""

    def __init__(self, state_dim: int, action_dim: int, hidden_dim: int = 256) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(state_dim, hidden_dim), nn.ReLU(),
            nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
            nn.Linear(hidden_dim, 2 * action_dim),
        )

    def forward(self, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.net(state).chunk(2, dim=-1)
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (torch.tanh(log_std) + 1)
        return mean, log_std

    def sample(self, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A reparameterised tanh-Gaussian sample in [-1, 1] and its log-probability."""
        mean, log_std = self(state)
        std = log_std.exp()
        noise = torch.randn_like(mean)
        pre_tanh = mean + std * noise
        action = torch.tanh(pre_tanh)
        log_prob = (-0.5 * noise.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        # log|d tanh(u)/du| = 2 (log 2 - u - softplus(-2u)), numerically stable
        log_prob = log_prob - (2 * (math.log(2) - pre_tanh - F.softplus(-2 * pre_tanh))).sum(-1)
        return action, log_prob

    @torch.no_grad()
    def greedy(self, state: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self(state)[0])


class EnsembleLinear(nn.Module):
    """``n`` independent linear layers applied with one batched matmul."""

    def __init__(self, n: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n, in_dim, out_dim))
        self.bias = nn.Parameter(torch.zeros(n, 1, out_dim))
        bound = 1 / math.sqrt(in_dim)  # nn.Linear's default scale
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (n, B, in) -> (n, B, out)
        return torch.baddbmm(self.bias, x, self.weight)


class TwinCritic(nn.Module):
    """Two Q networks (clipped double Q) evaluated together: (state, action) -> (2, B)."""

    def __init__(self, state_dim: int, action_dim: int, hidden_dim: int = 256, n: int = 2) -> None:
        super().__init__()
        self.n = n
        self.net = nn.Sequential(
            EnsembleLinear(n, state_dim + action_dim, hidden_dim), nn.ReLU(),
            EnsembleLinear(n, hidden_dim, hidden_dim), nn.ReLU(),
            EnsembleLinear(n, hidden_dim, 1),
        )

    def forward(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        x = torch.cat([state, action], dim=-1).unsqueeze(0).expand(self.n, -1, -1)
        return self.net(x).squeeze(-1)


# ----------------------------------------------------------------------------- replay
class ReplayBuffer:
    """Fixed-size ring buffer of (s, a, r, s') kept as torch tensors."""

    def __init__(self, capacity: int, state_dim: int, action_dim: int) -> None:
        self.capacity = capacity
        self.states = torch.zeros(capacity, state_dim)
        self.actions = torch.zeros(capacity, action_dim)
        self.rewards = torch.zeros(capacity)
        self.next_states = torch.zeros(capacity, state_dim)
        self.pos = 0
        self.size = 0

    def add(self, s: np.ndarray, a: np.ndarray, r: float, s2: np.ndarray) -> None:
        i = self.pos
        self.states[i] = torch.from_numpy(s)
        self.actions[i] = torch.from_numpy(a)
        self.rewards[i] = r
        self.next_states[i] = torch.from_numpy(s2)
        self.pos = (self.pos + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        idx = torch.randint(0, self.size, (batch_size,), generator=generator)
        return self.states[idx], self.actions[idx], self.rewards[idx], self.next_states[idx]

    def state_dict(self) -> dict:
        n = self.size
        return {
            "states": self.states[:n].clone(), "actions": self.actions[:n].clone(),
            "rewards": self.rewards[:n].clone(), "next_states": self.next_states[:n].clone(),
            "pos": self.pos, "size": self.size, "capacity": self.capacity,
        }

    def load_state_dict(self, d: dict) -> None:
        n = int(d["size"])
        if n > self.capacity or d["states"].shape[1] != self.states.shape[1]:
            raise LaomError("replay buffer on disk does not fit this run's configuration")
        self.states[:n] = d["states"]
        self.actions[:n] = d["actions"]
        self.rewards[:n] = d["rewards"]
        self.next_states[:n] = d["next_states"]
        self.pos, self.size = int(d["pos"]) % self.capacity, n


# ----------------------------------------------------------------------------- agent
class SACAgent:
    """Networks, optimisers and the update step (CleanRL-style, automatic temperature)."""

    def __init__(self, state_dim: int, action_dim: int, cfg: SACConfig) -> None:
        self.cfg = cfg
        self.actor = Actor(state_dim, action_dim, cfg.hidden_dim)
        self.critic = TwinCritic(state_dim, action_dim, cfg.hidden_dim)
        self.critic_target = TwinCritic(state_dim, action_dim, cfg.hidden_dim)
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.critic_target.requires_grad_(False)
        self.log_alpha = torch.tensor(math.log(cfg.init_alpha), requires_grad=True)
        self.target_entropy = -float(action_dim)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.lr)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.lr)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=cfg.alpha_lr)
        self.num_updates = 0
        self._actor_info: dict[str, float] = {}

    def update(self, batch: tuple[torch.Tensor, ...]) -> dict[str, float]:
        s, a, r, s2 = batch
        cfg = self.cfg
        alpha = self.log_alpha.exp().detach()
        with torch.no_grad():
            a2, logp2 = self.actor.sample(s2)
            q_next = self.critic_target(s2, a2).min(0).values - alpha * logp2
            target = r + cfg.gamma * q_next
        q = self.critic(s, a)
        critic_loss = F.mse_loss(q, target.unsqueeze(0).expand_as(q)) * q.shape[0]
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_opt.step()

        if self.num_updates % cfg.actor_update_every == 0:
            self.critic.requires_grad_(False)
            pi, logp = self.actor.sample(s)
            actor_loss = (alpha * logp - self.critic(s, pi).min(0).values).mean()
            self.actor_opt.zero_grad(set_to_none=True)
            actor_loss.backward()
            self.actor_opt.step()
            self.critic.requires_grad_(True)

            alpha_loss = -(self.log_alpha * (logp.detach() + self.target_entropy)).mean()
            self.alpha_opt.zero_grad(set_to_none=True)
            alpha_loss.backward()
            self.alpha_opt.step()
            self._actor_info = {"actor_loss": actor_loss.item(), "entropy": -logp.mean().item()}

        if self.num_updates % cfg.target_update_every == 0:
            with torch.no_grad():
                tp = list(self.critic_target.parameters())
                torch._foreach_lerp_(tp, list(self.critic.parameters()), cfg.tau)
        self.num_updates += 1
        return {
            "critic_loss": critic_loss.item() / q.shape[0],
            "alpha": alpha.item(),
            "q": q.mean().item(),
            **self._actor_info,
        }

    def state_dict(self) -> dict:
        return {
            "actor": self.actor.state_dict(),
            "critic": self.critic.state_dict(),
            "critic_target": self.critic_target.state_dict(),
            "log_alpha": self.log_alpha.detach().clone(),
            "actor_opt": self.actor_opt.state_dict(),
            "critic_opt": self.critic_opt.state_dict(),
            "alpha_opt": self.alpha_opt.state_dict(),
        }

    def load_state_dict(self, d: dict) -> None:
        self.actor.load_state_dict(d["actor"])
        self.critic.load_state_dict(d["critic"])
        self.critic_target.load_state_dict(d["critic_target"])
        with torch.no_grad():
            self.log_alpha.copy_(d["log_alpha"])
        self.actor_opt.load_state_dict(d["actor_opt"])
        self.critic_opt.load_state_dict(d["critic_opt"])
        self.alpha_opt.load_state_dict(d["alpha_opt"])


# ----------------------------------------------------------------------------- rollouts
def _scale(action: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """[-1, 1] -> [low, high]."""
    return (low + (action + 1.0) * 0.5 * (high - low)).astype(np.float32)


def run_episode(env: StateEnv, act: Callable[[np.ndarray], np.ndarray], action_repeat: int) -> float:
    """One full episode with ``act(state) -> action in [-1, 1]`` held for ``action_repeat`` steps."""
    step = env.reset()
    total = 0.0
    action = None
    t = 0
    while not step.last:
        if t % action_repeat == 0:
            action = _scale(act(step.state), env.action_low, env.action_high)
        step = env.step(action)
        total += step.reward
        t += 1
    return total


def evaluate_actor(actor: Actor, task: str, episodes: int, action_repeat: int, seed: int) -> list[float]:
    """Deterministic returns of ``actor`` (tanh of the mean) on fresh episodes."""
    env = StateEnv(task, seed=seed)

    def act(state: np.ndarray) -> np.ndarray:
        return actor.greedy(torch.from_numpy(state).unsqueeze(0))[0].numpy()

    try:
        return [run_episode(env, act, action_repeat) for _ in range(episodes)]
    finally:
        env.close()


# ----------------------------------------------------------------------------- training
def _save_checkpoint(out: Path, agent: SACAgent, replay: ReplayBuffer, counters: dict,
                     cfg: SACConfig, gen: torch.Generator, np_rng: np.random.Generator) -> None:
    # Replay first: a checkpoint always finds a replay at least as new as itself.
    with atomic_path(out / REPLAY) as tmp:
        torch.save(replay.state_dict(), tmp)
    payload = {
        "agent": agent.state_dict(),
        "counters": dict(counters),
        "config": dataclasses.asdict(cfg),
        "torch_rng": gen.get_state(),
        "np_rng": json.dumps(np_rng.bit_generator.state),
        "replay_size": replay.size,
    }
    with atomic_path(out / CHECKPOINT) as tmp:
        torch.save(payload, tmp)


def _log(out: Path, record: dict) -> None:
    with open(out / LOG, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def load_checkpoint(out: Path) -> dict:
    path = Path(out) / CHECKPOINT
    if not path.is_file():
        raise LaomError(f"no SAC checkpoint at {path}")
    from laom_core.torch_io import load_weights

    return load_weights(path, what="SAC checkpoint")


def train_sac(cfg: SACConfig, out: str | os.PathLike, resume: bool = False,
              progress: bool = True) -> dict:
    """Train (or resume) a SAC expert into ``out``; returns the final status dict."""
    from tqdm import tqdm

    cfg.validate()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if (out / CHECKPOINT).exists() and not resume:
        raise LaomError(f"{out} already holds a SAC run; pass --resume to continue it or choose another --out")

    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    np_rng = np.random.default_rng(cfg.seed)
    env = StateEnv(cfg.task, seed=cfg.seed)
    agent = SACAgent(env.state_dim, env.action_dim, cfg)
    replay = ReplayBuffer(min(cfg.buffer_size, cfg.steps // cfg.action_repeat + 1), env.state_dim, env.action_dim)
    counters = {"env_steps": 0, "updates": 0, "episodes": 0, "train_seconds": 0.0,
                "best_eval": None, "last_eval": None, "last_eval_step": 0}

    if resume and (out / CHECKPOINT).exists():
        ckpt = load_checkpoint(out)
        saved_task = ckpt["config"]["task"]
        if saved_task != cfg.task:
            raise LaomError(f"{out} holds a run for {saved_task}, not {cfg.task}")
        steps = cfg.steps
        cfg = SACConfig(**{**ckpt["config"], "steps": steps})  # the run's own settings
        agent = SACAgent(env.state_dim, env.action_dim, cfg)
        agent.load_state_dict(ckpt["agent"])
        agent.num_updates = int(ckpt["counters"]["updates"])
        replay = ReplayBuffer(max(int(ckpt["replay_size"]), min(cfg.buffer_size, cfg.steps // cfg.action_repeat + 1)),
                              env.state_dim, env.action_dim)
        if not (out / REPLAY).is_file():
            raise LaomError(f"{out / REPLAY} is missing; cannot resume without the replay buffer")
        from laom_core.torch_io import load_weights

        replay.load_state_dict(load_weights(out / REPLAY, what="SAC replay buffer"))
        counters.update(ckpt["counters"])
        gen.set_state(ckpt["torch_rng"])
        np_rng.bit_generator.state = json.loads(ckpt["np_rng"])
        torch.manual_seed(cfg.seed + counters["updates"])
        env.close()
        env = StateEnv(cfg.task, seed=cfg.seed + 1000 * (counters["episodes"] + 1))
    atomic_write_json(out / "config.json", dataclasses.asdict(cfg))

    bar = tqdm(total=cfg.steps, initial=min(counters["env_steps"], cfg.steps), unit="step",
               desc=f"SAC {cfg.task}", disable=not progress, dynamic_ncols=True, smoothing=0.05)
    t_start = time.time() - counters["train_seconds"]
    step = env.reset()
    ep_return, losses = 0.0, {}
    next_ckpt = (counters["env_steps"] // cfg.checkpoint_every + 1) * cfg.checkpoint_every
    next_eval = (counters["env_steps"] // cfg.eval_every + 1) * cfg.eval_every

    def write_status(state: str) -> dict:
        status = {"task": cfg.task, "state": state, **counters, "target_steps": cfg.steps,
                  "losses": losses, "steps_per_s": counters["env_steps"] / max(counters["train_seconds"], 1e-9)}
        atomic_write_json(out / STATUS, status)
        return status

    try:
        while counters["env_steps"] < cfg.steps:
            state = step.state
            if counters["env_steps"] < cfg.learning_starts:
                action01 = np_rng.uniform(-1.0, 1.0, env.action_dim).astype(np.float32)
            else:
                with torch.no_grad():
                    action01 = agent.actor.sample(torch.from_numpy(state).unsqueeze(0))[0][0].numpy()
            action = _scale(action01, env.action_low, env.action_high)
            reward, taken = 0.0, 0
            for _ in range(cfg.action_repeat):
                step = env.step(action)
                reward += step.reward
                taken += 1
                if step.last:
                    break
            replay.add(state, action01, reward, step.state)
            ep_return += reward
            counters["env_steps"] += taken
            bar.update(taken)
            if step.last:
                counters["episodes"] += 1
                _log(out, {"kind": "train_episode", "env_step": counters["env_steps"], "return": ep_return,
                           "time": time.time() - t_start})
                last = counters["last_eval"]
                bar.set_postfix(ret=f"{ep_return:.0f}", eval="-" if last is None else f"{last:.0f}")
                env.close()
                env = StateEnv(cfg.task, seed=cfg.seed + 1000 * (counters["episodes"] + 1))
                step = env.reset()
                ep_return = 0.0

            if counters["env_steps"] >= cfg.learning_starts and replay.size >= cfg.batch_size:
                losses = agent.update(replay.sample(cfg.batch_size, gen))
                counters["updates"] += 1
                if not all(math.isfinite(v) for v in losses.values()):
                    raise LaomError(f"SAC diverged at step {counters['env_steps']}: {losses}")

            counters["train_seconds"] = time.time() - t_start
            if counters["env_steps"] >= next_eval or counters["env_steps"] >= cfg.steps:
                next_eval += cfg.eval_every
                returns = evaluate_actor(agent.actor, cfg.task, cfg.eval_episodes, cfg.action_repeat,
                                         seed=10_000 + counters["env_steps"])
                mean = float(np.mean(returns))
                # Also at every step (action repeat 1): tells whether the policy can be
                # deployed without holding actions.
                returns_ar1 = evaluate_actor(agent.actor, cfg.task, cfg.eval_episodes, 1,
                                             seed=20_000 + counters["env_steps"]) if cfg.action_repeat > 1 else returns
                counters["last_eval"], counters["last_eval_step"] = mean, counters["env_steps"]
                record = {"kind": "eval", "env_step": counters["env_steps"], "updates": counters["updates"],
                          "return_mean": mean, "return_std": float(np.std(returns)),
                          "return_mean_ar1": float(np.mean(returns_ar1)),
                          "time": counters["train_seconds"], **losses}
                _log(out, record)
                bar.write(json.dumps(record))
                if counters["best_eval"] is None or mean > counters["best_eval"]:
                    counters["best_eval"] = mean
                    with atomic_path(out / BEST_ACTOR) as tmp:
                        torch.save({"actor": agent.actor.state_dict(), "env_step": counters["env_steps"],
                                    "return_mean": mean}, tmp)
            if counters["env_steps"] >= next_ckpt or counters["env_steps"] >= cfg.steps:
                next_ckpt += cfg.checkpoint_every
                _save_checkpoint(out, agent, replay, counters, cfg, gen, np_rng)
                write_status("running")
    finally:
        bar.close()
        env.close()
    return write_status("finished")
