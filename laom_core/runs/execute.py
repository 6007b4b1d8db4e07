"""A training run's whole lifecycle, in this process, from a resolved :class:`TrainRequest`.

:func:`run` is what ``python -m laom_core train`` does after parsing its arguments, and
what any backend that starts a run's process ends up calling: check the data against the
method and the memory, make (or take over) the run's row in the store, check and make the
run folder (a resume must match what the folder was made with), run the method's stages
with SIGTERM turned into a clean ``stopped``, write ``summary.json`` and set the final
status. Every failure that happens once a run id is known is recorded in the store before
it propagates, so a run never stays ``running`` behind a process that gave up.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from laom_core import rundir
from laom_core.rundir import RunDir
from laom_core.errors import ConfigError, LaomError
from laom_core.methods import USES_LABELED
from laom_core.runs.request import TrainRequest
from laom_core.workspace import atomic_write_json, runs_dir

ORIGIN = rundir.ORIGIN  # what a run folder was made with; a resume must match it
_ORIGIN_KEYS = ("method", "task", "action_dim", "img_hw", "data", "labeled_data")


class Reported(LaomError):
    """A LaomError whose status the run store already holds."""


def note(msg: str) -> None:
    """A remark for the person who started the run (stderr, one line)."""
    print(f"note: {msg}", file=sys.stderr)


def _raise_interrupt(signum, frame):  # SIGTERM -> KeyboardInterrupt so the store gets a status
    raise KeyboardInterrupt


def run(request: TrainRequest) -> dict[str, Any]:
    """Train ``request`` end to end and return its summary (also ``<run_dir>/summary.json``).

    Raises :class:`Reported` for a user error already recorded as the run's ``failed``
    status, ``LaomError`` for one found before a run row exists (with ``run_id`` set, the
    row is marked failed too), ``KeyboardInterrupt`` on SIGTERM/SIGINT (status
    ``stopped``).
    """
    try:
        return _run(request)
    except Reported:
        raise
    except LaomError as exc:
        if request.run_id:
            record_failure(request.run_id, str(exc))
        raise


def record_failure(run_id: str, error: str, exit_code: int = 2) -> None:
    """Mark ``run_id`` failed with ``error`` (a request that failed its checks before training)."""
    _finish(open_store(), run_id, "failed", error=error, exit_code=exit_code)


def _set_threads() -> None:
    import torch

    # One intra-op thread by default: training runs share a few cores with each other and
    # the dashboard, and oversubscribed OpenMP threads slow every run down many times over.
    threads = os.environ.get("LAOM_TORCH_THREADS", "1")
    try:
        torch.set_num_threads(max(1, int(threads)))
    except ValueError:
        raise ConfigError(f"LAOM_TORCH_THREADS must be an integer, got {threads!r}") from None


def _run(request: TrainRequest) -> dict[str, Any]:
    import torch

    # Deferred on purpose: torch and the training stack take seconds to import, and this
    # module is imported by light callers (the CLI's parser, backends).
    from laom_core.training.common import Metrics, RunContext, pick_device
    from laom_core.training.memory import check_fits
    from laom_core.training.methods import Runner, describe_data

    _set_threads()
    config, method, data = request.config, request.method, request.data
    if request.ignored:
        note(f"ignored config keys of the authors' setup: {', '.join(request.ignored)}")
    labeled = None
    if method in USES_LABELED:
        labeled = request.labeled_data
        if labeled is None:
            labeled = data
            note(f"no --labeled-data: {method} uses the actions of --data's training trajectories as its labeled set")
    elif request.labeled_data is not None:
        note(f"--labeled-data is not used by {method}; ignored")
    eval_data = request.eval_data
    if eval_data is None:
        note("no --eval-data: evaluation will be skipped")
    device = pick_device(request.device)
    torch.manual_seed(config.seed)

    info = describe_data(data, labeled, eval_data, method, config.run.held_out_fraction)
    check_fits(config, method, int(info["img_hw"]), device, action_dim=int(info["action_dim"]),
               data_transitions=int(info["train_transitions"]))  # before any model or run record

    store = open_store()
    if request.run_dir is not None:
        from laom_core.runs.launcher import check_run_folder

        folder = check_run_folder(request.run_dir, store, request.run_id)
        check_run_dir(folder, request.resume)
        if request.resume:
            check_origin(folder, origin(method, info, data, labeled))
    run_id = request.run_id
    if run_id is None and store is not None:
        run_id = store.create_run(
            request.name, method, info["task"], config.to_dict(),
            str(request.run_dir) if request.run_dir else None, group=request.group,
            labeled_budget=info.get("labeled_trajectories") if method in USES_LABELED else None,
            seed=config.seed, datasets=_datasets(data, labeled, eval_data), status="queued",
            preset=request.preset, device=str(device))
    run_dir = request.run_dir or runs_dir() / (run_id or time.strftime("run-%Y%m%d-%H%M%S"))
    try:
        check_run_dir(run_dir, request.resume)
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _finish(store, run_id, "failed", error=f"cannot create run folder {run_dir}: {exc.strerror}", exit_code=2)
        raise ConfigError(f"cannot create run folder {run_dir}: {exc.strerror}") from exc
    except LaomError as exc:
        _finish(store, run_id, "failed", error=str(exc), exit_code=2)
        raise Reported(str(exc)) from exc
    if request.resume and not RunDir(run_dir).stages.exists():
        note(f"nothing to resume in {run_dir}; starting from the beginning")
    if not (request.resume and (run_dir / ORIGIN).exists()):
        atomic_write_json(run_dir / ORIGIN, origin(method, info, data, labeled))
    rundir.write_config(run_dir, config.to_yaml())
    if store is not None and run_id:
        gpu = {"gpu_name": torch.cuda.get_device_name(device)} if device.type == "cuda" else {}
        store.set_status(run_id, "running", run_dir=str(run_dir), device=str(device), preset=request.preset,
                         task=info["task"], config=config.to_dict(), **gpu)

    metrics = Metrics(run_dir, store, run_id, config=config, method=method)
    info["run_id"], info["store"] = run_id, store
    ctx = RunContext(config=config, method=method, device=device, run_dir=run_dir, data_path=data,
                     labeled_path=labeled, eval_path=eval_data, metrics=metrics, resume=request.resume,
                     progress=request.progress, info=info)
    # SIGTERM (the launcher's stop) ends the run as "stopped". Signal handlers can only be set
    # from the main thread; a backend that runs a request in a worker thread stops it otherwise.
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_interrupt) if in_main else None
    try:
        summary = Runner(ctx).run()
    except KeyboardInterrupt:
        _finish(store, run_id, "stopped", error="interrupted")
        raise
    except LaomError as exc:
        _finish(store, run_id, "failed", error=str(exc), exit_code=2)
        raise Reported(str(exc)) from exc
    except BaseException as exc:
        _finish(store, run_id, "failed", error=f"{type(exc).__name__}: {exc}", exit_code=1)
        raise
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
        metrics.close()
    summary["preset"] = request.preset
    rundir.write_summary(run_dir, summary)
    _finish(store, run_id, "finished", exit_code=0)
    return summary


def check_run_dir(run_dir: Path, resume: bool) -> None:
    """Refuse to start a new run over a folder that already holds one (unless resuming)."""
    if not resume and (RunDir(run_dir).checkpoints.exists() or RunDir(run_dir).stages.exists()):
        raise ConfigError(f"run folder {run_dir} already holds a run; pass --resume to continue it or choose "
                          "another --run-dir")


def origin(method: str, info: dict, data: Path, labeled: Path | None) -> dict:
    """What a run folder is made with (method, task, shapes, data files)."""
    return {"method": method, "task": info["task"], "action_dim": int(info["action_dim"]),
            "img_hw": int(info["img_hw"]), "data": str(data), "labeled_data": str(labeled) if labeled else None}


def check_origin(run_dir: Path, now: dict) -> None:
    """Refuse to resume a run folder with another method or other data than it was made with."""
    before: dict = {}
    for name in (ORIGIN, rundir.STAGES):  # stages.json: folders made before origin.json existed
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


def open_store():
    """The workspace's run store (the run's row lives there); None on a cluster node, where
    a run writes metrics.jsonl only (the scheduler ingests it: runs/ingest.py)."""
    from laom_core.runs.store import RunStore

    if os.environ.get("LAOM_STUDIO_STORE") == "off":
        return None

    return RunStore()


def _finish(store, run_id: str | None, status: str, **fields) -> None:
    if store is None or not run_id:
        return
    try:
        store.set_status(run_id, status, **fields)
    except LaomError as exc:  # the run's own result matters more than its row
        print(f"warning: could not record status {status} for run {run_id}: {exc}", file=sys.stderr)
