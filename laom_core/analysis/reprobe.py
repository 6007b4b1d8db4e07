"""Probe finished LAMs again, all on the same transitions.

Each run's own probe (``artifacts/probe.json``) is fitted on its training trajectories and
scored on its own held-out ones, so two runs on different datasets (a data-scaling study) are
scored on different trajectories; with 10% held out of 20 that is 2 trajectories, and
``artifacts/leakage.json`` then pools training trajectories in. To compare such runs, this
module loads each run's stage-1 weights (``checkpoints/lam/final.pt``) and fits and scores
one ridge probe per run on a split given explicitly: ``fit`` and ``test`` trajectory ids of
one dataset file (pick test trajectories no run trained on; :func:`unseen_split` finds them
for runs on nested files).

    latent action z  -> true action   (MSE, chance MSE, R^2)
    embedding(o_t)   -> true state    (R^2)
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from laom_core.config import config_from_dict
from laom_core.data.hdf5 import open_dataset
from laom_core.data.sampler import locate_transitions, split_trajectories, TrajectorySampler
from laom_core.errors import LaomError
from laom_core.methods import LAM_METHODS
from laom_core.rundir import load_config_dict, load_method, load_summary, RunDir
from laom_core.training.common import frames, load_checkpoint, load_module_state
from laom_core.training.lam import build_lam
from laom_core.training.probes import fit_ridge, r2_pooled
from laom_core.workspace import atomic_write_json

DEFAULT_SAMPLES = 4096


@dataclass(frozen=True)
class ProbeSplit:
    """Which transitions to fit the probes on and which to score them on (trajectory ids)."""

    data: Path
    fit: tuple[int, ...]
    test: tuple[int, ...]
    samples: int = DEFAULT_SAMPLES  # at most this many transitions of each side, evenly strided

    def key(self) -> str:
        text = json.dumps([str(Path(self.data).resolve()), list(self.fit), list(self.test), self.samples])
        return hashlib.sha1(text.encode()).hexdigest()[:12]


def _run_config(run_dir: Path):
    return config_from_dict(load_config_dict(run_dir))


def load_run_lam(run_dir: str | Path, img_hw: int, action_dim: int) -> tuple[torch.nn.Module, Any]:
    """The stage-1 model of a finished LAPO/LAOM/LAOM+supervision run, in eval mode on CPU."""
    run_dir = Path(run_dir)
    method = load_method(run_dir)
    if method not in LAM_METHODS:
        raise LaomError(f"run {run_dir.name} is a {method} run; only latent action models have a latent to probe")
    final = RunDir(run_dir).final_checkpoint("lam")
    if not final.exists():
        raise LaomError(f"run {run_dir.name} has not finished stage 1 ({final} is missing)")
    config = _run_config(run_dir)
    model = build_lam(method, config.lapo, 3 * config.lapo.frame_stack, img_hw, action_dim)
    load_module_state(model, load_checkpoint(final, "cpu")["modules"]["model"])
    return model.eval(), config


def _strided(lengths: np.ndarray, samples: int) -> tuple[np.ndarray, np.ndarray]:
    """(index into the id list, step) of at most ``samples`` transitions, evenly spread."""
    total = int(np.maximum(lengths - 1, 0).sum())
    if total == 0:
        raise LaomError("the probe split has no transitions (trajectories shorter than 2 steps)")
    return locate_transitions(lengths, np.unique(np.linspace(0, total - 1, min(samples, total)).astype(np.int64)))


@torch.no_grad()
def lam_features(model: torch.nn.Module, frame_stack: int, data: Path, ids: tuple[int, ...], samples: int,
                 batch_size: int = 256) -> dict[str, np.ndarray]:
    """z = IDM(o_t, o_{t+1}), the embedding of o_t, true action and state of evenly strided transitions."""
    sampler = TrajectorySampler(data, frame_stack=frame_stack, future_obs_offset=1, traj_ids=list(ids))
    try:
        lengths = sampler.lengths
        j, t = _strided(lengths, samples)
        out: dict[str, list] = {k: [] for k in ("z", "emb", "actions", "states")}
        for s in range(0, len(j), batch_size):
            batch = sampler.gather(j[s:s + batch_size], t[s:s + batch_size])
            obs, nxt = frames(batch.obs, torch.device("cpu"), False), frames(batch.next_obs, torch.device("cpu"), False)
            out["z"].append(model.idm(obs, nxt).float().numpy())
            out["emb"].append(model.embed(obs).float().numpy())
            out["actions"].append(batch.actions.numpy())
            out["states"].append(batch.states.numpy())
    finally:
        sampler.close()
    return {k: np.concatenate(v).astype(np.float64) for k, v in out.items()}


def probe_features(fit: dict[str, np.ndarray], test: dict[str, np.ndarray], ridge: float = 0.1) -> dict[str, float]:
    """Ridge probes fitted on ``fit`` and scored on ``test``: z -> action and embedding -> state."""
    for name, part in (("fit", fit), ("test", test)):
        for key in ("z", "emb"):
            if not np.isfinite(part[key]).all():
                raise LaomError(f"the model's {key} on the {name} transitions has NaN or inf: the weights are broken")
    action = fit_ridge(fit["z"], fit["actions"], ridge)(test["z"])
    state = fit_ridge(fit["emb"], fit["states"], ridge)(test["emb"])
    return {
        "probe_mse": float(((action - test["actions"]) ** 2).mean()),
        "chance_probe_mse": float(((test["actions"] - fit["actions"].mean(0)) ** 2).mean()),
        "r2_action": r2_pooled(test["actions"], action),
        "r2_state": r2_pooled(test["states"], state),
        "fit_samples": int(len(fit["z"])), "test_samples": int(len(test["z"])),
    }


def reprobe_run(run_dir: str | Path, split: ProbeSplit, cache: bool = True) -> dict[str, float]:
    """The probe figures of one run on ``split``; cached in ``artifacts/reprobe-<key>.json``."""
    run_dir = Path(run_dir)
    cached = RunDir(run_dir).reprobe(split.key())
    if cache and cached.exists():
        try:
            return json.loads(cached.read_text(encoding="utf-8"))["figures"]
        except (OSError, ValueError, KeyError):
            pass  # unreadable cache: compute again
    with open_dataset(split.data) as ds:
        n, img_hw, action_dim = ds.num_trajectories, ds.img_hw, ds.action_dim
    bad = [i for i in split.fit + split.test if not 0 <= i < n]
    if bad:
        raise LaomError(f"trajectory ids {bad} are outside {split.data} (it has {n} trajectories)")
    if set(split.fit) & set(split.test):
        raise LaomError(f"fit and test trajectories overlap: {sorted(set(split.fit) & set(split.test))}")
    model, config = load_run_lam(run_dir, img_hw, action_dim)
    torch.manual_seed(0)
    fit = lam_features(model, config.lapo.frame_stack, split.data, split.fit, split.samples)
    test = lam_features(model, config.lapo.frame_stack, split.data, split.test, split.samples)
    figures = probe_features(fit, test, config.run.probe_ridge)
    if cache:
        atomic_write_json(cached, {"data": str(split.data), "fit": list(split.fit), "test": list(split.test),
                                   "samples": split.samples, "figures": figures})
    return figures


def run_training_ids(run_dir: str | Path, num_trajectories: int) -> list[int]:
    """The trajectory ids a run trained on: all but the held-out ones its summary.json
    lists; for runs made before held-out sets were fixed per file (their summary gives
    only a count), the seeded split those runs drew."""
    held = (load_summary(run_dir) or {}).get("held_out_trajectories")
    if isinstance(held, list):
        return [i for i in range(num_trajectories) if i not in set(held)]
    config = _run_config(Path(run_dir))
    return split_trajectories(num_trajectories, config.run.held_out_fraction, int(config.seed))[0]


def unseen_split(runs: list[tuple[Path, int, list[int]]], samples: int = DEFAULT_SAMPLES) -> ProbeSplit:
    """A split for runs trained on nested files (the first k trajectories of each file are the same).

    ``runs``: (dataset file, its number of trajectories, the run's training ids) per run. Fit on
    trajectories every run trained on, test on trajectories of the largest file no run trained on.
    """
    if not runs:
        raise LaomError("no runs to build a probe split for")
    data = max(runs, key=lambda r: r[1])[0]
    smallest = min(n for _, n, _ in runs)
    trained = [set(ids) for _, _, ids in runs]
    fit = tuple(i for i in range(smallest) if all(i in t for t in trained))
    test = tuple(i for i in range(max(n for _, n, _ in runs)) if not any(i in t for t in trained))
    if not fit or not test:
        raise LaomError("the runs share no training trajectory or leave none unseen: no common probe split")
    return ProbeSplit(Path(data), fit, test, samples)
