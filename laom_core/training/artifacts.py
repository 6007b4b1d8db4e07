"""End-of-stage-1 artifacts: held-out probe (artifacts/probe.json) and latents.npz.

Latent actions are the labels latent BC learns, z = IDM(o_t, o_{t+1}). The probe is fitted
on ``run.probe_samples`` random transitions of the training trajectories and scored on
(up to as many) transitions of the held-out trajectories; latents.npz keeps the first
``run.latents_samples`` of those held-out transitions with everything the dashboard needs
to colour and fetch them (true action, state, step, trajectory, distractor signals,
(traj, step) index into the dataset file).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from laom_core.data.hdf5 import open_dataset
from laom_core.data.sampler import locate_transitions
from laom_core.training.common import RunContext, autocast, frames
from laom_core.training.probes import held_out_probe
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


def write_probe(ctx: RunContext, train: dict, held: dict, direct_prediction: bool = False) -> dict:
    """Held-out probe MSE of z -> action (and embedding -> state); writes artifacts/probe.json.

    ``direct_prediction``: the features already are action predictions (the IDM baseline),
    scored as they are instead of through a fitted linear map.
    """
    run = ctx.config.run
    if not held or len(held["z"]) == 0:
        result = {"held_out_probe_mse": None, "note": "no held-out trajectories (dataset too small)"}
        atomic_write_json(ctx.artifacts_dir / "probe.json", result)
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
        "held_out_trajectories": len(ctx.info["held_out_ids"]),
    }
    atomic_write_json(ctx.artifacts_dir / "probe.json", result)
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
    with atomic_path(ctx.artifacts_dir / "latents.npz") as tmp:
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

