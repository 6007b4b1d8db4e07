"""``python -m laom_core collect``: roll a policy in the distracting suite into an HDF5 dataset."""
from __future__ import annotations

import argparse
import json
import time


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("collect", help="collect a dataset (released HDF5 layout) with a policy")
    p.add_argument("--task", default="cheetah-run", help="domain-task, e.g. cheetah-run (default)")
    p.add_argument("--difficulty", default="vanilla",
                   help="vanilla, easy, medium, hard or scale_easy_video_hard (default vanilla)")
    p.add_argument("--split", default="train", choices=("train", "eval"), help="distractor video split")
    p.add_argument("--policy", default="random",
                   help="random, expert (the shipped one) or a released PPO folder (checkpoint.pt + config.pt)")
    p.add_argument("--episodes", type=int, required=True)
    p.add_argument("--steps", type=int, default=1000, help="steps per episode (default 1000, dm_control's episode length; longer episodes are honoured)")
    p.add_argument("--img-size", type=int, default=64)
    p.add_argument("--workers", type=int, default=1, help="worker processes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="output file (default: a name in <workspace>/datasets)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument("--fast-render", action="store_true", help="no shadows/reflections (faster)")
    p.add_argument("--video-source", default=None, help="builtin (default), davis:PATH or a folder of videos")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                   help="environment option on top of --difficulty (repeatable), e.g. camera_scale=0 "
                        "or num_videos=4 (the options of envs.suite.OVERRIDES)")
    p.add_argument("--json", action="store_true", help="print the result summary as JSON (last line)")
    p.set_defaults(func=_collect)


def _collect(args: argparse.Namespace) -> int:
    from laom_core.collect import collect_dataset
    from laom_core.envs.suite import parse_env_options
    from laom_core.data.hdf5 import validate_dataset
    from laom_core.workspace import resolve_user_path

    out = resolve_user_path(args.out) if args.out else None
    env_kwargs = {**parse_env_options(args.env), "fast_render": args.fast_render}
    if args.video_source:
        env_kwargs["video_source"] = args.video_source
    start = time.perf_counter()
    path = collect_dataset(
        task=args.task, difficulty=args.difficulty, split=args.split, policy_spec=args.policy,
        episodes=args.episodes, steps=args.steps, img_size=args.img_size, workers=args.workers,
        seed=args.seed, out=out, overwrite=args.overwrite, show_progress=True, **env_kwargs,
    )
    seconds = time.perf_counter() - start
    info = validate_dataset(path, check_values=False).to_dict()
    summary = {
        "path": str(path),
        "trajectories": info["num_trajectories"],
        "steps": info["total_steps"],
        "mean_return": info["mean_return"],
        "seconds": round(seconds, 2),
        "steps_per_s": round(info["total_steps"] / max(seconds, 1e-9), 1),
        "distractor_signals": info["distractor_signals"],
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"wrote {path}: {summary['trajectories']} episodes, {summary['steps']} steps, "
              f"mean return {summary['mean_return']:.1f}, {summary['steps_per_s']} steps/s")
    return 0
