"""``python -m laom_core train``: one method, all its stages, in this process.

The last line printed to stdout is one JSON object (also saved as <run_dir>/summary.json).
With ``--run-id`` the run's row in the store is updated (running -> finished/failed);
without, a row is created. ``--resume`` continues a killed run from its checkpoints.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

from laom_core import rundir
from laom_core.config import PRESETS, load_config
from laom_core.methods import METHODS, USES_LABELED
from laom_core.errors import ConfigError, LaomError
from laom_core.workspace import datasets_dir, resolve_user_path, runs_dir


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train one method (IDM, LAPO, LAOM, LAOM+supervision, BC) end to end",
        description="Train a method's stages (LAM -> latent BC -> decoder -> eval, or BC / IDM pipelines). "
                    "The last stdout line is a JSON summary.",
    )
    p.add_argument("--method", required=True, choices=METHODS)
    p.add_argument("--preset", default="cpu-small", choices=PRESETS, help="starting config (default cpu-small)")
    p.add_argument("--config", metavar="YAML", help="YAML in the authors' layout (sections lapo, bc, decoder, idm, run)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one config key, e.g. --set lapo.latent_action_dim=512 (repeatable)")
    p.add_argument("--data", metavar="FILE", help="unlabeled (or, for bc, action-labeled) HDF5 dataset")
    p.add_argument("--labeled-data", metavar="FILE", help="small labeled HDF5 subset (decoder, IDM, supervision)")
    p.add_argument("--eval-data", metavar="FILE", help="eval HDF5 (its attrs define the eval environment)")
    p.add_argument("--run-dir", metavar="DIR", help="output folder (default <workspace>/runs/<run id>)")
    p.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoints")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], default="auto")
    p.add_argument("--run-id", help="the store's run id to update (set by the launcher)")
    p.add_argument("--name", help="run name for a new store row")
    p.add_argument("--group", help="group name for a new store row")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="(accepted; the last line is always JSON)")
    p.add_argument("--print-config", action="store_true", help="print the resolved config as YAML and exit")
    p.set_defaults(func=handler)


def _path(value: str | None, what: str) -> Path | None:
    if value is None:
        return None
    return resolve_user_path(value, must_exist=True, kind="file", base=datasets_dir())


def _note(msg: str) -> None:
    print(f"note: {msg}", file=sys.stderr)


def _raise_interrupt(signum, frame):  # SIGTERM -> KeyboardInterrupt so the store gets a status
    raise KeyboardInterrupt


def handler(args: argparse.Namespace) -> int:
    """Set up, then run; with ``--run-id`` a failure before training still marks the run failed."""
    try:
        return _handler(args)
    except _Reported:
        raise
    except LaomError as exc:
        if args.run_id:
            _finish(_open_store(), args.run_id, "failed", error=str(exc), exit_code=2)
        raise


class _Reported(LaomError):
    """A LaomError whose status the run store already holds."""


def _handler(args: argparse.Namespace) -> int:
    import torch

    from laom_core.training.common import Metrics, RunContext, pick_device
    from laom_core.training.methods import Runner, describe_data

    # One intra-op thread by default: training runs share a few cores with each other and
    # the dashboard, and oversubscribed OpenMP threads slow every run down many times over.
    threads = os.environ.get("LAOM_TORCH_THREADS", "1")
    try:
        torch.set_num_threads(max(1, int(threads)))
    except ValueError:
        raise ConfigError(f"LAOM_TORCH_THREADS must be an integer, got {threads!r}") from None
    config, ignored = load_config(args.preset, args.method, args.config, args.set)
    if ignored:
        _note(f"ignored config keys of the authors' setup: {', '.join(ignored)}")
    if args.print_config:
        print(config.to_yaml(), end="")
        return 0

    data = _path(args.data or config.lapo.data_path or config.bc.data_path, "data")
    if data is None:
        raise ConfigError("--data is required (the training dataset, HDF5)")
    # The authors' files name the labeled set per stage; the decoder's data is the labeled set.
    labeled_arg = (args.labeled_data or config.lapo.labeled_data_path or config.idm.labeled_data_path
                   or config.decoder.data_path)
    labeled = None
    if args.method in USES_LABELED:
        labeled = _path(labeled_arg, "labeled data")
        if labeled is None:
            labeled = data
            _note(f"no --labeled-data: {args.method} uses the actions of --data as its labeled set")
    elif args.labeled_data:
        _note(f"--labeled-data is not used by {args.method}; ignored")
    eval_data = _path(args.eval_data or config.lapo.eval_data_path, "eval data")
    if eval_data is None:
        _note("no --eval-data: evaluation will be skipped")
    device = pick_device(args.device)
    torch.manual_seed(config.seed)

    info = describe_data(data, labeled, eval_data, args.method, config.run.held_out_fraction)
    from laom_core.training.memory import check_fits

    check_fits(config, args.method, int(info["img_hw"]), device)  # before any model or run record

    store = _open_store()
    if args.run_dir:
        from laom_core.runs.launcher import check_run_folder

        folder = check_run_folder(args.run_dir, store, args.run_id)
        _check_run_dir(folder, args.resume)
        if args.resume:
            _check_origin(folder, _origin(args.method, info, data, labeled))
    run_id = args.run_id
    if run_id is None and store is not None:
        run_dir_hint = Path(args.run_dir).resolve() if args.run_dir else None
        run_id = store.create_run(
            args.name, args.method, info["task"], config.to_dict(),
            str(run_dir_hint) if run_dir_hint else None, group=args.group,
            labeled_budget=info.get("labeled_trajectories") if args.method in USES_LABELED else None,
            seed=config.seed, datasets=_datasets(data, labeled, eval_data), status="queued",
            preset=args.preset, device=str(device))
    run_dir = Path(args.run_dir).expanduser().resolve() if args.run_dir else runs_dir() / (run_id or time.strftime("run-%Y%m%d-%H%M%S"))
    try:
        _check_run_dir(run_dir, args.resume)
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _finish(store, run_id, "failed", error=f"cannot create run folder {run_dir}: {exc.strerror}", exit_code=2)
        raise ConfigError(f"cannot create run folder {run_dir}: {exc.strerror}") from exc
    except LaomError as exc:
        _finish(store, run_id, "failed", error=str(exc), exit_code=2)
        raise _Reported(str(exc)) from exc
    if args.resume and not rundir.RunDir(run_dir).stages.exists():
        _note(f"nothing to resume in {run_dir}; starting from the beginning")
    if not (args.resume and rundir.RunDir(run_dir).origin.exists()):
        rundir.write_origin(run_dir, _origin(args.method, info, data, labeled))
    rundir.write_config(run_dir, config.to_yaml())
    if store is not None and run_id:
        gpu = {"gpu_name": torch.cuda.get_device_name(device)} if device.type == "cuda" else {}
        store.set_status(run_id, "running", run_dir=str(run_dir), device=str(device), preset=args.preset,
                         task=info["task"], config=config.to_dict(), **gpu)

    metrics = Metrics(run_dir, store, run_id)
    info["run_id"], info["store"] = run_id, store
    ctx = RunContext(config=config, method=args.method, device=device, run_dir=run_dir, data_path=data,
                     labeled_path=labeled, eval_path=eval_data, metrics=metrics, resume=args.resume,
                     progress=not args.no_progress, info=info)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        summary = Runner(ctx).run()
    except KeyboardInterrupt:
        _finish(store, run_id, "stopped", error="interrupted")
        raise
    except LaomError as exc:
        _finish(store, run_id, "failed", error=str(exc), exit_code=2)
        raise _Reported(str(exc)) from exc
    except BaseException as exc:
        _finish(store, run_id, "failed", error=f"{type(exc).__name__}: {exc}", exit_code=1)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
        metrics.close()
    summary["preset"] = args.preset
    rundir.write_summary(run_dir, summary)
    _finish(store, run_id, "finished", exit_code=0)
    print(json.dumps(summary, default=str))
    return 0


def _check_run_dir(run_dir: Path, resume: bool) -> None:
    if not resume and rundir.RunDir(run_dir).holds_run():
        raise ConfigError(f"run folder {run_dir} already holds a run; pass --resume to continue it or choose "
                          "another --run-dir")


_ORIGIN_KEYS = ("method", "task", "action_dim", "img_hw", "data", "labeled_data")


def _origin(method: str, info: dict, data: Path, labeled: Path | None) -> dict:
    return {"method": method, "task": info["task"], "action_dim": int(info["action_dim"]),
            "img_hw": int(info["img_hw"]), "data": str(data), "labeled_data": str(labeled) if labeled else None}


def _check_origin(run_dir: Path, now: dict) -> None:
    """Refuse to resume a run folder with another method or other data than it was made with."""
    before: dict = {}
    for name in (rundir.ORIGIN, rundir.STAGES):  # stages.json: folders made before origin.json existed
        try:
            loaded = json.loads((run_dir / name).read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot resume {run_dir}: its {name} is unreadable ({exc}); "
                              "start a new run in another --run-dir") from None
        if isinstance(loaded, dict):
            before = {**{k: loaded.get(k) for k in _ORIGIN_KEYS if k in loaded}, **before}
    diffs = [f"{key} {before[key]!r} vs {now[key]!r} now" for key in _ORIGIN_KEYS
             if key in before and before[key] != now[key]]
    if diffs:
        raise ConfigError(f"cannot resume {run_dir} with other settings than it was made with: "
                          + "; ".join(diffs) + " (pass the same --method and data, or choose another --run-dir)")


def _datasets(data: Path, labeled: Path | None, eval_data: Path | None) -> dict:
    out = {"data": str(data)}
    if labeled is not None:
        out["labeled_data"] = str(labeled)
    if eval_data is not None:
        out["eval_data"] = str(eval_data)
    return out


def _open_store():
    try:
        from laom_core.runs.store import RunStore
    except ImportError:
        return None
    return RunStore()


def _finish(store, run_id: str | None, status: str, **fields) -> None:
    if store is None or not run_id:
        return
    try:
        store.set_status(run_id, status, **fields)
    except LaomError as exc:  # the run's own result matters more than its row
        print(f"warning: could not record status {status} for run {run_id}: {exc}", file=sys.stderr)
