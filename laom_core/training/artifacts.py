"""End-of-stage-1 artifacts: the probes (artifacts/probe.json) and latents.npz.

Latent actions are the labels latent BC learns, z = IDM(o_t, o_{t+1}). A linear map z ->
action is fitted in closed form (ridge) on ``run.probe_samples`` random transitions of the
training trajectories and scored on transitions nobody trained on, in two sets that ask
two questions:

* ``probe_clip_seen``: held-out trajectories of the training file whose background clip
  also plays in some training trajectory (all held-out trajectories when the file records
  no clips): new episodes, familiar distractors;
* ``probe_clip_unseen``: the eval data (``--eval-data``, collected with the eval split's
  clips, none of which plays in training): new episodes and new distractors.

``held_out_probe_mse`` scores all held-out trajectories together (the dashboard's default
figure before the split). The paper's own probe, trained online on training batches, is
``probe_online`` (:mod:`laom_core.training.lam`). latents.npz keeps the first
``run.latents_samples`` held-out transitions with everything the dashboard needs to colour
and fetch them (true action, state, step, trajectory, distractor signals, (traj, step)
index into the dataset file).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from laom_core import rundir
from laom_core.data.hdf5 import open_dataset
from laom_core.data.sampler import locate_transitions
from laom_core.training.common import autocast, frames, RunContext
from laom_core.training.probes import fit_ridge, held_out_probe
from laom_core.workspace import atomic_path, atomic_write_json

# features(obs, next_obs) -> (latent action or prediction (B, D), observation embedding (B, E))
FeatureFn = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
_STATE_PROBE_MAX_SAMPLES = 4096


def _held_out_requests(ctx: RunContext, ids: list[int], limit: int) -> tuple[np.ndarray, np.ndarray]:
    """(traj_index, step) of min(limit, all) held-out transitions, seeded, in file order."""
    with open_dataset(ctx.data_path) as ds:
        lengths = ds.lengths[ids]
    total = int(np.maximum(lengths - 1, 0).sum())
    rng = np.random.default_rng(ctx.config.seed + 101)
    chosen = np.arange(total) if total <= limit else np.sort(rng.choice(total, size=limit, replace=False))
    return locate_transitions(lengths, chosen)


@torch.no_grad()
def _run(ctx: RunContext, features: FeatureFn, batches) -> dict[str, np.ndarray]:
    out: dict[str, list] = {k: [] for k in ("z", "emb", "actions", "states", "traj", "step")}
    for batch in batches:
        obs = frames(batch.obs, ctx.device, ctx.config.run.channels_last)
        next_obs = frames(batch.next_obs, ctx.device, ctx.config.run.channels_last)
        with autocast(ctx.device, ctx.config.run.bf16):
            z, emb = features(obs, next_obs)
        out["z"].append(z.float().cpu().numpy())
        out["emb"].append(emb.float().cpu().numpy())
        for key in ("actions", "states", "traj", "step"):
            out[key].append(getattr(batch, key).cpu().numpy())
    return {k: np.concatenate(v) if v else np.zeros((0,)) for k, v in out.items()}


def collect_features(ctx: RunContext, features: FeatureFn, batch_size: int = 256) -> tuple[dict, dict]:
    """Features of training transitions (random) and of held-out transitions (seeded subset)."""
    run = ctx.config.run
    train_sampler = ctx.make_sampler(ctx.data_path, stage="probe", traj_ids=ctx.info["train_ids"],
                                     frame_stack=ctx.config.bc.frame_stack)
    n_train = min(run.probe_samples, train_sampler.num_transitions)
    train_batches = (train_sampler.sample(min(batch_size, n_train - s), multi_step=False)
                     for s in range(0, n_train, batch_size))
    train = _run(ctx, features, train_batches)
    train_sampler.close()
    held_ids = ctx.info["held_out_ids"]
    if not held_ids:
        return train, {}
    held_sampler = ctx.make_sampler(ctx.data_path, stage="held-out", traj_ids=held_ids,
                                    frame_stack=ctx.config.bc.frame_stack)
    j, t = _held_out_requests(ctx, held_ids, run.probe_samples)
    held_batches = (held_sampler.gather(j[s:s + batch_size], t[s:s + batch_size]) for s in range(0, len(j), batch_size))
    held = _run(ctx, features, held_batches)
    held_sampler.close()
    return train, held


def trajectory_clips(path) -> dict[int, int]:
    """The background clip of each trajectory that records one (``distractor/clip_id`` >= 0
    at its first step); empty for files without distractor records."""
    clips = {}
    with open_dataset(path) as ds:
        for traj in range(ds.num_trajectories):
            if ds.has("distractor/clip_id", traj):
                clip = int(np.asarray(ds.read(traj, "distractor/clip_id", 0, 1)).reshape(-1)[0])
                if clip >= 0:
                    clips[traj] = clip
    return clips


def clip_seen_trajectories(ctx: RunContext) -> list[int]:
    """Held-out trajectories whose clip also plays in a training trajectory (all of them
    when the file records no clips)."""
    clips = trajectory_clips(ctx.data_path)
    held = ctx.info["held_out_ids"]
    if not clips:
        return list(held)
    seen = {clips[t] for t in ctx.info["train_ids"] if t in clips}
    return [t for t in held if clips.get(t) in seen]


def collect_eval_features(ctx: RunContext, features: FeatureFn, batch_size: int = 256) -> dict:
    """Features of up to ``run.probe_samples`` random transitions of the eval data (the
    clip-unseen probe set); empty without ``--eval-data``."""
    if ctx.eval_path is None:
        return {}
    sampler = ctx.make_sampler(ctx.eval_path, stage="probe-eval", frame_stack=ctx.config.bc.frame_stack)
    n = min(ctx.config.run.probe_samples, sampler.num_transitions)
    batches = (sampler.sample(min(batch_size, n - s), multi_step=False) for s in range(0, n, batch_size))
    out = _run(ctx, features, batches)
    sampler.close()
    return out


def _score(predict, train_y: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[float | None, float | None]:
    """(MSE of ``predict(x)`` against ``y``, MSE of the training mean) on one probe set."""
    if len(x) == 0:
        return None, None
    return float(((predict(x) - y) ** 2).mean()), float(((y - train_y.mean(0)) ** 2).mean())


def named_probes(ctx: RunContext, train: dict, held: dict, eval_feats: dict, direct_prediction: bool) -> dict:
    """``probe_clip_seen`` and ``probe_clip_unseen`` with their chance MSEs (see the module doc)."""
    predict = (lambda x: x) if direct_prediction else fit_ridge(train["z"], train["actions"], ctx.config.run.probe_ridge)
    seen_ids = clip_seen_trajectories(ctx)
    out: dict = {"clip_seen_trajectories": seen_ids,
                 "clip_unseen_source": str(ctx.eval_path) if ctx.eval_path is not None else None}
    if held and len(held["z"]):
        rows = np.isin(held["traj"], seen_ids)
        out["probe_clip_seen"], out["chance_clip_seen"] = _score(predict, train["actions"], held["z"][rows],
                                                                 held["actions"][rows])
    else:
        out["probe_clip_seen"], out["chance_clip_seen"] = None, None
    if eval_feats and len(eval_feats["z"]):
        out["probe_clip_unseen"], out["chance_clip_unseen"] = _score(predict, train["actions"], eval_feats["z"],
                                                                     eval_feats["actions"])
    else:
        out["probe_clip_unseen"], out["chance_clip_unseen"] = None, None
    return out


def write_probe(ctx: RunContext, train: dict, held: dict, direct_prediction: bool = False,
                eval_feats: dict | None = None) -> dict:
    """Held-out probe MSE of z -> action (and embedding -> state), the clip-seen and
    clip-unseen probes; writes artifacts/probe.json.

    ``direct_prediction``: the features already are action predictions (the IDM baseline),
    scored as they are instead of through a fitted linear map.
    """
    run = ctx.config.run
    named = named_probes(ctx, train, held, eval_feats or {}, direct_prediction)
    if not held or len(held["z"]) == 0:
        result = {"held_out_probe_mse": None, "note": "no held-out trajectories (dataset too small)",
                  "held_out_trajectories": list(ctx.info["held_out_ids"]), **named}
        atomic_write_json(rundir.RunDir(ctx.run_dir).probe, result)
        return result
    if direct_prediction:
        err = (held["z"] - held["actions"]) ** 2
        chance = (held["actions"] - train["actions"].mean(0)) ** 2
        action = {"mse": float(err.mean()), "per_dim": err.mean(0).tolist(), "chance_mse": float(chance.mean()),
                  "chance_per_dim": chance.mean(0).tolist(), "held_out_samples": int(len(err)),
                  "kind": "idm_prediction"}
    else:
        action = held_out_probe(train["z"], train["actions"], held["z"], held["actions"], run.probe_ridge)
        action["kind"] = "linear_probe_on_latent_action"
    k = _STATE_PROBE_MAX_SAMPLES
    state = held_out_probe(train["emb"][:k], train["states"][:k], held["emb"][:k], held["states"][:k], run.probe_ridge)
    result = {
        "held_out_probe_mse": action["mse"],
        "per_dim": action["per_dim"],
        "chance_mse": action["chance_mse"],
        "chance_per_dim": action["chance_per_dim"],
        "action_probe": action,
        "held_out_state_probe_mse": state["mse"],
        "state_probe": state,
        "method": ctx.method,
        "train_trajectories": len(ctx.info["train_ids"]),
        "held_out_trajectories": list(ctx.info["held_out_ids"]),
        **named,
    }
    atomic_write_json(rundir.RunDir(ctx.run_dir).probe, result)
    return result


def write_latents(ctx: RunContext, held: dict) -> None:
    """artifacts/latents.npz from the held-out features (see docs/interfaces.md)."""
    if not held or len(held["z"]) == 0:
        return
    n = min(ctx.config.run.latents_samples, len(held["z"]))
    traj = held["traj"][:n].astype(np.int64)
    step = held["step"][:n].astype(np.int64)
    arrays = {
        "latents": held["z"][:n].astype(np.float32),
        "actions": held["actions"][:n].astype(np.float32),
        "states": held["states"][:n].astype(np.float32),
        "step": step,
        "traj": traj,
        "obs_index": np.stack([traj, step], axis=1),
        "clip_id": np.full(n, -1, dtype=np.int64),
    }
    with open_dataset(ctx.data_path) as ds:
        for key in ds.distractor_signals:
            values = None
            for tr in np.unique(traj):
                rows = np.nonzero(traj == tr)[0]
                part = ds.read_steps(int(tr), f"distractor/{key}", step[rows])
                if values is None:
                    values = np.zeros((n, *part.shape[1:]), dtype=part.dtype)
                values[rows] = part
            if key == "clip_id":
                arrays["clip_id"] = values.astype(np.int64).reshape(n)
            else:
                arrays[f"distractor_{key}"] = values
    with atomic_path(rundir.RunDir(ctx.run_dir).latents) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def held_out_action_mse(ctx: RunContext, predict: Callable[[torch.Tensor], torch.Tensor],
                        batch_size: int = 256) -> float | None:
    """MSE of the final policy's actions (BC, or latent policy + decoder) against the true
    actions of the held-out trajectories: one number comparable across every method."""
    held_ids = ctx.info["held_out_ids"]
    if not held_ids:
        return None
    sampler = ctx.make_sampler(ctx.data_path, stage="held-out-actions", traj_ids=held_ids,
                               frame_stack=ctx.config.bc.frame_stack)
    j, t = _held_out_requests(ctx, held_ids, ctx.config.run.probe_samples)
    total, count = 0.0, 0
    with torch.no_grad():
        for s in range(0, len(j), batch_size):
            batch = sampler.gather(j[s:s + batch_size], t[s:s + batch_size])
            with autocast(ctx.device, ctx.config.run.bf16):
                pred = predict(frames(batch.obs, ctx.device, ctx.config.run.channels_last)).float()
            total += float(((pred - batch.actions) ** 2).sum())
            count += batch.actions.numel()
    sampler.close()
    return total / max(count, 1)

