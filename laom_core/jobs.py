"""Background jobs that are not training runs: dataset collection, subset sampling, UMAP.

Training runs go through :mod:`laom_core.runs.launcher` and the run store. Everything else
the dashboard starts in the background is a *job*: a process started from an argument
list, wrapped by ``python -m laom_core.jobs run JOB_DIR`` which records the exit code, so a
job's state survives the dashboard restarting. Each job has a folder
``<workspace>/jobs/<id>/`` with ``job.json`` (what, when, pid), ``log.txt`` (output) and,
when the process ended, ``result.json`` (exit code, end time).

Processes are started, checked and stopped by :mod:`laom_core.procs` (pid + start time,
so a reused pid is never taken for a job's). Progress is structured: the job's command
calls :func:`laom_core.procs.report_progress`, which writes ``progress.json`` in the job's
folder. Only for a command that does not report (a foreign tool), the log's last tqdm
``n/total`` or JSON line ``{"progress": x}`` is read instead (:func:`_progress`, the one
place that parses progress text).
"""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from laom_core import procs
from laom_core.errors import LaomError
from laom_core.rundir import LOG, PROGRESS
from laom_core.workspace import atomic_write_json, workspace_root

REPO_ROOT = Path(__file__).resolve().parents[1]
_TQDM = re.compile(r"(\d+)/(\d+) \[")
_PERCENT = re.compile(r"(\d{1,3})%\|")
PROGRESS_FILE = PROGRESS  # a job folder reports progress as a run folder does


def jobs_dir(create: bool = True) -> Path:
    path = workspace_root(create) / "jobs"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class JobStatus:
    id: str
    kind: str
    label: str
    argv: list[str]
    state: str                       # running | finished | failed | stopped
    created: float
    ended: float | None = None
    returncode: int | None = None
    progress: float | None = None    # 0..1 when known
    progress_text: str = ""
    log_tail: str = ""
    result: dict[str, Any] = field(default_factory=dict)  # last JSON line of the output
    key: str | None = None

    @property
    def done(self) -> bool:
        return self.state != "running"


def _read_json(path: Path) -> dict | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def _alive(meta: dict) -> bool:
    """The job's wrapper process is running (its pid and start time, so pid reuse is safe)."""
    return bool(meta.get("pid")) and bool(procs.process_alive(meta["pid"], meta.get("start_time")))


def find_job(key: str) -> JobStatus | None:
    """The newest job started with ``key``, or None."""
    for job in list_jobs():
        if job.key == key:
            return job
    return None


def start_job(kind: str, argv: Sequence[str], *, label: str = "", key: str | None = None,
              env: dict[str, str] | None = None, reuse: Sequence[str] = ("running", "finished")) -> str:
    """Start ``argv`` in the background as a job; returns its id.

    With ``key``, the newest job with the same key is returned instead of starting a
    second one when its state is in ``reuse`` (a double click or page rerun starts one
    job; a finished job is not redone).
    """
    argv = [str(a) for a in argv]
    if not argv:
        raise LaomError("a job needs a command")
    if key is not None:
        previous = find_job(key)
        if previous is not None and previous.state in reuse:
            return previous.id
    job_id = f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    folder = jobs_dir() / job_id
    folder.mkdir(parents=True)
    meta = {"id": job_id, "kind": kind, "label": label or kind, "argv": argv, "key": key,
            "created": time.time(), "pid": None, "start_time": None}
    atomic_write_json(folder / "job.json", meta)
    proc = procs.start([sys.executable, "-m", "laom_core.jobs", "run", str(folder)], log=folder / LOG,
                       cwd=REPO_ROOT, env=procs.child_env(env), progress_file=folder / PROGRESS_FILE)
    meta["pid"], meta["start_time"] = proc.pid, proc.start_time
    atomic_write_json(folder / "job.json", meta)
    return job_id


def _progress(text: str) -> tuple[float | None, str]:
    """Fallback for commands that do not report progress: the last JSON progress line or
    tqdm ``n/total`` / ``NN%|`` in their output, and the line it came from."""
    last_line = ""
    for chunk in reversed(re.split(r"[\r\n]+", text)):
        if chunk.strip():
            last_line = chunk.strip()
            break
    for chunk in reversed(re.split(r"[\r\n]+", text)):
        chunk = chunk.strip()
        if chunk.startswith("{") and '"progress"' in chunk:
            try:
                record = json.loads(chunk)
                value = float(record["progress"])
                return min(max(value, 0.0), 1.0), str(record.get("stage") or "")
            except (ValueError, KeyError, TypeError):
                continue
        m = list(_TQDM.finditer(chunk))
        if m:
            n, total = int(m[-1].group(1)), int(m[-1].group(2))
            return (n / total if total else None), chunk
        p = list(_PERCENT.finditer(chunk))
        if p:
            return int(p[-1].group(1)) / 100.0, chunk
    return None, last_line


def _last_json(text: str) -> dict:
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict) and "progress" not in value:
                return value
    return {}


def job_status(job_id: str) -> JobStatus:
    folder = jobs_dir() / job_id
    meta = _read_json(folder / "job.json")
    if meta is None:
        raise LaomError(f"no such job: {job_id}")
    result = _read_json(folder / "result.json")
    tail = procs.tail(folder / LOG, lines=None, max_bytes=8192)
    if result is not None:
        rc = int(result.get("returncode", -1))
        state = "finished" if rc == 0 else ("stopped" if result.get("stopped") else "failed")
        ended = result.get("ended")
    elif _alive(meta):
        state, rc, ended = "running", None, None
    elif (folder / "stop_requested").exists():
        state, rc, ended = "stopped", None, None
    else:
        state, rc, ended = "failed", None, None
        tail += "\n[job] the process ended without recording an exit code"
    reported = procs.read_progress(folder / PROGRESS_FILE)
    if reported is not None:
        progress = float(reported["fraction"])
        text = " · ".join(str(x) for x in (reported.get("stage"), reported.get("message")) if x)
        if reported.get("total"):
            text = f"{text} {reported['done']}/{reported['total']}".strip()
    else:
        progress, text = _progress(tail)
    if state == "finished":
        progress = 1.0
    return JobStatus(
        id=meta["id"], kind=meta["kind"], label=meta.get("label", meta["kind"]), argv=meta["argv"],
        state=state, created=meta["created"], ended=ended, returncode=rc, progress=progress,
        progress_text=text, log_tail=tail[-3000:], result=_last_json(tail), key=meta.get("key"),
    )


def list_jobs(kind: str | None = None) -> list[JobStatus]:
    """Jobs in the workspace, newest first."""
    root = jobs_dir(create=False)
    if not root.is_dir():
        return []
    out = []
    for folder in root.iterdir():
        if not (folder / "job.json").is_file():
            continue
        try:
            status = job_status(folder.name)
        except LaomError:
            continue
        if kind is None or status.kind == kind:
            out.append(status)
    out.sort(key=lambda j: j.created, reverse=True)
    return out


def stop_job(job_id: str, grace_s: float = 5.0) -> None:
    """SIGTERM the job's process group, SIGKILL after ``grace_s``."""
    meta = _read_json(jobs_dir() / job_id / "job.json")
    if meta is None:
        raise LaomError(f"no such job: {job_id}")
    if not _alive(meta):
        return
    (jobs_dir() / job_id / "stop_requested").touch()
    procs.stop(procs.Proc(int(meta["pid"]), meta.get("start_time")), grace_s)


def _run(folder: Path) -> int:
    """The wrapper: run the job's argv, forward SIGTERM, record the exit code."""
    meta = _read_json(folder / "job.json")
    if meta is None:
        print(f"[job] no job.json in {folder}", file=sys.stderr)
        return 2
    stopped = {"flag": False}
    child = subprocess.Popen(meta["argv"], stdin=subprocess.DEVNULL)

    def _forward(signum, _frame):
        stopped["flag"] = True
        try:
            child.send_signal(signum)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGTERM, _forward)
    signal.signal(signal.SIGINT, _forward)
    rc = child.wait()
    atomic_write_json(folder / "result.json", {"returncode": rc, "ended": time.time(), "stopped": stopped["flag"]})
    return rc


# Functions a job may call through ``python -m laom_core.jobs call NAME JSON_KWARGS``
# (work that has no CLI of its own); anything else is refused.
CALLABLE = {
    "labeled_subset": "laom_core.data.catalog:labeled_subset",
    "collect_dataset": "laom_core.collect:collect_dataset",
}


# Those of CALLABLE that take ``progress(done, total)``.
REPORTS_PROGRESS = frozenset({"collect_dataset"})


def call_argv(name: str, **kwargs: Any) -> list[str]:
    """The argument list of a job that calls one of :data:`CALLABLE` with ``kwargs``."""
    if name not in CALLABLE:
        raise LaomError(f"unknown job function {name!r}")
    return [sys.executable, "-m", "laom_core.jobs", "call", name, json.dumps(kwargs)]


def _call(name: str, raw_kwargs: str) -> int:
    import importlib

    if name not in CALLABLE:
        print(f"error: unknown job function {name!r}", file=sys.stderr)
        return 2
    module_name, func_name = CALLABLE[name].split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    try:
        kwargs = json.loads(raw_kwargs)
        if name in REPORTS_PROGRESS:
            kwargs["progress"] = lambda done, total: procs.report_progress(done, total, stage=name)
        result = func(**kwargs)
    except LaomError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"result": str(result)}), flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "run":
        sys.exit(_run(Path(sys.argv[2])))
    if len(sys.argv) == 4 and sys.argv[1] == "call":
        sys.exit(_call(sys.argv[2], sys.argv[3]))
    print("usage: python -m laom_core.jobs run JOB_DIR | call NAME JSON_KWARGS", file=sys.stderr)
    sys.exit(2)
