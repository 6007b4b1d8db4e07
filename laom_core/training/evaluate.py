"""Evaluation: roll the learned policy out on the eval clips, save returns and videos.

:class:`LearnedPolicy` implements :class:`laom_core.experts.base.Policy`: it keeps the
last ``frame_stack`` frames (the first frame repeated at the start of an episode, like
the sampler), runs the BC policy, and the action decoder for latent methods.
The environment comes from the eval data file's attrs (domain, task, difficulty,
dynamic, img_hw) with ``split="eval"``, i.e. videos never seen in training.
"""
from __future__ import annotations

import json
import os
import sys
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from laom_core import rundir
from laom_core.data.hdf5 import open_dataset
from laom_core.envs import make_env
from laom_core.envs.types import EnvStep
from laom_core.errors import DatasetError, EnvError
from laom_core.metrics import has_distractors, is_reference_bc, Normalizer, return_normalizer
from laom_core.training.common import autocast, frames, RunContext
from laom_core.viz.video import write_videos
from laom_core.workspace import atomic_write_json



class LearnedPolicy:
    """BC policy (+ decoder) as a Policy over EnvSteps."""

    def __init__(self, policy: nn.Module, decoder: nn.Module | None, frame_stack: int, device: torch.device,
                 bf16: bool | None = None, channels_last: bool | None = None) -> None:
        self.policy, self.decoder = policy.eval(), (decoder.eval() if decoder is not None else None)
        self.frame_stack, self.device, self.bf16, self.channels_last = frame_stack, device, bf16, channels_last
        self.frames: deque[np.ndarray] = deque(maxlen=frame_stack)

    def reset(self) -> None:
        self.frames.clear()

    @torch.no_grad()
    def act(self, step: EnvStep) -> np.ndarray:
        frame = np.ascontiguousarray(step.pixels.transpose(2, 0, 1))  # (3, H, W)
        if not self.frames:
            self.frames.extend([frame] * self.frame_stack)
        else:
            self.frames.append(frame)
        obs = torch.from_numpy(np.concatenate(list(self.frames), axis=0)[None])
        with autocast(self.device, self.bf16):
            out = self.policy(frames(obs, self.device, self.channels_last))
            if self.decoder is not None:
                out = self.decoder(out.float())
        return out.float().cpu().numpy()[0].astype(np.float32)


def eval_env_spec(path: Path) -> dict[str, Any]:
    """make_env arguments from an eval data file's attrs."""
    with open_dataset(path) as ds:
        attrs = ds.attrs
        img_hw = ds.img_hw
        action_dim = ds.action_dim
    if "domain_name" not in attrs or "task_name" not in attrs:
        raise DatasetError(f"{path}: eval data lacks domain_name/task_name attrs; cannot build its environment")
    return {
        "task": f"{attrs['domain_name']}-{attrs['task_name']}",
        "difficulty": str(attrs.get("difficulty", "vanilla")),
        "dynamic": bool(attrs["dynamic"]) if "dynamic" in attrs else None,
        "img_size": int(img_hw),
        "action_dim": int(action_dim),
        # files we collected record how they were rendered; released files do not (default render)
        "fast_render": bool(attrs.get("collect_fast_render", False)),
        # and the environment options on top of the difficulty (D1: camera_scale=0, ...)
        "options": _env_options(path, attrs.get("collect_env_options")),
    }


def _env_options(path: Path, text: Any) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        options = json.loads(text if isinstance(text, str) else bytes(text).decode())
    except (ValueError, TypeError) as exc:
        raise DatasetError(f"{path}: attr collect_env_options is not JSON: {exc}") from exc
    if not isinstance(options, dict):
        raise DatasetError(f"{path}: attr collect_env_options must be a JSON object")
    return options


def evaluate(ctx: RunContext, policy: LearnedPolicy, episodes: int, seed: int) -> dict[str, Any]:
    """Roll out ``episodes`` episodes; writes artifacts/rollouts/{episodes.json, *.mp4, *.webm}."""
    spec = eval_env_spec(ctx.eval_path)
    if spec["action_dim"] != ctx.info["action_dim"]:
        raise DatasetError(f"eval data {ctx.eval_path} has action dim {spec['action_dim']}, training data "
                           f"{ctx.info['action_dim']}")
    run = ctx.config.run
    out_dir = rundir.RunDir(ctx.run_dir).rollouts
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        env = make_env(task=spec["task"], difficulty=spec["difficulty"], split="eval", seed=seed,
                       img_size=spec["img_size"], dynamic=spec["dynamic"], max_steps=run.eval_max_steps,
                       fast_render=spec["fast_render"], **spec["options"])
    except EnvError as exc:
        raise EnvError(f"cannot build the eval environment from {ctx.eval_path}: {exc}") from exc
    records = []
    try:
        from tqdm import tqdm

        for ep in tqdm(range(episodes), desc="eval", file=sys.stderr, disable=not ctx.progress):
            step = env.reset()
            policy.reset()
            rewards, actions, video = [], [], [step.pixels]
            distractor_clip = step.distractor.get("clip_id", -1) if step.distractor else -1
            while not step.last:
                action = policy.act(step)
                step = env.step(action)
                rewards.append(float(step.reward))
                actions.append([float(a) for a in action])
                if ep < run.eval_videos:
                    video.append(step.pixels)
            record = {"episode": ep, "return": float(np.sum(rewards)), "length": len(rewards),
                      "rewards": rewards, "actions": actions, "clip_id": int(distractor_clip),
                      "video_mp4": None, "video_webm": None}
            if ep < run.eval_videos:
                clip = np.stack(video).astype(np.uint8)
                paths = write_videos(clip, out_dir / f"episode_{ep:03d}", fps=30)
                record["video_mp4"], record["video_webm"] = paths["mp4"].name, paths["webm"].name
            records.append(record)
            ctx.metrics.log("eval", ep, {"episode_return": record["return"]})
    finally:
        env.close()
    atomic_write_json(rundir.RunDir(ctx.run_dir).episodes, records)
    returns = np.array([r["return"] for r in records], dtype=np.float64)
    result = {"eval_return_mean": float(returns.mean()), "eval_return_std": float(returns.std()),
              "eval_episodes": len(records), "eval_task": spec["task"], "eval_difficulty": spec["difficulty"],
              "eval_max_steps": run.eval_max_steps}
    ctx.metrics.log("eval", len(records), {"eval_return_mean": result["eval_return_mean"],
                                          "eval_return_std": result["eval_return_std"]})
    return result


def reference_return(task: str, difficulty: str, store=None, exclude_run: str | None = None) -> Normalizer:
    """The normalizer of a return on ``task`` at ``difficulty``, by the one rule
    (:mod:`laom_core.metrics`): our own finished full-data BC runs in the store on the same
    task and setting, else the paper's BC; refused when it is noise."""
    distractors = has_distractors(difficulty)
    bc_returns = []
    if store is not None:
        try:
            runs = store.list_runs(status="finished")
        except Exception:  # an unreadable store must not fail an evaluation
            runs = []
        for row in runs:
            if not is_reference_bc(row) or row.get("id") == exclude_run or not row.get("run_dir"):
                continue
            summary = rundir.load_summary(row["run_dir"])
            if summary is None:
                continue
            if summary.get("eval_task") == task and has_distractors(summary.get("eval_difficulty")) == distractors:
                bc_returns.append(summary.get("eval_return_mean"))
    return return_normalizer(task, distractors, bc_returns)
