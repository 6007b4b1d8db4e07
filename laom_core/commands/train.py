"""``python -m laom_core train``: one method, all its stages, in this process.

The last line printed to stdout is one JSON object (also saved as <run_dir>/summary.json).
With ``--run-id`` the run's row in the store is updated (running -> finished/failed);
without, a row is created. ``--resume`` continues a killed run from its checkpoints.
This module only parses and prints: the request is checked by
:mod:`laom_core.runs.request`, the run's lifecycle is :func:`laom_core.runs.execute.run`.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from laom_core.errors import ConfigError, LaomError
from laom_core.runs import execute
from laom_core.runs.request import (TrainRequest, add_train_arguments, read_request, request_from_args,
                                    resolve_config)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train one method (IDM, LAPO, LAOM, LAOM+supervision, BC) end to end",
        description="Train a method's stages (LAM -> latent BC -> decoder -> eval, or BC / IDM pipelines). "
                    "The last stdout line is a JSON summary.",
    )
    add_train_arguments(p)
    p.add_argument("--request", metavar="JSON",
                   help="run a request saved by the launcher (its config as checked when queued); "
                        "--run-dir, --run-id, --resume and --no-progress still apply")
    p.add_argument("--json", action="store_true", help="(accepted; the last line is always JSON)")
    p.add_argument("--print-config", action="store_true", help="print the resolved config as YAML and exit")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    """Check the request, then run it; with ``--run-id`` a bad request still marks the run failed."""
    if args.print_config:
        _path, config, ignored = resolve_config(args.method, args.preset, args.config, args.set)
        if ignored:
            execute.note(f"ignored config keys of the authors' setup: {', '.join(ignored)}")
        print(config.to_yaml(), end="")
        return 0
    try:
        request = _saved(args) if args.request else request_from_args(args)
    except LaomError as exc:
        if args.run_id:
            execute.record_failure(args.run_id, str(exc))
        raise
    summary = execute.run(request)
    print(json.dumps(summary, default=str))
    return 0


def _saved(args: argparse.Namespace) -> TrainRequest:
    """The launcher's saved request, with this command line's run folder, id and resume."""
    request = read_request(args.request)
    if request.method != args.method:
        raise ConfigError(f"the saved request {args.request} trains {request.method}, not --method {args.method}")
    return request.replace(
        run_dir=Path(args.run_dir).expanduser().resolve() if args.run_dir else request.run_dir,
        run_id=args.run_id or request.run_id, resume=args.resume or request.resume,
        progress=request.progress and not args.no_progress)
