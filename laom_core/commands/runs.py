"""``python -m laom_core runs ...``: list, inspect, follow, stop, resume and export runs."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from laom_core.commands.columns import print_columns
from laom_core.rundir import load_summary
from laom_core.runs.store import STATUSES, queue_order

_LIST_FIELDS = ("id", "name", "status", "method", "task", "group", "labeled_budget", "seed", "preset", "device",
                "gpu", "priority", "created_at", "started_at", "ended_at", "exit_code", "run_dir")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("runs", help="list, inspect, follow, stop, resume and export runs")
    sub = parser.add_subparsers(dest="runs_command", metavar="ACTION")

    ls = sub.add_parser("list", help="runs in this workspace (oldest first)")
    ls.add_argument("--status", choices=STATUSES, default=None)
    ls.add_argument("--group", default=None)
    ls.add_argument("--json", action="store_true", help="print the runs as one JSON list")
    ls.set_defaults(func=_list)

    show = sub.add_parser("show", help="one run: fields, latest metrics, error")
    show.add_argument("run_id", help="run id (or a unique prefix)")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_show)

    logs = sub.add_parser("logs", help="a run's log")
    logs.add_argument("run_id")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing until the run ends")
    logs.add_argument("--lines", "-n", type=int, default=200, help="last N lines (default 200)")
    logs.set_defaults(func=_logs)

    stop = sub.add_parser("stop", help="stop a queued or running run (SIGTERM, then SIGKILL)")
    stop.add_argument("run_id")
    stop.add_argument("--grace", type=float, default=10.0, help="seconds between SIGTERM and SIGKILL")
    stop.set_defaults(func=_stop)

    res = sub.add_parser("resume", help="re-queue a stopped or failed run from its last checkpoint")
    res.add_argument("run_id")
    res.set_defaults(func=_resume)

    exp = sub.add_parser("export", help="write a run's metrics as CSV (run_id,stage,key,step,value,wall)")
    exp.add_argument("run_id")
    exp.add_argument("--csv", required=True, help="output file")
    exp.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    exp.set_defaults(func=_export)

    rm = sub.add_parser("delete", help="forget a finished, failed, stopped or queued run and remove its folder")
    rm.add_argument("run_id")
    rm.add_argument("--keep-files", action="store_true", help="keep the run folder")
    rm.set_defaults(func=_delete)

    tag = sub.add_parser("tag", help="add tags to a run (--remove to take them off)")
    tag.add_argument("run_id")
    tag.add_argument("tags", nargs="+", help="tags (no commas)")
    tag.add_argument("--remove", action="store_true", help="remove these tags instead")
    tag.set_defaults(func=_tag)

    note = sub.add_parser("note", help="set a run's notes ('' clears them)")
    note.add_argument("run_id")
    note.add_argument("text")
    note.set_defaults(func=_note)

    ren = sub.add_parser("rename", help="give a run a new display name (its id and folder stay)")
    ren.add_argument("run_id")
    ren.add_argument("name")
    ren.set_defaults(func=_rename)

    arc = sub.add_parser("archive", help="hide a run from the dashboard's Runs page (--undo brings it back)")
    arc.add_argument("run_id")
    arc.add_argument("--undo", action="store_true", help="unarchive")
    arc.set_defaults(func=_archive)

    prio = sub.add_parser("priority", help="move a queued run up or down the queue (higher starts first; "
                                           "equal priorities start oldest first)")
    prio.add_argument("run_id")
    where = prio.add_mutually_exclusive_group(required=True)
    where.add_argument("value", nargs="?", type=int, help="the run's priority (default of every run: 0)")
    where.add_argument("--first", action="store_true", help="start it next: one above every other queued run")
    prio.set_defaults(func=_priority)

    probe = sub.add_parser("probe", help="probe finished LAMs again, all on the same fit and test trajectories "
                                         "(compare runs trained on different datasets)")
    probe.add_argument("run_ids", nargs="+", help="run ids (or unique prefixes) of LAPO/LAOM/LAOM+supervision runs")
    probe.add_argument("--data", required=True, help="dataset file holding the fit and test trajectories")
    probe.add_argument("--fit", required=True, help="trajectory ids to fit the probes on, e.g. 0-17,19")
    probe.add_argument("--test", required=True, help="trajectory ids to score them on (ones no run trained on)")
    probe.add_argument("--samples", type=int, default=4096, help="at most this many transitions per side")
    probe.add_argument("--json", action="store_true")
    probe.set_defaults(func=_probe)

    conc = sub.add_parser("concurrency", help="show or set how many runs may run at once")
    conc.add_argument("n", nargs="?", type=int, default=None, help="new limit (omit to show)")
    conc.add_argument("--default", action="store_true", help="back to 1 per GPU (1 on CPU)")
    conc.add_argument("--backend", choices=("local", "slurm", "ray"), default="local",
                      help="whose limit: local runs (default) or jobs submitted to slurm/ray at once (default 64)")
    conc.set_defaults(func=_concurrency)

    sched = sub.add_parser("scheduler", help="start queued runs until the queue is empty "
                                             "(started automatically by launch; one per workspace)")
    sched.add_argument("--poll", type=float, default=None, help="seconds between checks (default 0.5)")
    sched.set_defaults(func=_scheduler)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def existing_store():
    """The workspace's run store when it exists, else None; never creates the workspace.

    Commands that only read (list, show, logs, ...) use it, so running them in a folder
    without ``LAOM_STUDIO_WORKSPACE`` leaves no ``./workspace`` behind.
    """
    from laom_core.runs.store import RunStore
    from laom_core.workspace import workspace_root

    path = workspace_root(create=False) / "runs.sqlite"
    return RunStore(path) if path.is_file() else None


def _store_with_runs(run_ids):
    """The existing run store, or a clear error naming the workspace that has no runs."""
    from laom_core.errors import RunError
    from laom_core.workspace import WORKSPACE_ENV, workspace_root

    store = existing_store()
    if store is None:
        wanted = ", ".join(repr(r) for r in ([run_ids] if isinstance(run_ids, str) else run_ids))
        raise RunError(f"no run with id {wanted}: there are no runs in the workspace {workspace_root(create=False)} "
                       f"(set {WORKSPACE_ENV} to use another workspace)")
    return store


def parse_ids(text: str) -> tuple[int, ...]:
    """"0-3,7" -> (0, 1, 2, 3, 7); a clear error for anything else."""
    from laom_core.errors import ConfigError

    out: list[int] = []
    try:
        for part in filter(None, (p.strip() for p in text.split(","))):
            lo, _, hi = part.partition("-")
            out += range(int(lo), int(hi or lo) + 1)
    except ValueError:
        raise ConfigError(f"trajectory ids must look like 0-17,19; got {text!r}") from None
    if not out:
        raise ConfigError(f"no trajectory ids in {text!r}")
    return tuple(sorted(set(out)))


def _probe(args: argparse.Namespace) -> int:
    from laom_core.analysis.reprobe import ProbeSplit, reprobe_run
    from laom_core.errors import ConfigError
    from laom_core.workspace import datasets_dir, resolve_user_path

    if args.samples < 16:
        raise ConfigError(f"--samples must be at least 16, got {args.samples}")
    data = resolve_user_path(args.data, must_exist=True, base=datasets_dir(create=False))
    split = ProbeSplit(data, parse_ids(args.fit), parse_ids(args.test), args.samples)
    with _store_with_runs(args.run_ids) as store:
        runs = [dict(store.find_run(r)) for r in args.run_ids]
    results = []
    for run in runs:
        print(f"probing {run['id']} ...", file=sys.stderr, flush=True)
        results.append({"run_id": run["id"], "name": run.get("name"), "method": run.get("method"),
                        **reprobe_run(run["run_dir"], split)})
    if args.json:
        print(json.dumps({"data": str(data), "fit": list(split.fit), "test": list(split.test), "runs": results}))
        return 0
    print(f"fit on {len(split.fit)} and test on {len(split.test)} trajectories of {data}")
    header = ("RUN", "METHOD", "PROBE MSE", "CHANCE", "R2 ACTION", "R2 STATE")
    rows = [header] + [(r["run_id"], r["method"] or "", f"{r['probe_mse']:.4f}", f"{r['chance_probe_mse']:.4f}",
                        f"{r['r2_action']:.3f}", f"{r['r2_state']:.3f}") for r in results]
    print_columns(rows)
    return 0


def _list(args: argparse.Namespace) -> int:
    from laom_core.runs.launcher import ensure_scheduler
    from laom_core.workspace import WORKSPACE_ENV, workspace_root

    store = existing_store()  # a read: no workspace is created where there is none
    runs: list[dict] = []
    if store is not None:
        with store:
            ensure_scheduler(store)  # queued runs left behind (reboot) get a scheduler again
            runs = store.list_runs(status=args.status, group=args.group)
            queued = store.list_runs(status="queued") if any(r["status"] == "queued" for r in runs) else []
    if args.json:
        print(json.dumps([{k: r.get(k) for k in _LIST_FIELDS} for r in runs]))
        return 0
    if not runs:
        print("no runs" + ("" if store is not None else
                           f" (no workspace at {workspace_root(create=False)}; set {WORKSPACE_ENV} to use another)"))
        return 0
    header = ("ID", "STATUS", "METHOD", "TASK", "GROUP", "BUDGET", "SEED", "STARTED", "DURATION")
    place = _queue_places(queued, {r["id"] for r in runs})
    rows = [header + (("NEXT",) if place else ())]
    for r in runs:
        rows.append((r["id"], r["status"], r["method"] or "", r["task"] or "", r["group"] or "",
                     "" if r["labeled_budget"] is None else str(r["labeled_budget"]), str(r["seed"]),
                     _time(r["started_at"]), _duration(r)) + ((place.get(r["id"], ""),) if place else ()))
    print_columns(rows)
    return 0


def _queue_places(queued: list[dict], shown: set[str]) -> dict[str, str]:
    """For the shown queued runs: their place in the workspace's start order (1 starts next),
    with the priority when it is not 0, e.g. ``2 (p3)``. Empty when none is shown."""
    queued = queue_order(queued)
    return {r["id"]: f"{i}" + (f" (p{r['priority']})" if r.get("priority") else "")
            for i, r in enumerate(queued, 1) if r["id"] in shown}


def _split_and_probes(run: dict) -> dict:
    """The run's held-out trajectories and named probes (from its summary.json when it has
    finished; the held-out set from its data file and config before that)."""
    from laom_core.training.methods import NAMED_PROBE_KEYS

    out: dict = {}
    summary = load_summary(run["run_dir"]) if run.get("run_dir") else None
    if summary is not None:
        for key in ("held_out_trajectories", "probe_mse", *NAMED_PROBE_KEYS):
            if key in summary:
                out[key] = summary[key]
    if "held_out_trajectories" not in out and (run.get("datasets") or {}).get("data"):
        from laom_core.data.splits import DEFAULT_HELD_OUT_FRACTION, held_out_trajectories
        from laom_core.errors import LaomError

        fraction = ((run.get("config") or {}).get("run") or {}).get("held_out_fraction", DEFAULT_HELD_OUT_FRACTION)
        try:
            out["held_out_trajectories"] = held_out_trajectories(run["datasets"]["data"], fraction)
        except (OSError, LaomError):  # a moved or unreadable file: the run row still shows
            pass
    return out


def _show(args: argparse.Namespace) -> int:

    with _store_with_runs(args.run_id) as store:
        run = store.find_run(args.run_id)
        last = store.last_metrics(run["id"])
    run = dict(run)
    run["last_metrics"] = last
    run.update(_split_and_probes(run))
    if args.json:
        print(json.dumps(run, default=str))
        return 0
    for key in ("id", "name", "status", "method", "task", "preset", "group", "labeled_budget", "seed", "device",
                "gpu", "gpu_name", "pid", "host", "run_dir", "exit_code", "attempts"):
        if run.get(key) not in (None, ""):
            print(f"{key:15} {run[key]}")
    for key in ("created_at", "started_at", "ended_at"):
        if run.get(key):
            print(f"{key:15} {_time(run[key])}")
    if run.get("datasets"):
        for k, v in run["datasets"].items():
            print(f"{k:15} {v}")
    if run.get("tags"):
        print(f"{'tags':15} {', '.join(run['tags'])}")
    if run.get("priority"):
        print(f"{'priority':15} {run['priority']}")
    if run.get("archived"):
        print(f"{'archived':15} yes")
    if run.get("notes"):
        print(f"{'notes':15} {run['notes']}")
    if last:
        print("latest metrics:")
        for k, v in sorted(last.items()):
            print(f"  {k:28} {v:.6g}")
    if run.get("error"):
        print("error:")
        print(run["error"])
    return 0


def _logs(args: argparse.Namespace) -> int:
    from laom_core.runs.launcher import follow_log, log_path, read_log

    with _store_with_runs(args.run_id) as store:
        run_id = store.find_run(args.run_id)["id"]
        if not args.follow:
            text = read_log(run_id, args.lines, store=store)
            if text:
                print(text)
            return 0
        path = log_path(store.get_run(run_id))
        try:
            head = path.read_bytes()
        except FileNotFoundError:
            head = b""
        tail = head.decode("utf-8", errors="replace").splitlines(keepends=True)[-args.lines:]
        sys.stdout.write("".join(tail))
        sys.stdout.flush()
        start = len(head)
        for chunk in follow_log(run_id, store=store, start=start):
            sys.stdout.write(chunk)
            sys.stdout.flush()
        print(f"run {run_id} is {store.get_run(run_id)['status']}", file=sys.stderr)
    return 0


def _stop(args: argparse.Namespace) -> int:
    from laom_core.runs.launcher import stop

    with _store_with_runs(args.run_id) as store:
        run_id = store.find_run(args.run_id)["id"]
        status = stop(run_id, grace_s=args.grace, store=store)
    print(f"{run_id} {status}")
    return 0


def _resume(args: argparse.Namespace) -> int:
    from laom_core.runs.launcher import resume

    with _store_with_runs(args.run_id) as store:
        run_id = store.find_run(args.run_id)["id"]
        resume(run_id, store=store)
    print(f"{run_id} queued")
    return 0


def _export(args: argparse.Namespace) -> int:
    from laom_core.workspace import atomic_path, resolve_user_path

    from laom_core.errors import WorkspaceError

    out = resolve_user_path(args.csv)
    if out.exists() and not out.is_dir() and not args.overwrite:
        raise WorkspaceError(f"{out} exists; refusing to overwrite (use --overwrite)")
    with _store_with_runs(args.run_id) as store:
        run_id = store.find_run(args.run_id)["id"]
        text = store.metrics_csv(run_id)
    with atomic_path(out, overwrite=args.overwrite) as tmp:
        Path(tmp).write_text(text, encoding="utf-8", newline="")
    print(f"wrote {text.count(chr(10)) - 1} rows to {out}")
    return 0


def _delete(args: argparse.Namespace) -> int:
    from laom_core.runs.launcher import delete

    with _store_with_runs(args.run_id) as store:
        run_id = store.find_run(args.run_id)["id"]
        delete(run_id, remove_files=not args.keep_files, store=store)
    print(f"{run_id} deleted")
    return 0


def _tag(args: argparse.Namespace) -> int:
    with _store_with_runs(args.run_id) as store:
        run_id = store.find_run(args.run_id)["id"]
        tags: list[str] = []
        for t in args.tags:
            tags = store.remove_tag(run_id, t) if args.remove else store.add_tag(run_id, t)
    print(f"{run_id} tags: {', '.join(tags) or '(none)'}")
    return 0


def _note(args: argparse.Namespace) -> int:
    with _store_with_runs(args.run_id) as store:
        run_id = store.find_run(args.run_id)["id"]
        store.set_notes(run_id, args.text)
    print(f"{run_id} notes {'set' if args.text.strip() else 'cleared'}")
    return 0


def _rename(args: argparse.Namespace) -> int:
    with _store_with_runs(args.run_id) as store:
        run_id = store.find_run(args.run_id)["id"]
        name = store.rename_run(run_id, args.name)
    print(f"{run_id} is now named {name!r}")
    return 0


def _priority(args: argparse.Namespace) -> int:
    from laom_core.runs.store import queue_order

    with _store_with_runs(args.run_id) as store:
        run_id = store.find_run(args.run_id)["id"]
        if args.first:
            value = store.move_to_front(run_id)
        else:
            value = args.value
            store.set_priority(run_id, value)
        order = [r["id"] for r in queue_order(store.list_runs(status="queued", reconcile=False))]
    where = f"{order.index(run_id)} queued run(s) ahead of it" if run_id in order else "it is not queued now"
    print(f"{run_id} priority {value} ({where})")
    return 0


def _archive(args: argparse.Namespace) -> int:
    with _store_with_runs(args.run_id) as store:
        run_id = store.find_run(args.run_id)["id"]
        store.set_archived(run_id, not args.undo)
    print(f"{run_id} {'unarchived' if args.undo else 'archived'}")
    return 0


def _concurrency(args: argparse.Namespace) -> int:
    from laom_core.runs.launcher import ensure_scheduler, max_concurrent, set_max_concurrent
    from laom_core.runs.store import RunStore

    with RunStore() as store:
        if args.backend != "local":  # cluster backends: a limit per backend
            from laom_core.runs.backends import max_remote, set_max_remote

            if args.default or args.n is not None:
                set_max_remote(store, args.backend, None if args.default else args.n)
            print(max_remote(store, args.backend))
            ensure_scheduler(store)
            return 0
        if args.default:
            set_max_concurrent(None, store)
        elif args.n is not None:
            set_max_concurrent(args.n, store)
        print(max_concurrent(store))
        ensure_scheduler(store)
    return 0


def _scheduler(args: argparse.Namespace) -> int:
    from laom_core.runs.launcher import run_scheduler

    return run_scheduler(poll_s=args.poll)


def _time(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else ""


def _duration(run: dict) -> str:
    if not run.get("started_at"):
        return ""
    end = run.get("ended_at") or time.time()
    secs = max(0, int(end - run["started_at"]))
    return f"{secs // 3600}:{secs // 60 % 60:02d}:{secs % 60:02d}"
