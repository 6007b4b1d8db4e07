"""How visible is the agent in a dataset's frames, before any latent action model is trained?

Held-out linear probes (ridge, folds split by trajectory; ``laom_core.training.leakage``)
from three untrained representations of each dataset to the agent's state and action:

* ``pixels``: the frame at t, average-pooled to 16x16 RGB (768 features) -> state;
* ``pixel change``: pooled frame t+1 minus frame t -> action (what a linear IDM on raw
  pixels could read);
* ``random encoder``: a randomly initialised encoder as ``cpu-small`` builds it (IMPALA,
  scale 1, one residual block, 3 stacked frames) -> state.

Run it on a dataset with distractors and on its vanilla twin (same trajectories, same
states and actions) to see how much of the agent the distractors hide from a linear
read-out; trained models report the same probes (``obs_r2_state`` and ``r2_action`` in
each run's ``artifacts/leakage.json``), so the two can be compared.

    python bench/representation_probe.py DATASET [DATASET ...] [--trajectories 8] [--stride 4]

Prints one line per dataset and representation, then the ratio of each R^2 between the
first dataset and each other one (measured in this run).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from laom_core.training.leakage import probe_scores  # noqa: E402
from laom_core.data.hdf5 import open_dataset  # noqa: E402
from laom_core.errors import LaomError  # noqa: E402
from laom_core.models.encoder import ImpalaEncoder  # noqa: E402

POOL_TO = 16


def _pooled(obs: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (T, 3, 16, 16) float in [-1, 1]."""
    x = torch.from_numpy(obs).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    return F.adaptive_avg_pool2d(x, POOL_TO)


def _stacked(obs: np.ndarray, steps: np.ndarray, stack: int = 3) -> torch.Tensor:
    """Frames t-2..t stacked on channels (the first frame repeats at the start), as training does."""
    idx = np.clip(steps[:, None] - np.arange(stack - 1, -1, -1)[None, :], 0, None)
    x = torch.from_numpy(obs[idx]).float() / 127.5 - 1.0  # (N, stack, H, W, 3)
    return x.permute(0, 1, 4, 2, 3).reshape(len(steps), stack * 3, obs.shape[1], obs.shape[2])


def features(path: Path, trajectories: int, stride: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Representations and targets of every ``stride``-th step of the first trajectories."""
    torch.manual_seed(seed)
    encoder = None
    out: dict[str, list] = {k: [] for k in ("pixels", "pixel_change", "random_encoder", "states", "actions", "traj")}
    with open_dataset(path) as ds:
        n = min(trajectories, ds.num_trajectories)
        if n < 2:
            raise LaomError(f"{path}: at least 2 trajectories are needed for held-out probes, found {n}")
        for traj in range(n):
            obs = ds.read(traj, "obs")
            states, actions = ds.read(traj, "states"), ds.read(traj, "actions")
            steps = np.arange(0, min(len(obs) - 1, len(actions)), stride)
            pooled = _pooled(obs)
            if encoder is None:
                encoder = ImpalaEncoder(9, 1, 1).eval()
            with torch.no_grad():
                emb = torch.cat([encoder(_stacked(obs, chunk)).flatten(1) for chunk in np.array_split(steps, 8)])
            out["pixels"].append(pooled[steps].flatten(1).numpy())
            out["pixel_change"].append((pooled[steps + 1] - pooled[steps]).flatten(1).numpy())
            out["random_encoder"].append(emb.numpy())
            out["states"].append(states[steps])
            out["actions"].append(actions[steps])
            out["traj"].append(np.full(len(steps), traj))
    return {k: np.concatenate(v) for k, v in out.items()}


def probes(path: Path, trajectories: int, stride: int) -> dict[str, float]:
    f = features(path, trajectories, stride)
    return {
        "pixels -> state": probe_scores(f["pixels"], f["traj"], {"t": f["states"]})["r2_t"],
        "pixel change -> action": probe_scores(f["pixel_change"], f["traj"], {"t": f["actions"]})["r2_t"],
        "random encoder -> state": probe_scores(f["random_encoder"], f["traj"], {"t": f["states"]})["r2_t"],
        "samples": float(len(f["traj"])),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("datasets", nargs="+", type=Path)
    p.add_argument("--trajectories", type=int, default=8)
    p.add_argument("--stride", type=int, default=4, help="use every k-th step")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(1)
    try:
        results = {str(d): probes(d.expanduser().resolve(), args.trajectories, args.stride) for d in args.datasets}
    except (LaomError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    first, *others = list(results)
    if not args.json:
        for name, r in results.items():
            print(f"{Path(name).name}  ({int(r['samples'])} samples)")
            for k, v in r.items():
                if k != "samples":
                    print(f"  {k:26} R2 {v:+.3f}")
        for other in others:
            for k in results[first]:
                a, b = results[first][k], results[other][k]
                if k != "samples" and b > 0:
                    print(f"ratio {Path(first).name} / {Path(other).name}, {k}: {a / b:.2f}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
