"""``python -m laom_core sweep``: queue methods x labeled budgets x seeds x tasks as one named group.

``sweep --name NAME --summary`` prints its progress and the results aggregated over seeds.
"""
from __future__ import annotations

import argparse
import json
import sys

from laom_core.commands.columns import print_columns


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep", help="queue a sweep (methods x labeled budgets x seeds x tasks) or summarise one",
        description="Queue one background run per method, labeled budget, seed and task, grouped under "
                    "--name. Numeric budgets sample that many labeled trajectories from --labeled-data "
                    "(seeded by the run's seed); 'all' uses the file as is. Repeating the same command adds "
                    "nothing. With --summary, print progress and mean/std over seeds instead.")
    parser.add_argument("--name", required=True, help="sweep name (the runs' group)")
    parser.add_argument("--summary", action="store_true", help="show progress and aggregated results only")
    parser.add_argument("--methods", default="lapo,laom,laom-labels", help="comma list (default lapo,laom,laom-labels)")
    parser.add_argument("--budgets", default="2,8,32,128", help="labeled trajectories, comma list; 'all' = the file")
    parser.add_argument("--seeds", default="0,1,2", help="comma list (default 0,1,2)")
    parser.add_argument("--task", "--tasks", dest="tasks", default=None,
                        help="task(s), comma list, e.g. cheetah-run (default: the data file's task)")
    parser.add_argument("--data", help="unlabeled HDF5; may contain {task}")
    parser.add_argument("--labeled-data", "--labeled-source", dest="labeled_data",
                        help="labeled HDF5 to sample budgets from; may contain {task}")
    parser.add_argument("--eval-data", help="eval HDF5; may contain {task}")
    parser.add_argument("--preset", default="cpu-small", help="paper, cpu-small or smoke (default cpu-small)")
    parser.add_argument("--config", default=None, help="YAML config applied to every run")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override (repeatable)")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default=None)
    parser.add_argument("--chunk-size", type=int, default=None,
                        help="steps per sampled labeled trajectory (default: whole trajectories, up to 1000)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON (last line)")
    from laom_core.runs.backends import add_cli_options  # cluster backends

    add_cli_options(parser)
    parser.set_defaults(func=_sweep)


def _sweep(args: argparse.Namespace) -> int:
    from laom_core.errors import ConfigError
    from laom_core.runs.store import RunStore
    from laom_core.runs.sweeps import aggregate_sweep, create_sweep, make_spec, sweep_progress, task_of

    if args.summary:  # a read: no workspace is created where there is none
        from laom_core.commands.runs import existing_store
        from laom_core.errors import RunError

        store = existing_store()
        if store is None:
            raise RunError(f"no sweep named {args.name!r}")
        with store:
            progress = sweep_progress(args.name, store)
            rows = aggregate_sweep(args.name, store)
        if args.json:
            print(json.dumps({"progress": progress, "results": rows}))
        else:
            _print_summary(progress, rows)
        return 0
    from laom_core.runs.backends import check_backend, cli_options

    backend, backend_opts = cli_options(args)  # cluster backends
    with RunStore() as store:
        if not args.data:
            raise ConfigError("--data is required to create a sweep")
        tasks = args.tasks or task_of(args.data)
        spec = make_spec(args.name, args.methods, args.budgets, args.seeds, tasks, args.data,
                         labeled_data=args.labeled_data, eval_data=args.eval_data, preset=args.preset,
                         config=args.config, sets=args.set, device=args.device, chunk_size=args.chunk_size)
        from tqdm import tqdm

        bar = tqdm(total=len(spec.cells()), desc=f"queue {spec.name}", unit="run", file=sys.stderr)

        def tick(done: int, total: int) -> None:
            bar.n = done
            bar.refresh()

        try:
            backend_kw = {}
            if backend != "local":
                backend_kw = {"backend": backend, "backend_opts": check_backend(backend, backend_opts)}
            ids = create_sweep(spec, store, progress=tick, **backend_kw)
        finally:
            bar.close()
        progress = sweep_progress(spec.name, store)
        if args.json:
            print(json.dumps({"name": spec.name, "run_ids": ids, "progress": progress}))
        else:
            print(f"sweep {spec.name}: {len(ids)} runs queued or already present "
                  f"({progress['done']}/{progress['total']} done)")
            print(f"follow: python -m laom_core runs list --group {spec.name}")
    return 0


def _print_summary(progress: dict, rows: list[dict]) -> None:
    print(f"sweep {progress['name']}: {progress['done']}/{progress['total']} done "
          f"(finished {progress['finished']}, failed {progress['failed']}, stopped {progress['stopped']}, "
          f"running {progress['running']}, queued {progress['queued']})")
    if not rows:
        return
    header = ("TASK", "METHOD", "BUDGET", "N", "PROBE MSE", "RETURN", "NORMALIZED")
    table = [header]
    for r in rows:
        table.append((str(r["task"]), str(r["method"]), str(r["labeled_budget"]), str(r["n"]),
                      _pm(r, "held_out_probe_mse"), _pm(r, "eval_return_mean"), _pm(r, "normalized_return")))
    print_columns(table)


def _pm(row: dict, key: str) -> str:
    mean, std = row.get(f"{key}_mean"), row.get(f"{key}_std")
    if mean is None:
        return "-"
    return f"{mean:.4g} ± {std:.2g}"
