"""``python -m laom_core dataset info|subset|list``: inspect and cut dataset files."""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from laom_core.data.catalog import labeled_subset, list_datasets


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("dataset", help="inspect, list and sample dataset files (released HDF5 layout)")
    sub = parser.add_subparsers(dest="dataset_command", metavar="ACTION")

    info = sub.add_parser("info", help="validate a dataset file and print a summary (exit 2 if invalid)")
    info.add_argument("file", help="HDF5 file (a bare name is looked up in the workspace datasets folder)")
    info.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    info.add_argument("--require-equal-lengths", action="store_true", help="fail if trajectories differ in length")
    info.add_argument("--quick", action="store_true", help="skip the NaN/inf scan of actions and states")
    info.set_defaults(func=_info)

    subset = sub.add_parser("subset", help="sample a labeled subset: K chunks of C steps (like labeled-1000xK)")
    subset.add_argument("file", help="source HDF5 file")
    subset.add_argument("--trajectories", type=int, required=True, help="number of chunks K")
    subset.add_argument("--chunk-size", type=int, default=1000, help="steps per chunk C (default 1000)")
    subset.add_argument("--seed", type=int, default=0)
    subset.add_argument("--out", default=None, help="output file (default: the cached subset <workspace>/datasets/subsets/<name>-<content id>-nK-cC-sS.hdf5, reused when it is there)")
    subset.add_argument("--held-out-fraction", type=float, default=None,
                        help="leave out the held-out trajectories of runs with this run.held_out_fraction "
                             "(default: the runs' default, 0.1)")
    subset.add_argument("--overwrite", action="store_true")
    subset.add_argument("--json", action="store_true", help="print the new file's summary as JSON")
    subset.set_defaults(func=_subset)

    ls = sub.add_parser("list", help="datasets in the workspace datasets folder")
    ls.add_argument("--json", action="store_true", help="print a JSON list")
    ls.set_defaults(func=_list)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _resolve(file: str) -> Path:
    from laom_core.workspace import datasets_dir, resolve_user_path

    return resolve_user_path(file, must_exist=True, kind="file", base=datasets_dir(create=False))


def format_info(info: dict) -> str:
    """Human-readable summary of ``DatasetInfo.to_dict()``."""
    mb = info["size_bytes"] / 2**20
    lengths = str(info["min_length"]) if info["equal_lengths"] else f"{info['min_length']}..{info['max_length']}"
    lines = [
        f"file          {info['path']} ({mb:.1f} MiB)",
        f"task          {info['task']}",
        f"difficulty    {info['difficulty']} (dynamic={info['dynamic']}, split={info['split']})",
        f"trajectories  {info['num_trajectories']} x {lengths} steps = {info['total_steps']} steps"
        + ("  [labeled subset]" if info["labeled_subset"] else ""),
        f"image size    {info['img_hw']}x{info['img_hw']}",
        f"action dim    {info['action_dim']}",
        f"state dim     {info['state_dim']}",
        f"mean return   {info['mean_return']:.1f}"
        + ("" if math.isnan(info["dataset_return"]) else f" (dataset_return {info['dataset_return']:.1f})"),
        f"distractors   {', '.join(info['distractor_signals']) or 'none recorded'}",
    ]
    lines += [f"warning       {w}" for w in info["warnings"]]
    return "\n".join(lines)


def _json_safe(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_json_safe(v) for v in obj]
    return obj


def _info(args: argparse.Namespace) -> int:
    from laom_core.data.hdf5 import validate_dataset

    info = validate_dataset(
        _resolve(args.file), require_equal_lengths=args.require_equal_lengths, check_values=not args.quick
    ).to_dict()
    print(json.dumps(_json_safe(info)) if args.json else format_info(info))
    return 0


def _subset(args: argparse.Namespace) -> int:
    from laom_core.data.hdf5 import validate_dataset
    from laom_core.workspace import resolve_user_path

    from laom_core.config import check_seed
    from laom_core.errors import ConfigError

    check_seed(args.seed, "--seed")
    for flag, value in (("--trajectories", args.trajectories), ("--chunk-size", args.chunk_size)):
        if value < 1:
            raise ConfigError(f"{flag} must be at least 1, got {value}")
    src = _resolve(args.file)
    out = None if args.out is None else resolve_user_path(args.out)
    extra = {} if args.held_out_fraction is None else {"held_out_fraction": args.held_out_fraction}
    path = labeled_subset(src, args.trajectories, args.chunk_size, args.seed, out=out, overwrite=args.overwrite,
                          **extra)
    info = validate_dataset(path, check_values=False).to_dict()
    if args.json:
        print(json.dumps(_json_safe(info)))
    else:
        print(f"wrote {path}: {info['num_trajectories']} chunks of {args.chunk_size} steps")
    return 0


def _list(args: argparse.Namespace) -> int:
    rows = list_datasets()
    if args.json:
        print(json.dumps(_json_safe(rows)))
        return 0
    if not rows:
        from laom_core.workspace import datasets_dir

        print(f"no datasets in {datasets_dir(create=False)}", file=sys.stderr)
        return 0
    for r in rows:
        mb = r["size_bytes"] / 2**20
        if r["valid"]:
            print(f"{r['name']:<60} {r['task']:<16} {r['difficulty']:<22} {r['split']:<5} "
                  f"{r['num_trajectories']:>5} traj {r['total_steps']:>8} steps {mb:>9.1f} MiB")
        else:
            print(f"{r['name']:<60} INVALID: {r['error']}")
    return 0
