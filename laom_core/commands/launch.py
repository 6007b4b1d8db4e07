"""``python -m laom_core launch <train arguments>``: queue a training run, print its id at once."""
from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    from laom_core.runs.request import add_train_arguments

    parser = subparsers.add_parser(
        "launch", help="queue a background training run (same arguments as train); prints the run id",
        description="Queue `python -m laom_core train ...` as a background run. It starts when a slot is "
                    "free (1 per GPU, or 1 on CPU; see `runs concurrency`), survives this terminal, and "
                    "writes its log and artifacts to <workspace>/runs/<id>.")
    add_train_arguments(parser, launcher=True)
    parser.add_argument("--name", default=None, help="display name (default: the run id)")
    parser.add_argument("--group", default=None, help="group the run belongs to")
    parser.add_argument("--tag", action="append", default=[], help="free-form tag (repeatable)")
    parser.add_argument("--client-token", default=None,
                        help="idempotency token: repeating a launch with the same arguments and token "
                             "returns the first run instead of starting another")
    parser.add_argument("--json", action="store_true", help="print the run as JSON")
    from laom_core.runs.backends import add_cli_options  # cluster backends

    add_cli_options(parser)
    parser.set_defaults(func=_launch)


def _launch(args: argparse.Namespace) -> int:
    from laom_core.runs.backends import cli_options
    from laom_core.runs.launcher import launch
    from laom_core.runs.request import validate_train_request
    from laom_core.runs.store import RunStore

    backend, backend_opts = cli_options(args)  # cluster backends
    request = validate_train_request(
        args.method, preset=args.preset, config_path=args.config, sets=args.set, data=args.data,
        labeled_data=args.labeled_data, eval_data=args.eval_data, device=args.device)
    with RunStore() as store:
        run_id = launch(request, name=args.name, group=args.group, tags=args.tag,
                        client_token=args.client_token, store=store, backend=backend,
                        backend_opts=backend_opts)
        if args.json:
            run = store.get_run(run_id)
            print(json.dumps({k: run[k] for k in ("id", "name", "status", "run_dir", "method", "task", "group",
                                                  "backend")}))
        else:
            print(run_id)
    return 0
