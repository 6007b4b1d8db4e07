"""Where a run executes: ``local`` (a process group on this machine), ``slurm`` or ``ray``.

The seam between the run queue and a cluster. A queued run records its backend and the
backend's options (``runs.backend``, ``runs.backend_opts``; NULL means local, as every run
of a store older than schema v2). The scheduler (:mod:`laom_core.runs.launcher`) starts
local runs itself exactly as before; for the other backends it calls :func:`tick` on every
pass, which

- submits queued remote runs while fewer than the backend's concurrency limit are active
  (``runs concurrency --backend slurm N``), recording the job id,
- ingests the new lines of each active run's ``metrics.jsonl`` into the store
  (:mod:`laom_core.runs.ingest`, exactly once across scheduler restarts),
- polls each job; a run ends when its ``exit.json`` appears (written by
  :mod:`laom_core.runs.backends.entry` on the node) or, as a backstop, when the backend says
  the job is gone; a failure carries the tail of its log.

A remote run's process never opens the store (``LAOM_STUDIO_STORE=off``): the workspace
must be on a filesystem the cluster's nodes share (same path), SQLite stays local.
"""
from __future__ import annotations

import dataclasses
import os
import signal
import sys
import time
from pathlib import Path
from typing import IO, Protocol

from laom_core.rundir import RunDir
from laom_core.errors import ConfigError
from laom_core.runs import ingest
from laom_core.runs.store import RunStore, queue_order

BACKENDS = ("local", "slurm", "ray")
REMOTE = ("slurm", "ray")
DEFAULT_REMOTE_LIMIT = 64  # jobs a remote backend may have submitted at once (the cluster queues the rest)
SUBMIT_GRACE_S = 120.0  # a claimed run must have a job id within this long
# Ask the cluster about a job at most this often (scontrol/Ray calls are not free for the
# cluster's controller); exit.json and metrics are read on every scheduler pass.
POLL_BACKEND_S = float(os.environ.get("LAOM_STUDIO_BACKEND_POLL", "10"))
_LAST_POLL: dict[str, float] = {}
STORE_ENV = "LAOM_STUDIO_STORE"  # "off": the run writes metrics.jsonl instead of opening the store


from laom_core.runs.backends.base import Backend, JobState  # noqa: E402,F401 - the seam


def get(name: str | None) -> Backend:
    """The backend called ``name`` (None or '' is local)."""
    name = name or "local"
    if name == "local":
        from laom_core.runs.backends.local import LocalBackend

        return LocalBackend()
    if name == "slurm":
        from laom_core.runs.backends.slurm import SlurmBackend

        return SlurmBackend()
    if name == "ray":
        from laom_core.runs.backends.ray_jobs import RayBackend

        return RayBackend()
    raise ConfigError(f"unknown backend {name!r} (one of {', '.join(BACKENDS)})")


def is_remote(run: dict) -> bool:
    return (run.get("backend") or "local") != "local"


CLUSTER_FILE = "cluster.yaml"
MAX_CLUSTER_FILE_BYTES = 64 * 1024


def cluster_defaults(backend: str) -> dict:
    """The ``backend:`` section of ``<workspace>/cluster.yaml`` ({} when there is none).

    Example::

        slurm:
          partition: gpu
          gpus: 1
          time_limit_min: 240
          sbatch: {account: my-lab, qos: normal}
        ray:
          address: http://127.0.0.1:8265
    """
    import yaml

    from laom_core.workspace import workspace_root

    path = workspace_root() / CLUSTER_FILE
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_CLUSTER_FILE_BYTES + 1)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    if len(data) > MAX_CLUSTER_FILE_BYTES:
        raise ConfigError(f"{path} is larger than {MAX_CLUSTER_FILE_BYTES // 1024} KiB; is it the right file?")
    try:
        loaded = yaml.safe_load(data.decode("utf-8", errors="replace")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path} must be a mapping with 'slurm:' and/or 'ray:' sections")
    section = loaded.get(backend) or {}
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: the {backend!r} section must be a mapping")
    return dict(section)


def check_backend(name: str | None, opts: dict | None = None) -> dict:
    """Validate a backend choice before queueing; returns the options to record
    (``cluster.yaml``'s section for the backend, overridden by ``opts``)."""
    name = name or "local"
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r} (one of {', '.join(BACKENDS)})")
    opts = {k: v for k, v in (opts or {}).items() if v not in (None, "")}
    if name == "local":
        if opts:
            raise ConfigError(f"backend options ({', '.join(sorted(opts))}) need --backend slurm or ray")
        return {}
    merged = {**cluster_defaults(name), **opts}
    get(name).check(merged)
    return merged


# ---------------------------------------------------------------------- command line
def add_cli_options(parser) -> None:
    """``--backend`` and its options, for ``launch`` and ``sweep``."""
    parser.add_argument("--backend", choices=BACKENDS, default="local",
                        help="where the run executes: local (default), slurm (submitit) or ray (Ray Jobs); "
                             "defaults for slurm/ray come from <workspace>/cluster.yaml")
    parser.add_argument("--partition", default=None, help="slurm: partition")
    parser.add_argument("--gpus", type=int, default=None, help="slurm/ray: GPUs per run")
    parser.add_argument("--time-limit", type=int, default=None, metavar="MIN", help="slurm: time limit in minutes")
    parser.add_argument("--ray-address", default=None, help="ray: the cluster's jobs address (http://host:8265)")


def cli_options(args) -> tuple[str, dict]:
    """(backend, options given on the command line) from :func:`add_cli_options`' arguments."""
    backend = getattr(args, "backend", None) or "local"
    opts: dict = {}
    if args.partition:
        opts["partition"] = args.partition
    if args.gpus is not None:
        opts["gpus"] = args.gpus
    if args.time_limit is not None:
        opts["time_limit_min"] = args.time_limit
    if args.ray_address:
        opts["address"] = args.ray_address
    if backend == "ray":
        bad = {"partition", "time_limit_min"} & set(opts)
    elif backend == "slurm":
        bad = {"address"} & set(opts)
    else:
        bad = set(opts)
    if bad:
        names = {"partition": "--partition", "time_limit_min": "--time-limit", "address": "--ray-address",
                 "gpus": "--gpus"}
        raise ConfigError(f"{', '.join(sorted(names[b] for b in bad))} does not apply to --backend {backend}")
    return backend, opts


# ---------------------------------------------------------------------- concurrency
def max_remote(store: RunStore, backend: str) -> int:
    value = store.get_setting(f"max_concurrent:{backend}")
    return max(1, int(value)) if value else DEFAULT_REMOTE_LIMIT


def set_max_remote(store: RunStore, backend: str, n: int | None) -> None:
    if backend not in REMOTE:
        raise ConfigError(f"--backend must be one of {', '.join(REMOTE)} here (local: leave --backend out)")
    if n is not None and int(n) < 1:
        raise ConfigError("the concurrency limit must be at least 1")
    store.set_setting(f"max_concurrent:{backend}", int(n) if n is not None else None)


# ---------------------------------------------------------------------- the scheduler's pass
def remote_active(store: RunStore) -> list[dict]:
    """Remote runs the scheduler must watch (running), or start (queued), in queue order."""
    return queue_order(r for r in store.list_runs(status=["queued", "running"], reconcile=False) if is_remote(r))


def job_env() -> dict[str, str]:
    """Environment of a remote run's process: the workspace, the package, no store."""
    from laom_core.procs import PACKAGE_PARENT
    from laom_core.workspace import WORKSPACE_ENV, workspace_root

    env = {WORKSPACE_ENV: str(workspace_root()), "PYTHONUNBUFFERED": "1", STORE_ENV: "off"}
    paths = [PACKAGE_PARENT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                                if p and p != PACKAGE_PARENT]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    for var in ("MUJOCO_GL", "LAOM_TORCH_THREADS", "PATH", "HOME"):
        if os.environ.get(var):
            env[var] = os.environ[var]
    return env


def entry_argv(run_dir: Path, attempt: int, argv: list[str]) -> list[str]:
    return [sys.executable, "-m", "laom_core.runs.backends.entry", str(run_dir), str(attempt), "--", *argv]


def tick(store: RunStore, log: IO | None = None) -> bool:
    """One pass over the remote runs; True while any is queued or running (the scheduler stays)."""
    active = remote_active(store)
    if not active:
        return False
    counts: dict[str, int] = {}
    for run in active:
        if run["status"] == "running":
            counts[run["backend"]] = counts.get(run["backend"], 0) + 1
    to_submit: list[dict] = []
    for run in active:
        try:
            if run["status"] == "running":
                _watch(store, run, log)
            elif counts.get(run["backend"], 0) < max_remote(store, run["backend"]):
                to_submit.append(run)
                counts[run["backend"]] = counts.get(run["backend"], 0) + 1
        except Exception as exc:  # noqa: BLE001 - one bad run must not stop the others
            _say(log, f"{run['id']} ({run['backend']}): {type(exc).__name__}: {exc}")
    for batch in _batches(to_submit):
        try:
            if len(batch) > 1:
                _submit_array(store, batch, log)
            else:
                _submit(store, batch[0], log)
        except Exception as exc:  # noqa: BLE001
            _say(log, f"{batch[0]['id']} ({batch[0]['backend']}): {type(exc).__name__}: {exc}")
    return True


def _batches(runs: list[dict]) -> list[list[dict]]:
    """Queued Slurm runs of one group (a sweep) with the same options go as one job array."""
    import json

    out: list[list[dict]] = []
    arrays: dict[tuple, list[dict]] = {}
    for run in runs:
        if run["backend"] == "slurm" and run.get("group_name") and not run.get("attempts"):
            key = (run["group_name"], json.dumps(run.get("backend_opts") or {}, sort_keys=True))
            if key not in arrays:
                arrays[key] = []
                out.append(arrays[key])
            arrays[key].append(run)
        else:
            out.append([run])
    return out


def _submit_array(store: RunStore, runs: list[dict], log: IO | None) -> None:
    from laom_core.workspace import workspace_root

    now = time.time()
    claimed = [r for r in runs if store.transition(
        r["id"], ["queued"], "running", started_at=r.get("started_at") or now, ended_at=None, pid=None, pgid=None,
        proc_start=None, host=None, exit_code=None, error=None, job_id=None, attempts=1)]
    if not claimed:
        return
    argvs = []
    for run in claimed:
        run_dir = Path(run["run_dir"])
        run_dir.mkdir(parents=True, exist_ok=True)
        RunDir(run_dir).exit.unlink(missing_ok=True)
        argvs.append(entry_argv(run_dir, 1, list(run.get("argv") or [])))
    folder = workspace_root() / "slurm-arrays" / claimed[0]["id"]
    try:
        from laom_core.runs.backends.slurm import SlurmBackend

        job_ids = SlurmBackend().submit_array(claimed, argvs, job_env(), dict(claimed[0].get("backend_opts") or {}),
                                              folder)
    except Exception as exc:  # noqa: BLE001 - reported on every run of the array
        for run in claimed:
            store.transition(run["id"], ["running"], "failed", ended_at=time.time(),
                             error=f"cannot submit to slurm (job array): {exc}")
        _say(log, f"job array of {len(claimed)} runs failed to submit: {exc}")
        return
    for run, job_id in zip(claimed, job_ids):
        store.update_run(run["id"], job_id=str(job_id))
    _say(log, f"submitted {len(claimed)} runs of {claimed[0]['group_name']} to slurm as job array "
              f"{job_ids[0].split('_')[0]}")


def _submit(store: RunStore, run: dict, log: IO | None) -> bool:
    run_id, now = run["id"], time.time()
    argv = list(run.get("argv") or [])
    attempt = int(run.get("attempts") or 0) + 1
    if not store.transition(run_id, ["queued"], "running", started_at=run.get("started_at") or now,
                            ended_at=None, pid=None, pgid=None, proc_start=None, host=None, exit_code=None,
                            error=None, job_id=None, attempts=attempt):
        return False
    run_dir = Path(run["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    RunDir(run_dir).exit.unlink(missing_ok=True)
    try:
        job_id = get(run["backend"]).submit(run, entry_argv(run_dir, attempt, argv), job_env(),
                                            dict(run.get("backend_opts") or {}))
    except Exception as exc:  # noqa: BLE001 - reported on the run
        store.transition(run_id, ["running"], "failed", ended_at=time.time(),
                         error=f"cannot submit to {run['backend']}: {exc}")
        _say(log, f"{run_id}: submit to {run['backend']} failed: {exc}")
        return False
    store.update_run(run_id, job_id=str(job_id))
    _say(log, f"submitted {run_id} to {run['backend']} as job {job_id}")
    fresh = store.get_run(run_id, reconcile=False)
    if fresh["stop_requested"] or fresh["status"] != "running":  # stopped while we were submitting
        get(run["backend"]).cancel(fresh, grace_s=0.0)
    return True


def _watch(store: RunStore, run: dict, log: IO | None) -> None:
    run_id = run["id"]
    run_dir = Path(run["run_dir"])
    ingest.ingest_metrics(store, run_id, run_dir)
    if not run.get("job_id"):
        if time.time() - (run.get("updated_at") or time.time()) > SUBMIT_GRACE_S:
            store.transition(run_id, ["running"], "failed", ended_at=time.time(),
                             error="the scheduler died while submitting the run; resume it")
        return
    exit_info = ingest.read_json(RunDir(run_dir).exit)
    if exit_info is not None:
        _finish(store, run, int(exit_info.get("exit_code", 1)), "", log)
        return
    now = time.time()
    if now - _LAST_POLL.get(run_id, 0.0) < POLL_BACKEND_S:
        return
    _LAST_POLL[run_id] = now
    state = get(run["backend"]).poll(run)
    if state.ended:
        # The job is over; exit.json may arrive a moment later on a shared filesystem.
        time.sleep(0.2)
        exit_info = ingest.read_json(RunDir(run_dir).exit)
        code = int(exit_info["exit_code"]) if exit_info is not None else (
            state.exit_code if state.exit_code is not None and state.state != "done" else None)
        _finish(store, run, code, state.reason or f"the {run['backend']} job ended ({state.state})", log)


def _finish(store: RunStore, run: dict, code: int | None, reason: str, log: IO | None) -> None:
    from laom_core.runs.liveness import log_tail

    run_id, now = run["id"], time.time()
    _LAST_POLL.pop(run_id, None)
    ingest.ingest_metrics(store, run_id, run["run_dir"])  # the last lines, before the status changes
    fresh = store.get_run(run_id, reconcile=False)
    if fresh["status"] != "running":
        return
    if fresh["stop_requested"]:
        store.transition(run_id, ["running"], "stopped", ended_at=now, exit_code=code)
    elif code == 0:
        store.transition(run_id, ["running"], "finished", ended_at=now, exit_code=0)
    else:
        if code is None:
            how = reason or "the job ended without an exit code"
        elif code < 0 and -code in signal.valid_signals():
            how = f"killed by {signal.Signals(-code).name}"
        else:
            how = f"exit code {code}"
        tail = log_tail(run["run_dir"]) or get(run["backend"]).log(run, lines=20)
        error = f"the run's process ended ({how}) on {run['backend']} job {run.get('job_id')}" + (
            f"; log tail:\n{tail}" if tail else "")
        store.transition(run_id, ["running"], "failed", ended_at=now, exit_code=code, error=error)
    _say(log, f"{run_id} ({run['backend']} job {run.get('job_id')}) ended: exit {code}")


def stop_remote(store: RunStore, run: dict, grace_s: float) -> str:
    """Stop a running remote run: cancel its job (TERM, KILL after ``grace_s``), then record it."""
    store.update_run(run["id"], stop_requested=1)
    if run.get("job_id"):
        get(run["backend"]).cancel(run, grace_s)
    ingest.ingest_metrics(store, run["id"], run["run_dir"])
    store.transition(run["id"], ["running", "failed"], "stopped", ended_at=time.time())
    return store.get_run(run["id"], reconcile=False)["status"]


def _say(log: IO | None, text: str) -> None:
    if log is not None:
        print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}", file=log, flush=True)
