"""Start, queue, stop and resume runs as background process groups.

How a run lives:

1. :func:`launch` (or :func:`launch_argv` for any command) records the run as ``queued``
   with the exact argument list to start, then makes sure a scheduler is alive.
2. The scheduler (``python -m laom_core runs scheduler``, one per workspace thanks to an
   ``flock`` on ``<workspace>/.scheduler.lock``) starts queued runs, oldest first, while
   fewer than the concurrency limit are running. Each run is its own session and
   process group (``start_new_session=True``), output appended to ``<run_dir>/log.txt``,
   GPU chosen through ``CUDA_VISIBLE_DEVICES``. The scheduler exits once nothing is
   queued and none of its own runs is alive, so it needs neither the dashboard nor the
   CLI to stay open; anyone launching or resuming starts a new one if needed.
3. The run sets its own status (running/finished/failed) in the store. If its process
   dies without doing so, any read of the store (see :mod:`laom_core.runs.liveness`)
   marks it failed with the tail of its log.
4. :func:`stop` sends SIGTERM to the group, SIGKILL after a grace period.

Nothing here holds a run alive: the dashboard and CLI can restart at any time and find
their runs through the store (pid + process start time), never starting one twice.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Iterator, Sequence

from laom_core import procs
from laom_core.errors import ConfigError, LaomError, RunError
from laom_core.rundir import RunDir
from laom_core.runs import liveness
from laom_core.runs.request import REQUEST_FILE, TrainRequest, parse_train_argv, train_command, write_request
from laom_core.runs.store import RunStore, check_run_id, new_run_id, queue_order
from laom_core.workspace import runs_dir, workspace_root

DEFAULT_GRACE_S = 10.0
POLL_S = 0.5
LOCK_NAME = ".scheduler.lock"
PACKAGE_PARENT = procs.PACKAGE_PARENT


# ---------------------------------------------------------------------- launching
def launch(train_args: Sequence[str] | TrainRequest, *, name: str | None = None, group: str | None = None,
           tags: Sequence[str] | None = None, client_token: str | None = None,
           labeled_budget: int | None = None, task: str | None = None,
           store: RunStore | None = None, start_scheduler: bool = True,
           backend: str | None = None, backend_opts: dict | None = None) -> str:
    """Queue ``python -m laom_core train <train_args>`` and return the run id at once.

    ``train_args`` is a checked :class:`TrainRequest` or its ``train`` argument list, checked
    here (:func:`prepare_launch`), so a typo fails here rather than in the background. With
    ``client_token`` the request is idempotent: the same arguments and token give the same run.
    """
    plan = prepare_launch(train_args, labeled_budget=labeled_budget, task=task)
    argv = plan.pop("argv")
    if backend and backend != "local":  # cluster backends (laom_core.runs.backends)
        from laom_core.runs.backends import check_backend

        plan.update(backend=backend, backend_opts=check_backend(backend, backend_opts))
    return launch_argv(argv, name=name, group=group, tags=tags, client_token=client_token, store=store,
                       start_scheduler=start_scheduler, **plan)


def prepare_launch(train_args: Sequence[str] | TrainRequest, *, labeled_budget: int | None = None,
                   task: str | None = None) -> dict:
    """Check a training request and return :func:`launch_argv`'s arguments; queues nothing.

    ``train_args`` is a :class:`TrainRequest` or ``train`` arguments, checked by the one
    validation of :mod:`laom_core.runs.request` (config, data files; paths made absolute).
    Returns ``{"argv", "method", "task", "config", "labeled_budget", "seed", "datasets",
    "preset", "device", "request"}``. The queued command is the request's ``train`` arguments
    plus ``--request <run_dir>/request.json``: the run trains with the request as checked here
    (its config is not reloaded from a YAML file that may have changed while it was queued).
    Sweeps prepare every cell before queueing any.
    """
    request = train_args if isinstance(train_args, TrainRequest) else parse_train_argv(train_args)
    if request.run_dir is not None or request.run_id is not None:
        raise ConfigError("--run-dir and --run-id are chosen by the launcher; leave them out")
    # The run's row holds its name and group; the command holds only what trains.
    request = request.replace(name=None, group=None)
    datasets = request.datasets()
    info = _dataset_summary(datasets.get("data"))
    _check_no_label_leak(request)
    if task is None:
        task = info.get("task")
    if labeled_budget is None and "labeled_data" in datasets:
        labeled_budget = _dataset_summary(datasets["labeled_data"]).get("num_trajectories")
    argv = [*train_command(request), "--request", f"{{run_dir}}/{REQUEST_FILE}", "--run-dir", "{run_dir}",
            "--run-id", "{run_id}"]
    device = request.device if request.device != "auto" else ("cpu" if not visible_gpus() else "cuda")
    return {"argv": argv, "method": request.method, "task": task, "config": request.config.to_dict(),
            "labeled_budget": labeled_budget, "seed": request.seed, "datasets": datasets,
            "preset": request.preset, "device": device, "request": request}


def launch_argv(argv: Sequence[str], *, name: str | None = None, method: str | None = None,
                task: str | None = None, config: dict | None = None, group: str | None = None,
                labeled_budget: int | None = None, seed: int = 0, datasets: dict | None = None,
                tags: Sequence[str] | None = None, client_token: str | None = None,
                store: RunStore | None = None, start_scheduler: bool = True, preset: str | None = None,
                device: str | None = None, request: TrainRequest | None = None,
                backend: str | None = None, backend_opts: dict | None = None) -> str:
    """Queue any command as a run (``{run_id}`` and ``{run_dir}`` in ``argv`` are filled in).

    With ``request`` (a training run), it is saved in the run folder as ``request.json``
    before the run is queued, so the scheduler never starts a run whose request is not there.
    ``backend``: where it runs (None/"local": here; see :mod:`laom_core.runs.backends`).
    """
    argv = [str(a) for a in argv]
    if not argv:
        raise RunError("empty command")
    own_store = store is None
    store = store or RunStore()
    try:
        run_id = new_run_id(method)
        run_dir = runs_dir() / run_id
        full = [a.replace("{run_id}", run_id).replace("{run_dir}", str(run_dir)) for a in argv]
        key = request_key(argv, client_token) if client_token else None
        if request is not None:
            run_dir.mkdir(parents=True, exist_ok=True)
            write_request(run_dir / REQUEST_FILE, request.replace(run_dir=run_dir, run_id=run_id))
        try:
            got = store.create_run(name, method, task, config, run_dir, group=group, labeled_budget=labeled_budget,
                                   seed=seed, datasets=datasets, tags=tags, status="queued", request_key=key,
                                   run_id=run_id, argv=full, preset=preset, device=device,
                                   backend=backend, backend_opts=backend_opts)
        except BaseException:
            if request is not None:
                shutil.rmtree(run_dir, ignore_errors=True)
            raise
        if got == run_id:
            run_dir.mkdir(parents=True, exist_ok=True)
        elif request is not None:  # the same request was queued before: that run is the answer
            shutil.rmtree(run_dir, ignore_errors=True)
        if start_scheduler:
            ensure_scheduler(store)
        return got
    finally:
        if own_store:
            store.close()


def request_key(argv: Sequence[str], client_token: str) -> str:
    """Hash of the command template and a client token: equal requests map to one run.

    ``--request FILE`` is where a request is kept, not part of it: it is left out, so runs
    queued before requests were saved are still found by the same launch.
    """
    argv = list(argv)
    if "--request" in argv:
        i = argv.index("--request")
        del argv[i:i + 2]
    blob = json.dumps([list(argv), str(client_token)], sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()


def _check_no_label_leak(request: TrainRequest) -> None:
    """Refuse at queue time the labeled file that ``train`` would refuse at start (it holds
    steps of the training data's held-out trajectories), so the form or sweep that asked for
    it says so at once instead of queueing a run that fails."""
    from laom_core.methods import USES_LABELED

    if request.method not in USES_LABELED or request.labeled_data is None:
        return
    if not (Path(request.data).is_file() and Path(request.labeled_data).is_file()):
        return  # a missing file is reported by the run with its own message
    from laom_core.data.splits import check_no_label_leak

    check_no_label_leak(request.labeled_data, request.data, request.config.run.held_out_fraction)


def _dataset_summary(path: str | None) -> dict:
    if not path:
        return {}
    try:
        from laom_core.data.hdf5 import open_dataset

        with open_dataset(path) as ds:
            attrs = ds.attrs
            domain, task = attrs.get("domain_name"), attrs.get("task_name")
            return {"task": f"{domain}-{task}" if domain and task else None,
                    "num_trajectories": int(ds.num_trajectories)}
    except LaomError:
        raise
    except Exception:  # noqa: BLE001 - the training process reports a bad file in detail
        return {}


# ---------------------------------------------------------------------- queue and scheduler
def visible_gpus() -> list[str]:
    """GPU ids runs may use: LAOM_STUDIO_GPUS, else CUDA_VISIBLE_DEVICES, else ``nvidia-smi -L``."""
    for var in ("LAOM_STUDIO_GPUS", "CUDA_VISIBLE_DEVICES"):
        value = os.environ.get(var)
        if value is not None:
            ids = [v.strip() for v in value.split(",") if v.strip() and v.strip() != "-1"]
            return ids
    smi = shutil.which("nvidia-smi")
    if not smi:
        return []
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(l for l in out.splitlines() if l.startswith("GPU "))]


def max_concurrent(store: RunStore, gpus: list[str] | None = None) -> int:
    """Concurrency limit: LAOM_STUDIO_MAX_RUNS, else the workspace setting, else 1 per GPU (1 on CPU)."""
    env = os.environ.get("LAOM_STUDIO_MAX_RUNS")
    if env:
        try:
            return max(1, int(env))
        except ValueError as exc:
            raise ConfigError(f"LAOM_STUDIO_MAX_RUNS must be an integer, got {env!r}") from exc
    value = store.get_setting("max_concurrent")
    if value:
        return max(1, int(value))
    return max(1, len(visible_gpus() if gpus is None else gpus))


def set_max_concurrent(n: int | None, store: RunStore | None = None) -> None:
    """Store the workspace's concurrency limit (None: back to the default)."""
    if n is not None and int(n) < 1:
        raise ConfigError("the concurrency limit must be at least 1")
    with _store(store) as s:
        s.set_setting("max_concurrent", int(n) if n is not None else None)


def lock_path() -> Path:
    return workspace_root() / LOCK_NAME


class SchedulerLock:
    """An exclusive, non-blocking ``flock`` on the workspace's scheduler lock file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or lock_path()
        self._fh: IO | None = None

    def acquire(self) -> bool:
        fh = open(self.path, "a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return False
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._fh = fh
        return True

    def release(self) -> None:
        if self._fh is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def scheduler_alive() -> bool:
    """Whether some process holds the workspace's scheduler lock."""
    lock = SchedulerLock()
    if lock.acquire():
        lock.release()
        return False
    return True


def ensure_scheduler(store: RunStore | None = None) -> bool:
    """Start a detached scheduler if runs are queued and none is alive; True if one was started."""
    procs.reap()  # schedulers we started earlier
    with _store(store) as s:
        if not _startable(s) and not _remote_running(s):
            return False
    if scheduler_alive():
        return False
    procs.start([sys.executable, "-m", "laom_core.runs.scheduler"], log=workspace_root() / "scheduler.log",
                env=_child_env(), cwd=workspace_root())
    return True


def run_scheduler(store: RunStore | None = None, poll_s: float | None = None, log: IO | None = None) -> int:
    """The scheduler loop (``python -m laom_core runs scheduler``); returns 0, or 1 if another runs."""
    log = log or sys.stdout
    if poll_s is None:
        poll_s = float(os.environ.get("LAOM_STUDIO_SCHEDULER_POLL", POLL_S))
    lock = SchedulerLock()
    if not lock.acquire():
        print("another scheduler is running in this workspace", file=log, flush=True)
        return 1
    own = store is None
    store = store or RunStore()
    children: dict[str, procs.Proc] = {}
    gpus = visible_gpus()  # once: nvidia-smi is slow and GPUs do not come and go
    failures = 0
    print(f"scheduler {os.getpid()} started at {_stamp()} (GPUs: {','.join(gpus) or 'none'})", file=log, flush=True)
    try:
        while True:
            try:
                if not _tick(store, children, gpus, log):
                    # Nothing queued, none of ours alive. Let go of the lock first, then look
                    # again: a launch that found the lock taken had queued its run before we
                    # released, so we see it here; a later launch starts a new scheduler.
                    lock.release()
                    if not _startable(store) or not lock.acquire():
                        print(f"scheduler {os.getpid()} done at {_stamp()}", file=log, flush=True)
                        return 0
                    continue
                failures = 0
            except Exception as exc:  # noqa: BLE001 - keep serving the queue through a hiccup
                failures += 1
                print(f"{_stamp()} scheduler error ({failures}): {type(exc).__name__}: {exc}", file=log, flush=True)
                if failures >= 30:
                    print("giving up after 30 errors in a row", file=log, flush=True)
                    return 2
                time.sleep(min(5.0, poll_s * 2 ** min(failures, 4)))
                continue
            time.sleep(poll_s)
    finally:
        lock.release()
        if own:
            store.close()


def _tick(store: RunStore, children: dict[str, procs.Proc], gpus: list[str], log: IO) -> bool:
    """One scheduler pass: reap our children, mark dead runs, start queued runs into free slots.

    Returns False when there is nothing left to do (nothing queued, no child of ours alive).
    """
    for run_id, proc in list(children.items()):
        code = proc.poll()
        if code is not None:
            _finalize(store, run_id, code)
            del children[run_id]
    store.reconcile()
    # --- cluster backends hook (laom_core.runs.backends): remote runs are submitted, watched
    # and their metrics ingested there; everything below is about local runs only.
    from laom_core.runs import backends

    remote_busy = backends.tick(store, log)
    queued = [r for r in _startable(store) if not backends.is_remote(r)]
    if not queued:
        return bool(children) or remote_busy
    running = [r for r in store.list_runs(status="running", reconcile=False) if not backends.is_remote(r)]
    # --- end of hook
    free = max_concurrent(store, gpus) - len(running)
    for run in queued[:max(0, free)]:
        proc = _start(store, run, gpus, running)
        if proc is not None:
            children[run["id"]] = proc
            running.append(store.get_run(run["id"], reconcile=False))
            print(f"{_stamp()} started {run['id']} pid {proc.pid}", file=log, flush=True)
    return True


def _startable(store: RunStore) -> list[dict]:
    """Queued runs the launcher made (with a command): higher priority first, then oldest
    first (``list_runs`` is oldest first and the sort is stable).

    A ``train`` started by hand records itself as queued for a moment before it sets
    running; it has no command and is not the scheduler's to start.
    """
    return queue_order(r for r in store.list_runs(status="queued", reconcile=False) if r.get("argv"))


def _remote_running(store: RunStore) -> bool:
    """Cluster backends hook: running remote runs need a scheduler to watch them."""
    from laom_core.runs import backends

    return any(backends.is_remote(r) for r in store.list_runs(status="running", reconcile=False))


def _start(store: RunStore, run: dict, gpus: list[str], running: list[dict]) -> procs.Proc | None:
    """Claim a queued run (queued -> running) and start its process group."""
    run_id = run["id"]
    argv = run.get("argv")
    now = time.time()
    # A resumed run keeps its first start: its duration counts from there, not from the resume.
    if not store.transition(run_id, ["queued"], "running", started_at=run.get("started_at") or now, ended_at=None,
                            pid=None, pgid=None,
                            proc_start=None, host=socket.gethostname(), exit_code=None, error=None):
        return None  # someone else changed it (stopped while queued)
    if not argv:
        store.transition(run_id, ["running"], "failed", ended_at=now, error="the run has no command to start")
        return None
    run_dir = Path(run["run_dir"] or (runs_dir() / run_id))
    env = _child_env()
    gpu = None
    if gpus and "cpu" not in _device_of(argv):
        load = {g: 0 for g in gpus}
        for other in running:
            if other.get("gpu") in load:
                load[other["gpu"]] += 1
        gpu = min(gpus, key=lambda g: (load[g], gpus.index(g)))
        env["CUDA_VISIBLE_DEVICES"] = gpu
    attempt = int(run.get("attempts") or 0) + 1
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        proc = procs.start(argv, log=RunDir(run_dir).log, env=env, cwd=run_dir,
                           header=f"=== {_stamp()} attempt {attempt}: {' '.join(argv)}")
    except OSError as exc:
        store.transition(run_id, ["running"], "failed", ended_at=time.time(),
                         error=f"cannot start the run's process: {exc}")
        return None
    store.update_run(run_id, pid=proc.pid, pgid=proc.pgid, proc_start=proc.start_time,
                     host=socket.gethostname(), gpu=gpu, attempts=attempt)
    return proc


def _finalize(store: RunStore, run_id: str, code: int) -> None:
    """Record a child's exit code; if it did not report a final status, decide one."""
    run = store.get_run(run_id, reconcile=False)
    now, code = time.time(), int(code)
    if run["status"] == "running" and run["stop_requested"]:
        if store.transition(run_id, ["running"], "stopped", ended_at=now, exit_code=code):
            return
    elif run["status"] == "running" and code == 0:
        if store.transition(run_id, ["running"], "finished", ended_at=now, exit_code=code):
            return
    elif code == 0 and run["status"] == "failed" and (run["error"] or "").startswith(liveness.NO_REPORT):
        # A reader saw the exited (zombie) process before we reaped it and, with no exit code
        # to go on, called it failed; exit 0 says the command completed. Commands that do not
        # set their own status (anything but ``train``) would otherwise end "failed" by chance.
        if store.transition(run_id, ["failed"], "finished", error=None, exit_code=code):
            return
    elif code != 0 and run["status"] in ("running", "failed"):
        how = f"killed by {signal.Signals(-code).name}" if code < 0 and -code in signal.valid_signals() \
            else f"exit code {code}"
        tail = liveness.log_tail(run["run_dir"])
        error = f"the run's process ended ({how})" + (f"; log tail:\n{tail}" if tail else "")
        if run["status"] == "running":
            if store.transition(run_id, ["running"], "failed", ended_at=now, error=error, exit_code=code):
                return
        elif (run["error"] or "").startswith(liveness.NO_REPORT):
            # A reader saw the zombie first; we know better now: say how it ended.
            if store.transition(run_id, ["failed"], "failed", error=error, exit_code=code):
                return
    store.update_run(run_id, exit_code=code)


def _device_of(argv: Sequence[str]) -> str:
    for i, a in enumerate(argv):
        if a == "--device" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--device="):
            return a.split("=", 1)[1]
    return ""


def _child_env() -> dict[str, str]:
    return procs.child_env(workspace=workspace_root())


# ---------------------------------------------------------------------- stop, resume, logs
def stop(run_id: str, grace_s: float = DEFAULT_GRACE_S, store: RunStore | None = None) -> str:
    """Stop a queued or running run; returns its final status.

    Running: SIGTERM to its process group, SIGKILL to whatever is left after ``grace_s``.
    """
    with _store(store) as s:
        run = s.get_run(run_id)
        if run["status"] == "queued":
            if s.transition(run_id, ["queued"], "stopped", ended_at=time.time(), stop_requested=1):
                return "stopped"
            run = s.get_run(run_id)
        if run["status"] != "running":
            raise RunError(f"run {run_id} is {run['status']}; only queued or running runs can be stopped")
        s.update_run(run_id, stop_requested=1)
        from laom_core.runs import backends  # cluster backends hook: cancel the job there

        if backends.is_remote(run):
            return backends.stop_remote(s, run, grace_s)
        if run["host"] and run["host"] != socket.gethostname():
            raise RunError(f"run {run_id} runs on host {run['host']}; stop it there")
        pgid = run["pgid"] or run["pid"]
        if pgid is None:  # claimed by the scheduler but not started yet: wait a moment for its pid
            deadline = time.time() + 5
            while pgid is None and time.time() < deadline:
                time.sleep(0.1)
                run = s.get_run(run_id, reconcile=False)
                pgid = run["pgid"] or run["pid"]
        if pgid is not None and _ours(run):
            procs.stop_group(pgid, grace_s)
        s.transition(run_id, ["running", "failed"], "stopped", ended_at=time.time())
        return s.get_run(run_id, reconcile=False)["status"]


def stop_all(grace_s: float = DEFAULT_GRACE_S, store: RunStore | None = None) -> list[str]:
    """Stop every queued or running run of this workspace; returns their ids.

    A run that ends on its own meanwhile is skipped rather than reported as an error.
    """
    stopped = []
    with _store(store) as s:
        for run in s.list_runs(status=["queued", "running"]):
            try:
                stop(run["id"], grace_s=grace_s, store=s)
                stopped.append(run["id"])
            except RunError:
                pass
    return stopped


def _ours(run: dict) -> bool:
    """True unless the pid now belongs to an unrelated process (pid reuse)."""
    pid, start = run["pid"], run["proc_start"]
    if pid is None:
        return False
    alive = liveness.process_alive(pid, start, run["host"])
    if alive:
        return True
    # Leader gone: its group may still hold orphans of our run, unless the pid was reused.
    return liveness.process_start_time(pid) is None


def resume(run_id: str, store: RunStore | None = None, start_scheduler: bool = True) -> str:
    """Re-queue a stopped or failed run; a ``train`` command gets ``--resume``."""
    with _store(store) as s:
        run = s.get_run(run_id)
        if run["status"] not in ("stopped", "failed"):
            raise RunError(f"run {run_id} is {run['status']}; only stopped or failed runs can be resumed")
        argv = list(run.get("argv") or [])
        if not argv:
            raise RunError(f"run {run_id} has no recorded command (it was not started by the launcher)")
        if "--resume" not in argv:  # train (and any command launched this way) continues its checkpoint
            argv.append("--resume")
        if not s.transition(run_id, ["stopped", "failed"], "queued", queued_at=time.time(), argv=argv,
                            stop_requested=0, exit_code=None, error=None, ended_at=None, pid=None, pgid=None,
                            proc_start=None):
            raise RunError(f"run {run_id} changed state meanwhile; try again")
        if start_scheduler:
            ensure_scheduler(s)
        return run_id


def check_run_folder(folder: str | os.PathLike, store: RunStore | None = None, own_run_id: str | None = None) -> Path:
    """Refuse a run folder that holds more than one run: the workspace, its runs folder, a
    folder above them, or a folder above (or inside) another run's folder. Returns it resolved."""
    resolved = Path(folder).expanduser().resolve()
    for name, place in (("the workspace", workspace_root()), ("the workspace's runs folder", runs_dir())):
        place = place.resolve()
        if resolved == place or resolved in place.parents:
            what = name if resolved == place else f"a folder above {name}"
            raise ConfigError(f"run folder {resolved} is {what} ({place}); choose a folder of its own, "
                              f"e.g. {runs_dir() / 'my-run'}")
    if store is not None:
        for run in store.list_runs(reconcile=False):
            if run["id"] == own_run_id or not run.get("run_dir"):
                continue
            other = Path(run["run_dir"]).expanduser().resolve()
            if resolved in other.parents or other in resolved.parents:
                raise ConfigError(f"run folder {resolved} would share files with run {run['id']} ({other}); "
                                  "choose a folder of its own")
    return resolved


def _own_run_folder(folder: Path, run_id: str, store: RunStore) -> Path | None:
    """``folder`` resolved if it is one run's own folder, a direct child of the runs folder (no
    symlink leading out of it) that no other run's folder lies in; otherwise None."""
    runs = runs_dir().resolve()
    if folder.is_symlink() or folder.resolve().parent != runs or folder.resolve() == runs:
        return None
    resolved = folder.resolve()
    for run in store.list_runs(reconcile=False):
        if run["id"] == run_id or not run.get("run_dir"):
            continue
        other = Path(run["run_dir"]).resolve()
        if other == resolved or resolved in other.parents:
            return None
    return resolved


def delete(run_id: str, remove_files: bool = True, store: RunStore | None = None) -> None:
    """Forget a run that is not running: its store rows and (unless told not to) its folder.

    Only the run's own folder is removed: a direct child of the workspace's runs folder
    (resolved, so a symlink leading elsewhere stays) that holds no other run's folder.
    """
    with _store(store) as s:
        run = s.get_run(run_id)
        if run["status"] == "running":
            raise RunError(f"run {run_id} is running; stop it first")
        folder = Path(run["run_dir"]) if run["run_dir"] else None
        own = _own_run_folder(folder, run_id, s) if remove_files and folder is not None and folder.exists() else None
        s.delete_run(run_id)
    if own is not None:
        shutil.rmtree(own, ignore_errors=True)


def log_path(run: dict) -> Path:
    return RunDir(run["run_dir"] or (runs_dir() / check_run_id(run["id"]))).log


def read_log(run_id: str, lines: int | None = 200, store: RunStore | None = None) -> str:
    """The last ``lines`` lines of a run's log ('' if none yet)."""
    with _store(store) as s:
        path = log_path(s.get_run(run_id, reconcile=False))
    try:
        return procs.tail(path, lines, max_bytes=None, strict=True)
    except OSError as exc:
        raise RunError(f"cannot read {path}: {exc.strerror}") from exc


def follow_log(run_id: str, poll_s: float = 0.5, store: RunStore | None = None, start: int = 0) -> Iterator[str]:
    """Yield a run's log from byte ``start`` as it grows, until the run is no longer queued/running."""
    with _store(store) as s:
        path = log_path(s.get_run(run_id))
        pos = start
        while True:
            chunk, pos = procs.read_from(path, pos)
            if chunk:
                yield chunk
            status = s.get_run(run_id)["status"]
            if status not in ("queued", "running") and not chunk:
                return
            time.sleep(poll_s)


# ---------------------------------------------------------------------- helpers
@contextlib.contextmanager
def _store(store: RunStore | None) -> Iterator[RunStore]:
    if store is not None:
        yield store
        return
    s = RunStore()
    try:
        yield s
    finally:
        s.close()


def _stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
