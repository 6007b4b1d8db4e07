"""Distractor leakage of LAPO vs LAOM + supervision on one distracted dataset.

Trains stage 1 (the latent action model) of each method with the same config on the same
data, then measures the held-out leakage figures of ``laom_core.training.leakage`` and
prints them with the ratio of LAPO's camera-motion R^2 to LAOM+supervision's (the paper's
expectation: LAPO's latent actions carry more of the camera motion, ratio > 1) and the
difference of their action R^2.

    python bench/leakage_methods.py [--data FILE] [--img-size 32] [--updates 2000]
        [--trajectories 24] [--steps 40] [--methods lapo laom laom-labels] [--no-distractors]
        [--set lapo.labels_coef=1.0 ...] [--json]

Without ``--data`` a toy dataset with distractors (laom_core.data.toy) is generated.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from laom_core.training.leakage import NoDistractorSignals, leakage_from_features, probe_scores  # noqa: E402
from laom_core.config import load_config  # noqa: E402
from laom_core.data.toy import make_toy_dataset  # noqa: E402
from laom_core.training import artifacts  # noqa: E402
from laom_core.training.common import Metrics, RunContext  # noqa: E402
from laom_core.training.lam import build_lam, train_lam  # noqa: E402
from laom_core.training.methods import describe_data  # noqa: E402

METHODS = ("lapo", "laom-labels")
OPTIONAL_METHODS = ("laom",)


def stage1_leakage(method: str, data: Path, overrides: list[str], out: Path) -> dict:
    config, _ = load_config("smoke", method, overrides=overrides)
    run_dir = out / method
    run_dir.mkdir(parents=True, exist_ok=True)
    # The labeled sampler reads the whole file here (held-out trajectories included): this
    # bench measures distractor leakage, and its laom-labels action probe is not a clean
    # held-out figure. describe_data gets no labeled file, as it would refuse that overlap.
    info = describe_data(data, None, None, method, config.run.held_out_fraction)
    ctx = RunContext(config=config, method=method, device=torch.device("cpu"), run_dir=run_dir, data_path=data,
                     labeled_path=data, eval_path=None, metrics=Metrics(run_dir), progress=False, info=info)
    torch.manual_seed(config.seed)
    lam = build_lam(method, config.lapo, 3 * config.lapo.frame_stack, info["img_hw"], info["action_dim"])
    t0 = time.perf_counter()
    train_lam(ctx, lam)
    train_s = time.perf_counter() - t0
    _, held = artifacts.collect_features(ctx, lambda o, n: (lam.idm(o, n), lam.embed(o)))
    ctx.metrics.close()
    try:
        figures = leakage_from_features(held, data, seed=config.seed)
    except NoDistractorSignals:  # --no-distractors: nothing to leak, only the action probe
        figures = probe_scores(held["z"], held["traj"], {"action": held["actions"]}, seed=config.seed)
        figures.update(leakage=0.0, r2_camera_delta=0.0, r2_background_step=0.0, clip_accuracy=float("nan"),
                       clip_chance=float("nan"))
    return {"train_s": round(train_s, 1), **{k: round(v, 4) for k, v in figures.items()}}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path)
    p.add_argument("--img-size", type=int, default=32)
    p.add_argument("--trajectories", type=int, default=24)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--updates", type=int, default=2000)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=[*METHODS, *OPTIONAL_METHODS],
                   help="stage-1 methods to compare (lapo and laom-labels are always included)")
    p.add_argument("--no-distractors", action="store_true", help="the same toy set without distractors")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        data = args.data or make_toy_dataset(out / "toy.h5", trajectories=args.trajectories, steps=args.steps,
                                             img_size=args.img_size, distractors=not args.no_distractors, seed=0)
        # LAPO as cpu-small runs it: the residual pixel FDM (a plain one ignores z at this scale)
        overrides = [f"lapo.total_updates={args.updates}", "lapo.batch_size=32", "run.held_out_fraction=0.34",
                     "lapo.fdm_residual=true",
                     "run.probe_samples=2048", "run.log_every=1000000", "run.checkpoint_every=1000000", *args.set]
        methods = [*METHODS, *(m for m in args.methods if m not in METHODS)]
        results = {m: stage1_leakage(m, Path(data), overrides, out) for m in methods}
    lapo, sup = results["lapo"], results["laom-labels"]
    # None when LAOM+supervision's camera R^2 is not positive (the ratio is then meaningless)
    ratio = lapo["r2_camera_delta"] / sup["r2_camera_delta"] if sup["r2_camera_delta"] > 0 else None
    summary = {"results": results, "camera_r2_ratio_lapo_over_laom_labels": ratio,
               "action_r2_gain_laom_labels_over_lapo": round(sup["r2_action"] - lapo["r2_action"], 4),
               "overrides": overrides}
    if not args.json:
        for m, r in results.items():
            print(f"{m:12} train {r['train_s']:7.1f}s  leakage {r['leakage']:.3f}  action R2 {r['r2_action']:+.3f}  "
                  f"camera R2 {r['r2_camera_delta']:+.3f}  clip-motion R2 {r['r2_background_step']:+.3f}  "
                  f"clip acc {r['clip_accuracy']:.2f} (chance {r['clip_chance']:.2f})")
        print(f"camera R2 ratio LAPO / LAOM+supervision: {ratio:.3g}" if ratio is not None
              else "camera R2 ratio LAPO / LAOM+supervision: undefined (LAOM+supervision's camera R2 <= 0)")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
