"""The run store: one SQLite file (WAL mode) holding every run and every metric.

It is the only channel between training processes and the dashboard. Many processes
write at once (one per run, plus the scheduler); readers never block them (WAL).

Layout (schema version :data:`SCHEMA_VERSION`, kept in ``PRAGMA user_version``):

- ``runs``: one row per run (status, process, timestamps, config, ...). ``num`` is a
  small integer alias used by the metric tables; ``id`` is the public run id.
- ``series``: one row per (run, stage, key) curve, so metric rows carry one integer
  instead of three strings.
- ``metric_chunks``: the metric rows (run, stage, key, step, value, wall) of one series
  and one flush, packed as arrays in one row. Python's sqlite3 builds one tuple per row
  fetched, which makes row-per-value tables slow to read (~3 us a row); chunks read
  100k points in milliseconds. Logging a step twice (a resumed run repeating steps)
  keeps the value written last.
- ``sweeps``: a named group's plan (methods x budgets x seeds x tasks).
- ``settings``: small workspace-wide key/value settings (e.g. the queue's concurrency).
- v2: ``runs.backend`` / ``job_id`` / ``backend_opts`` / ``ingest_offset`` for runs on a
  cluster (:mod:`laom_core.runs.backends`); NULL backend means local.
- v3: ``runs.notes`` (free text) and ``runs.archived`` (0/1: hidden from the Runs page by
  default) for the dashboard's tracker features; ``tags`` (JSON list) was there from v1.
- v4: ``runs.priority`` (integer, default 0): the queue starts higher priorities first,
  equal ones oldest first (:func:`queue_order`).

Added columns are added whenever missing (not only below their version), so a store
stamped by a line of LAOM Studio that lacked a step still gains them.

Older workspaces are migrated in :func:`_migrate` by stepping ``user_version``.
"""
from __future__ import annotations

import atexit
import json
import os
import random
import re
import secrets
import socket
import sqlite3
import sys
import threading
import time
import weakref
from array import array
from pathlib import Path
from typing import Any, Iterable, Sequence


from laom_core.errors import RunError, WorkspaceError
from laom_core.runs.liveness import CLAIM_GRACE_S, log_tail, NO_REPORT, process_alive
from laom_core.workspace import _json_default, store_path

SCHEMA_VERSION = 4
STATUSES = ("queued", "running", "finished", "failed", "stopped")
TERMINAL = ("finished", "failed", "stopped")

# Columns of ``runs`` that callers may set through ``set_status`` / ``update_run``.
RUN_FIELDS = (
    "name", "group_name", "method", "task", "datasets", "labeled_budget", "seed", "config",
    "status", "pid", "pgid", "proc_start", "host", "device", "gpu", "gpu_name", "created_at",
    "queued_at", "started_at", "ended_at", "updated_at", "exit_code", "error", "tags",
    "request_key", "run_dir", "argv", "attempts", "stop_requested", "preset",
    # schema v2 (cluster backends, see laom_core.runs.backends)
    "backend", "job_id", "backend_opts", "ingest_offset",
    # schema v3 (tracker features: notes, archive)
    "notes", "archived",
    # schema v4 (queue order)
    "priority",
)
_JSON_FIELDS = ("datasets", "config", "tags", "argv", "backend_opts")

# Schema v2 (cluster backends): which backend runs a run, its job id there, the backend's
# options (JSON), and how many bytes of the run's metrics.jsonl are in the store already.
_V2_COLUMNS = (
    ("backend", "TEXT"),
    ("job_id", "TEXT"),
    ("backend_opts", "TEXT"),
    ("ingest_offset", "INTEGER NOT NULL DEFAULT 0"),
)

# Schema v3: a run's notes and whether it is archived (hidden by default, not deleted).
_V3_COLUMNS = (
    ("notes", "TEXT"),
    ("archived", "INTEGER NOT NULL DEFAULT 0"),
)
# Schema v4: a queued run's priority; the scheduler starts higher first, then oldest first.
_V4_COLUMNS = (
    ("priority", "INTEGER NOT NULL DEFAULT 0"),
)
# Every column added to ``runs`` after v1, in order (add new ones here).
_ADDED_RUN_COLUMNS = (*_V2_COLUMNS, *_V3_COLUMNS, *_V4_COLUMNS)
MAX_PRIORITY = 1_000_000
MAX_TAG_LEN = 40
MAX_NAME_LEN = 120
MAX_NOTES_LEN = 20_000

_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS runs (
    num            INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    group_name     TEXT,
    method         TEXT,
    task           TEXT,
    preset         TEXT,
    datasets       TEXT,              -- JSON {"data": path, "labeled_data": path, ...}
    labeled_budget INTEGER,
    seed           INTEGER NOT NULL DEFAULT 0,
    config         TEXT,              -- JSON of the resolved config
    status         TEXT NOT NULL,
    pid            INTEGER,
    pgid           INTEGER,
    proc_start     REAL,              -- process start time (psutil create_time), guards pid reuse
    host           TEXT,
    device         TEXT,
    gpu            TEXT,              -- CUDA_VISIBLE_DEVICES given to the run
    gpu_name       TEXT,
    created_at     REAL NOT NULL,
    queued_at      REAL,
    started_at     REAL,
    ended_at       REAL,
    updated_at     REAL,
    exit_code      INTEGER,
    error          TEXT,
    tags           TEXT,              -- JSON list
    request_key    TEXT UNIQUE,
    run_dir        TEXT,
    argv           TEXT,              -- JSON list: the command the launcher starts
    attempts       INTEGER NOT NULL DEFAULT 0,
    stop_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_group ON runs(group_name);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status, queued_at);

CREATE TABLE IF NOT EXISTS series (
    series_id INTEGER PRIMARY KEY,
    run_num   INTEGER NOT NULL REFERENCES runs(num) ON DELETE CASCADE,
    stage     TEXT NOT NULL,
    key       TEXT NOT NULL,
    UNIQUE (run_num, stage, key)
);

-- Metric rows are stored in chunks: one row per (series, flush) holding the flushed
-- points as packed little-endian arrays (steps int64, values and walls float64).
-- Reading a 100k-point curve is then a few hundred blob reads instead of 100k rows.
CREATE TABLE IF NOT EXISTS metric_chunks (
    chunk_id  INTEGER PRIMARY KEY,
    series_id INTEGER NOT NULL REFERENCES series(series_id) ON DELETE CASCADE,
    n         INTEGER NOT NULL,
    step_min  INTEGER NOT NULL,
    step_max  INTEGER NOT NULL,
    steps     BLOB NOT NULL,
    vals      BLOB NOT NULL,
    walls     BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS metric_chunks_series ON metric_chunks(series_id, chunk_id);

CREATE TABLE IF NOT EXISTS sweeps (
    name       TEXT PRIMARY KEY,
    spec       TEXT NOT NULL,         -- JSON
    created_at REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS settings (
    key   TEXT PRIMARY KEY,
    value TEXT
);
"""

_LAOM_TABLES = ("runs", "series", "metric_chunks", "sweeps", "settings")

# Errors SQLite raises while another connection holds the write lock.
_BUSY_MARKERS = ("database is locked", "database table is locked", "database is busy")


def _is_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and any(m in str(exc).lower() for m in _BUSY_MARKERS)


def _workspace_error(exc: sqlite3.Error, path: Path) -> WorkspaceError | None:
    """Translate SQLite errors the user can fix (read-only, full, unreadable) into WorkspaceError."""
    msg = str(exc).lower()
    if "readonly" in msg or "read-only" in msg or "read only" in msg:
        return WorkspaceError(f"the run store {path} is read-only: cannot record runs or metrics "
                              f"(make the workspace writable or set LAOM_STUDIO_WORKSPACE)")
    if "disk is full" in msg or "database or disk is full" in msg:
        return WorkspaceError(f"the workspace holding {path} is full: free some space "
                              f"(old runs' checkpoints, datasets) and try again")
    if "unable to open" in msg or "disk i/o error" in msg:
        return WorkspaceError(f"cannot open the run store {path}: {exc} "
                              f"(is the workspace folder writable and on a local disk?)")
    if "not a database" in msg or "malformed" in msg:
        return WorkspaceError(f"{path} is not a LAOM Studio run store (or is damaged): {exc}")
    return None


def _now() -> float:
    return time.time()


def new_run_id(method: str | None = None) -> str:
    """A readable, unique, folder-safe id: ``<method>-<UTC time>-<random>``."""
    prefix = re.sub(r"[^a-z0-9]+", "-", (method or "run").lower()).strip("-") or "run"
    return f"{prefix}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"


_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


def check_run_id(run_id: str) -> str:
    """Run ids name folders; refuse anything that could escape the runs folder."""
    if not isinstance(run_id, str) or not _ID_RE.match(run_id) or ".." in run_id:
        raise RunError(f"invalid run id {run_id!r} (letters, digits, '-', '_', '.')")
    return run_id


def queue_order(runs: Iterable[dict]) -> list[dict]:
    """Runs in the order the queue starts them: higher ``priority`` first, then oldest first
    (for rows as :meth:`RunStore.list_runs` returns them, oldest first; the sort is stable)."""
    return sorted(runs, key=lambda r: -int(r.get("priority") or 0))


class RunStore:
    """Runs and metrics in SQLite (WAL). Cheap to create; one connection per instance.

    Use one instance per thread (SQLite connections are not shared across threads here).
    ``busy_timeout_s`` bounds how long a write waits for the lock before retrying with
    backoff; a write gives up only after ``retry_s`` seconds of contention.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, busy_timeout_s: float = 5.0,
                 retry_s: float = 120.0, reconcile: bool = True) -> None:
        if path is None:
            path = store_path()
        self.path = Path(path).expanduser().resolve()
        self.retry_s = retry_s
        # Reads of running runs check their process (see reconcile below); off inside
        # training processes, which only write.
        self.reconcile_on_read = reconcile
        self._last_reconcile = 0.0
        folder = self.path.parent
        if not folder.is_dir():
            raise WorkspaceError(f"run store folder {folder} does not exist")
        if not os.access(folder, os.W_OK) or (self.path.exists() and not os.access(self.path, os.W_OK)):
            raise WorkspaceError(f"the run store {self.path} is read-only: cannot record runs or metrics "
                                 f"(make the workspace writable or set LAOM_STUDIO_WORKSPACE)")
        try:
            self._conn = sqlite3.connect(str(self.path), timeout=busy_timeout_s, isolation_level=None,
                                         check_same_thread=False)
            self._refuse_foreign()  # before WAL mode or any table touches the file
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            # Curves are read as blobs: map the file and keep a generous page cache.
            self._conn.execute("PRAGMA mmap_size=268435456")
            self._conn.execute("PRAGMA cache_size=-32768")
        except sqlite3.Error as exc:
            raise (_workspace_error(exc, self.path) or WorkspaceError(
                f"cannot open the run store {self.path}: {exc}")) from exc
        self._lock = threading.RLock()
        self._migrate()

    # ------------------------------------------------------------------ plumbing
    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _retry(self, fn, *, write: bool):
        """Run ``fn(conn)`` (inside BEGIN IMMEDIATE when ``write``), retrying while busy."""
        deadline = _now() + self.retry_s
        delay = 0.01
        while True:
            with self._lock:
                try:
                    if write:
                        self._conn.execute("BEGIN IMMEDIATE")
                        try:
                            out = fn(self._conn)
                            self._conn.execute("COMMIT")
                        except BaseException:
                            if self._conn.in_transaction:
                                self._conn.execute("ROLLBACK")
                            raise
                        return out
                    return fn(self._conn)
                except sqlite3.Error as exc:
                    if _is_busy(exc) and _now() < deadline:
                        pass  # fall through to back off outside the lock
                    else:
                        err = _workspace_error(exc, self.path)
                        if err is not None:
                            raise err from exc
                        raise
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.5)

    def _write(self, fn):
        return self._retry(fn, write=True)

    def _read(self, fn):
        return self._retry(fn, write=False)

    def _refuse_foreign(self) -> None:
        """Refuse a SQLite file that another program made (tables, none of them LAOM's).

        A new store is an empty file; an older LAOM store has LAOM's tables. Anything else
        is someone's database under our name: adding tables to it would change their file.
        """
        try:
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {row[0] for row in self._conn.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        except sqlite3.Error:
            self._conn.close()
            raise
        tables = {t for t in tables if not t.startswith("sqlite_")}
        foreign = sorted(tables - set(_LAOM_TABLES))
        if foreign and (version < 1 or "runs" not in tables):
            self._conn.close()
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise WorkspaceError(
                f"{self.path} is not a LAOM Studio run store: it is another SQLite database "
                f"(tables {shown}); move it away or set LAOM_STUDIO_WORKSPACE to another folder")

    def _migrate(self) -> None:
        def migrate(conn: sqlite3.Connection) -> None:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise WorkspaceError(
                    f"the run store {self.path} has schema version {version}, newer than this "
                    f"LAOM Studio understands ({SCHEMA_VERSION}); update LAOM Studio")
            if version < 1:
                for statement in _SCHEMA_V1.split(";"):
                    if statement.strip():
                        conn.execute(statement)
            # Added columns (v2 and later): each is added when missing, whatever the version
            # says, so a store migrated by a line of LAOM Studio that lacked some step still
            # gains its columns (old rows: no notes, not archived).
            have = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
            for column, decl in _ADDED_RUN_COLUMNS:
                if column not in have:
                    conn.execute(f"ALTER TABLE runs ADD COLUMN {column} {decl}")
            if version != SCHEMA_VERSION:
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

        def needed(c: sqlite3.Connection) -> bool:
            if c.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                return True
            have = {row[1] for row in c.execute("PRAGMA table_info(runs)")}
            return any(column not in have for column, _ in _ADDED_RUN_COLUMNS)

        if self._read(needed):
            self._write(migrate)

    @property
    def schema_version(self) -> int:
        return self._read(lambda c: c.execute("PRAGMA user_version").fetchone()[0])

    # ------------------------------------------------------------------ runs
    def create_run(self, name: str | None, method: str | None, task: str | None, config: dict | None,
                   run_dir: str | os.PathLike | None, group: str | None = None,
                   labeled_budget: int | None = None, seed: int = 0, datasets: dict | None = None,
                   tags: Sequence[str] | None = None, status: str = "queued",
                   request_key: str | None = None, *, run_id: str | None = None,
                   argv: Sequence[str] | None = None, preset: str | None = None,
                   device: str | None = None, backend: str | None = None,
                   backend_opts: dict | None = None) -> str:
        """Record a new run and return its id.

        With a ``request_key`` already in the store, nothing is created and the earlier
        run's id is returned: a repeated launch request (double click, page rerun) makes
        one run only.
        """
        if status not in STATUSES:
            raise RunError(f"unknown run status {status!r} (one of {', '.join(STATUSES)})")
        run_id = check_run_id(run_id) if run_id else new_run_id(method)
        now = _now()
        row = {
            "id": run_id, "name": name or run_id, "group_name": group, "method": method, "task": task,
            "preset": preset, "datasets": _dumps(datasets), "labeled_budget": labeled_budget,
            "seed": int(seed or 0), "config": _dumps(config), "status": status, "created_at": now,
            "queued_at": now if status == "queued" else None, "updated_at": now,
            "tags": _dumps(list(tags) if tags else []), "request_key": request_key,
            "run_dir": str(run_dir) if run_dir is not None else None,
            "argv": _dumps(list(argv) if argv is not None else None), "device": device,
        }
        if backend and backend != "local":  # cluster backends (schema v2); local runs keep NULL
            row.update(backend=backend, backend_opts=_dumps(backend_opts or {}))

        def insert(conn: sqlite3.Connection) -> str:
            if request_key is not None:
                hit = conn.execute("SELECT id FROM runs WHERE request_key=?", (request_key,)).fetchone()
                if hit:
                    return hit[0]
            if conn.execute("SELECT 1 FROM runs WHERE id=?", (run_id,)).fetchone():
                raise RunError(f"run {run_id} already exists")
            cols = ", ".join(row)
            conn.execute(f"INSERT INTO runs ({cols}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
            return run_id

        return self._write(insert)

    def set_status(self, run_id: str, status: str, **fields: Any) -> None:
        """Set a run's status (and any other run fields).

        ``running`` records the calling process (pid, start time, host) unless the
        launcher already did, so a run started by hand is watched like a launched one;
        ``finished``/``failed``/``stopped`` stamp ``ended_at``.
        """
        if status not in STATUSES:
            raise RunError(f"unknown run status {status!r} (one of {', '.join(STATUSES)})")
        fields = dict(fields)
        fields["status"] = status
        now = _now()
        if status == "running":
            fields.setdefault("started_at", now)
        if status in TERMINAL:
            fields.setdefault("ended_at", now)
        self._update(run_id, fields, own_process=(status == "running"))

    def update_run(self, run_id: str, **fields: Any) -> None:
        """Set run fields other than status (e.g. ``device``, ``gpu_name``, ``tags``)."""
        self._update(run_id, fields)

    def _update(self, run_id: str, fields: dict, own_process: bool = False) -> None:
        if "group" in fields:
            fields["group_name"] = fields.pop("group")
        unknown = set(fields) - set(RUN_FIELDS)
        if unknown:
            raise RunError(f"unknown run field(s): {', '.join(sorted(unknown))}")
        fields["updated_at"] = _now()
        values = {k: (_dumps(v) if k in _JSON_FIELDS else v) for k, v in fields.items()}
        sets = [f"{k}=?" for k in values]
        params: list[Any] = list(values.values())
        if own_process and "pid" not in fields:
            # Keep the launcher's record if present; else this process is the run.
            sets += ["pid=COALESCE(pid, ?)", "pgid=COALESCE(pgid, ?)", "proc_start=COALESCE(proc_start, ?)",
                     "host=COALESCE(host, ?)"]
            params += [os.getpid(), os.getpgid(0), _process_start(os.getpid()), socket.gethostname()]
        if "started_at" in fields and fields.get("status") == "running":
            # The first start stays the start; a resume keeps its own via the launcher.
            idx = sets.index("started_at=?")
            sets[idx] = "started_at=COALESCE(started_at, ?)"

        def update(conn: sqlite3.Connection) -> None:
            cur = conn.execute(f"UPDATE runs SET {', '.join(sets)} WHERE id=?", (*params, run_id))
            if cur.rowcount == 0:
                raise RunError(f"no run with id {run_id!r}")

        self._write(update)

    def transition(self, run_id: str, from_statuses: Iterable[str], status: str, **fields: Any) -> bool:
        """Set ``status`` only if the run is currently in one of ``from_statuses``; True if it was.

        The launcher uses it so that a training process's own final status is never
        overwritten by a slower observer.
        """
        from_statuses = tuple(from_statuses)
        fields = dict(fields)
        fields["status"] = status
        fields["updated_at"] = _now()
        unknown = set(fields) - set(RUN_FIELDS)
        if unknown:
            raise RunError(f"unknown run field(s): {', '.join(sorted(unknown))}")
        values = {k: (_dumps(v) if k in _JSON_FIELDS else v) for k, v in fields.items()}
        marks = ", ".join("?" * len(from_statuses))

        def update(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                f"UPDATE runs SET {', '.join(f'{k}=?' for k in values)} WHERE id=? AND status IN ({marks})",
                (*values.values(), run_id, *from_statuses))
            return cur.rowcount == 1

        return self._write(update)

    def get_run(self, run_id: str, *, reconcile: bool | None = None) -> dict:
        """One run as a dict (JSON fields decoded, ``group`` alias of ``group_name``)."""
        self._maybe_reconcile(reconcile)
        row = self._read(lambda c: _row_dict(c, c.execute("SELECT * FROM runs WHERE id=?", (run_id,))))
        if not row:
            raise RunError(f"no run with id {run_id!r} (see `python -m laom_core runs list`)")
        return row[0]

    def find_run(self, prefix: str) -> dict:
        """A run by id, unique id prefix, or short id (the id's random tail, as the dashboard shows it)."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self._read(lambda c: _row_dict(c, c.execute(
            "SELECT * FROM runs WHERE id=? OR id LIKE ? ESCAPE '\\' ORDER BY id", (prefix, escaped + "%"))))
        if not rows and len(prefix) >= 4 and "-" not in prefix:
            rows = self._read(lambda c: _row_dict(c, c.execute(
                "SELECT * FROM runs WHERE id LIKE ? ESCAPE '\\' ORDER BY id", ("%-" + escaped,))))
        exact = [r for r in rows if r["id"] == prefix]
        if exact:
            return self.get_run(prefix)
        if len(rows) == 1:
            return self.get_run(rows[0]["id"])
        if not rows:
            raise RunError(f"no run with id {prefix!r} (see `python -m laom_core runs list`)")
        raise RunError(f"run id {prefix!r} is ambiguous: {', '.join(r['id'] for r in rows[:5])}")

    def list_runs(self, status: str | Sequence[str] | None = None, group: str | None = None, *,
                  reconcile: bool | None = None) -> list[dict]:
        """Runs, oldest first, optionally filtered by status (one or several) and group."""
        self._maybe_reconcile(reconcile)
        where, params = [], []
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            for s in statuses:
                if s not in STATUSES:
                    raise RunError(f"unknown run status {s!r} (one of {', '.join(STATUSES)})")
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
            params += statuses
        if group is not None:
            where.append("group_name=?")
            params.append(group)
        sql = "SELECT * FROM runs" + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY num"
        return self._read(lambda c: _row_dict(c, c.execute(sql, params)))

    def groups(self) -> list[str]:
        return self._read(lambda c: [r[0] for r in c.execute(
            "SELECT DISTINCT group_name FROM runs WHERE group_name IS NOT NULL ORDER BY group_name")])

    def delete_run(self, run_id: str) -> None:
        """Remove a run and its metrics from the store (its folder is left alone)."""
        def delete(conn: sqlite3.Connection) -> None:
            num = _run_num(conn, run_id)
            conn.execute("DELETE FROM metric_chunks WHERE series_id IN "
                         "(SELECT series_id FROM series WHERE run_num=?)", (num,))
            conn.execute("DELETE FROM series WHERE run_num=?", (num,))
            conn.execute("DELETE FROM runs WHERE num=?", (num,))

        self._write(delete)

    # ------------------------------------------------------------------ tags, notes, name, archive
    def rename_run(self, run_id: str, name: str) -> str:
        """Give a run a new display name (its id and folder stay); returns the cleaned name."""
        clean = " ".join(str(name or "").split())
        if not clean:
            raise RunError("a run name cannot be empty")
        if len(clean) > MAX_NAME_LEN:
            raise RunError(f"a run name has at most {MAX_NAME_LEN} characters (got {len(clean)})")
        self._update(run_id, {"name": clean})
        return clean

    def set_tags(self, run_id: str, tags: Iterable[str]) -> list[str]:
        """Replace a run's tags (cleaned, de-duplicated, in the given order); returns them."""
        out: list[str] = []
        for tag in tags:
            clean = check_tag(tag)
            if clean not in out:
                out.append(clean)
        self._update(run_id, {"tags": out})
        return out

    def add_tag(self, run_id: str, tag: str) -> list[str]:
        tags = list(self.get_run(run_id, reconcile=False).get("tags") or [])
        return self.set_tags(run_id, [*tags, tag])

    def remove_tag(self, run_id: str, tag: str) -> list[str]:
        tags = [t for t in (self.get_run(run_id, reconcile=False).get("tags") or []) if t != tag.strip()]
        return self.set_tags(run_id, tags)

    def set_notes(self, run_id: str, notes: str | None) -> None:
        text = (notes or "").strip()
        if len(text) > MAX_NOTES_LEN:
            raise RunError(f"notes have at most {MAX_NOTES_LEN} characters (got {len(text)})")
        self._update(run_id, {"notes": text or None})

    def set_priority(self, run_id: str, priority: int) -> None:
        """A queued run's place in the queue: higher starts first, equal ones oldest first.
        It stays with the run (a resumed run keeps it)."""
        if not isinstance(priority, int) or isinstance(priority, bool) or abs(priority) > MAX_PRIORITY:
            raise RunError(f"priority must be an integer between -{MAX_PRIORITY} and {MAX_PRIORITY} (got {priority!r})")
        self.get_run(run_id, reconcile=False)  # an unknown id: one clear error
        self._update(run_id, {"priority": priority})

    def move_to_front(self, run_id: str) -> int:
        """Give a run a priority one above every other queued run's (it starts next); returns it."""
        others = [r for r in self.list_runs(status="queued", reconcile=False) if r["id"] != run_id]
        value = 1 + max((int(r.get("priority") or 0) for r in others), default=0)
        self.set_priority(run_id, value)
        return value

    def set_archived(self, run_id: str, archived: bool = True) -> None:
        """Archive (hide from the Runs page by default) or bring back a run; nothing is deleted."""
        run = self.get_run(run_id, reconcile=False)
        if archived and run["status"] in ("queued", "running"):
            raise RunError(f"run {run_id} is {run['status']}; stop it before archiving")
        self._update(run_id, {"archived": 1 if archived else 0})

    def _maybe_reconcile(self, reconcile: bool | None) -> None:
        """Mark runs whose process died as failed (at most every 0.5 s per store)."""
        if reconcile is None:
            reconcile = self.reconcile_on_read
        if not reconcile or _now() - self._last_reconcile < 0.5:
            return
        self._last_reconcile = _now()
        self.reconcile()

    def reconcile(self) -> list[str]:
        """Mark running runs whose process is gone as failed (or stopped, if a stop was asked).

        Returns the ids changed. A training process that finished and set its own status in
        the meantime is never overwritten (the change is conditional on status 'running').
        """
        changed = []
        rows = self._read(lambda c: c.execute(
            "SELECT id, pid, proc_start, host, run_dir, started_at, stop_requested, updated_at, backend "
            "FROM runs WHERE status='running'").fetchall())
        now = time.time()
        for run_id, pid, proc_start, host, run_dir, started_at, stop_requested, updated_at, backend in rows:
            if backend and backend != "local":
                continue  # a cluster job: the scheduler watches it through its backend (runs/backends)
            alive = process_alive(pid, proc_start, host)
            if alive is None:
                if pid is None and (host in (None, socket.gethostname())) and \
                        now - (updated_at or started_at or now) > CLAIM_GRACE_S:  # claimed (updated) that long ago
                    reason = "the launcher died before the run's process started"
                else:
                    continue
            elif alive:
                continue
            else:
                reason = None
            tail = log_tail(run_dir)
            if stop_requested:
                ok = self.transition(run_id, ["running"], "stopped", ended_at=now)
            else:
                summary = reason or f"{NO_REPORT} (crash, kill or reboot)"
                error = summary + (f"; log tail:\n{tail}" if tail else "")
                ok = self.transition(run_id, ["running"], "failed", ended_at=now, error=error)
            if ok:
                changed.append(run_id)
        return changed

    # ------------------------------------------------------------------ metrics
    def metric_writer(self, run_id: str, *, flush_rows: int = 512, flush_s: float = 2.0) -> "MetricWriter":
        """A buffered writer for one run's metrics (its own connection; thread-safe)."""
        return MetricWriter(self.path, run_id, flush_rows=flush_rows, flush_s=flush_s, retry_s=self.retry_s)

    def metrics(self, run_id: str, keys: Sequence[str] | None = None, stage: str | None = None) -> dict:
        """Curves of one run: ``{key: {"step", "value", "wall": np.ndarray, "stage": list}}``.

        Points are ordered by step. A key logged in several stages (``loss`` in ``lam``
        and ``bc``) comes back as one curve, stage after stage in the order they were
        first logged; pass ``stage`` to read one stage only. NaN values read back as NaN.
        """
        out = self.group_metrics([run_id], keys=keys, stage=stage)
        if run_id not in out and not self._read(
                lambda c: c.execute("SELECT 1 FROM runs WHERE id=?", (run_id,)).fetchone()):
            raise RunError(f"no run with id {run_id!r}")
        return out.get(run_id, {})

    def group_metrics(self, run_ids: Sequence[str] | None = None, *, group: str | None = None,
                      keys: Sequence[str] | None = None, stage: str | None = None) -> dict[str, dict]:
        """Curves of many runs at once (given ids, or every run of ``group``): ``{run_id: curves}``."""
        where, params = [], []
        if run_ids is not None:
            run_ids = list(run_ids)
            if not run_ids:
                return {}
            where.append(f"r.id IN ({', '.join('?' * len(run_ids))})")
            params += run_ids
        if group is not None:
            where.append("r.group_name=?")
            params.append(group)
        if keys is not None:
            keys = list(keys)
            if not keys:
                return {}
            where.append(f"s.key IN ({', '.join('?' * len(keys))})")
            params += keys
        if stage is not None:
            where.append("s.stage=?")
            params.append(stage)
        cond = " AND ".join(where) if where else "1"
        # No ORDER BY: SQLite would sort the blobs through a temporary b-tree; sorting the
        # few hundred (series, chunk) ids here is far cheaper.
        sql = (f"SELECT s.series_id, c.chunk_id, r.id, s.stage, s.key, c.steps, c.vals, c.walls "
               f"FROM series s JOIN runs r ON r.num = s.run_num JOIN metric_chunks c ON c.series_id = s.series_id "
               f"WHERE {cond}")
        rows = self._read(lambda c: c.execute(sql, params).fetchall())
        rows.sort(key=lambda row: (row[0], row[1]))

        # Gather chunks per series, in write order.
        series: dict[int, tuple[str, str, str, list, list, list]] = {}
        for sid, _chunk, rid, st, key, steps, vals, walls in rows:
            entry = series.get(sid)
            if entry is None:
                entry = series[sid] = (rid, st, key, [], [], [])
            entry[3].append(steps)
            entry[4].append(vals)
            entry[5].append(walls)

        import numpy as np  # lazily: writers (training, scheduler) do not need it

        out: dict[str, dict] = {}
        for sid in sorted(series):  # series ids grow in first-logged order
            rid, st, key, steps_b, vals_b, walls_b = series[sid]
            step = np.frombuffer(b"".join(steps_b), dtype="<i8")
            value = np.frombuffer(b"".join(vals_b), dtype="<f8")
            wall = np.frombuffer(b"".join(walls_b), dtype="<f8")
            step, value, wall = _last_per_step(step, value, wall)
            curves = out.setdefault(rid, {})
            cur = curves.get(key)
            if cur is None:
                curves[key] = {"step": step, "value": value, "wall": wall, "stage": [st] * len(step)}
            else:
                cur["step"] = np.concatenate([cur["step"], step])
                cur["value"] = np.concatenate([cur["value"], value])
                cur["wall"] = np.concatenate([cur["wall"], wall])
                cur["stage"] = cur["stage"] + [st] * len(step)
        return out

    def metric_keys(self, run_id: str) -> list[tuple[str, str]]:
        """(stage, key) pairs logged by a run, in first-logged order."""
        return self._read(lambda c: [tuple(r) for r in c.execute(
            "SELECT s.stage, s.key FROM series s JOIN runs r ON r.num=s.run_num WHERE r.id=? "
            "ORDER BY s.series_id", (run_id,))])

    def last_metrics(self, run_id: str, stage: str | None = None) -> dict[str, float]:
        """The value at the highest step of every key of a run (the last-logged stage wins on clashes)."""
        out: dict[str, float] = {}
        for key, curve in self.metrics(run_id, stage=stage).items():
            if len(curve["step"]):
                # Curves are ordered by stage then step: the last stage's last point.
                last_stage = curve["stage"][-1]
                idx = [i for i in range(len(curve["stage"]) - 1, -1, -1) if curve["stage"][i] == last_stage]
                best = max(idx, key=lambda i: curve["step"][i])
                out[key] = float(curve["value"][best])
        return out

    def count_metrics(self, run_id: str | None = None) -> int:
        """Stored metric points (a step logged twice counts once)."""
        if run_id is None:
            return sum(len(c["step"]) for curves in self.group_metrics(None).values() for c in curves.values())
        return sum(len(c["step"]) for c in self.metrics(run_id).values())

    def iter_metric_rows(self, run_id: str) -> list[tuple[str, str, int, float, float]]:
        """Every metric row of a run as (stage, key, step, value, wall), for export."""
        rows = []
        for key, curve in self.metrics(run_id).items():
            for st, step, value, wall in zip(curve["stage"], curve["step"].tolist(), curve["value"].tolist(),
                                             curve["wall"].tolist()):
                rows.append((st, key, step, value, wall))
        rows.sort(key=lambda r: (r[0], r[1], r[2]))
        return rows

    def metrics_csv(self, run_id: str) -> str:
        """Every metric row of a run as CSV text (header ``run_id,stage,key,step,value,wall``;
        ``wall`` is seconds since the epoch). The CLI's ``runs export`` and the Runs page's
        download write exactly this."""
        import csv
        import io

        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["run_id", "stage", "key", "step", "value", "wall"])
        for stage, key, step, value, wall in self.iter_metric_rows(run_id):
            writer.writerow([run_id, stage, key, step, repr(value), f"{wall:.3f}"])
        return buf.getvalue()

    # ------------------------------------------------------------------ sweeps and settings
    def save_sweep(self, name: str, spec: dict) -> None:
        def save(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT OR REPLACE INTO sweeps (name, spec, created_at) VALUES (?, ?, "
                         "COALESCE((SELECT created_at FROM sweeps WHERE name=?), ?))",
                         (name, json.dumps(spec, sort_keys=True), name, _now()))

        self._write(save)

    def get_sweep(self, name: str) -> dict | None:
        row = self._read(lambda c: c.execute("SELECT spec, created_at FROM sweeps WHERE name=?", (name,)).fetchone())
        if row is None:
            return None
        spec = json.loads(row[0])
        spec["created_at"] = row[1]
        return spec

    def list_sweeps(self) -> list[str]:
        return self._read(lambda c: [r[0] for r in c.execute("SELECT name FROM sweeps ORDER BY created_at")])

    def get_setting(self, key: str, default: Any = None) -> Any:
        row = self._read(lambda c: c.execute("SELECT value FROM settings WHERE key=?", (key,)).fetchone())
        return json.loads(row[0]) if row else default

    def set_setting(self, key: str, value: Any) -> None:
        self._write(lambda c: c.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)",
                                        (key, json.dumps(value))))


class MetricWriter:
    """Buffers metric rows of one run and writes them in batches.

    Rows are flushed every ``flush_rows`` rows, once they have waited ``flush_s`` seconds
    (a shared daemon thread checks, so a training loop busy elsewhere still shows up
    live), on ``flush``/``close`` and at interpreter exit. A flush that meets a locked
    database retries with backoff; rows stay buffered until written, so none is lost.
    Only a SIGKILL loses the rows of the last ``flush_s`` seconds. Thread-safe.
    """

    def __init__(self, path: Path, run_id: str, *, flush_rows: int = 512, flush_s: float = 2.0,
                 retry_s: float = 120.0) -> None:
        self.run_id = run_id
        self.flush_rows = max(1, int(flush_rows))
        self.flush_s = float(flush_s)
        self._store = RunStore(path, retry_s=retry_s, reconcile=False)
        self._buffer: list[tuple[str, str, int, float | None, float]] = []
        self._series: dict[tuple[str, str], int] = {}
        self._lock = threading.RLock()
        self._last_flush = _now()
        self.rows_written = 0
        self.closed = False
        self._run_num = self._store._read(lambda c: _run_num(c, run_id))
        self._flush_error: str | None = None
        _register_writer(self)

    def log(self, stage: str, step: int, values: dict[str, Any]) -> None:
        """Record ``values`` (key -> number) at ``step`` of ``stage``; None, NaN and inf are kept."""
        if self.closed:
            raise RunError(f"metric writer of run {self.run_id} is closed")
        wall = _now()
        step = int(step)
        rows = []
        for key, value in values.items():
            if value is None:
                v = None
            else:
                try:
                    v = float(value)
                except (TypeError, ValueError) as exc:
                    raise RunError(f"metric {stage}/{key} must be a number, got {value!r}") from exc
            rows.append((stage, str(key), step, v, wall))
        with self._lock:
            self._buffer.extend(rows)
            due = len(self._buffer) >= self.flush_rows or wall - self._last_flush >= self.flush_s
        if due:
            self.flush()

    def flush(self) -> int:
        """Write buffered rows now; returns how many were written."""
        with self._lock:
            if not self._buffer:
                self._last_flush = _now()
                return 0
            rows = self._buffer
            run_num = self._run_num
            grouped = _group_rows(rows)

            def write(conn: sqlite3.Connection) -> dict:
                ids = {}
                for sk in grouped:
                    sid = self._series.get(sk)
                    if sid is None:
                        conn.execute("INSERT OR IGNORE INTO series (run_num, stage, key) VALUES (?, ?, ?)",
                                     (run_num, *sk))
                        sid = conn.execute("SELECT series_id FROM series WHERE run_num=? AND stage=? AND key=?",
                                           (run_num, *sk)).fetchone()[0]
                    ids[sk] = sid
                conn.executemany(
                    "INSERT INTO metric_chunks (series_id, n, step_min, step_max, steps, vals, walls) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(ids[sk], n, lo, hi, st, va, wa) for sk, (st, va, wa, n, lo, hi) in grouped.items()])
                return ids

            ids = self._store._write(write)
            self._series.update(ids)
            self._buffer = []
            self._last_flush = _now()
            self.rows_written += len(rows)
            return len(rows)

    def _flush_if_stale(self) -> None:
        """Called by the background flusher: write rows that have waited ``flush_s``."""
        with self._lock:
            if self.closed or not self._buffer or _now() - self._last_flush < self.flush_s:
                return
            try:
                self.flush()
                self._flush_error = None
            except Exception as exc:  # noqa: BLE001 - kept buffered; the owner's next flush raises
                if self._flush_error != str(exc):
                    self._flush_error = str(exc)
                    print(f"metrics of run {self.run_id} not written yet: {exc}", file=sys.stderr)

    def close(self) -> None:
        """Flush and release the connection (idempotent)."""
        with self._lock:
            if self.closed:
                return
            try:
                self.flush()
            finally:
                self.closed = True
                _OPEN_WRITERS.discard(self)
                self._store.close()

    def __enter__(self) -> "MetricWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# Open writers, flushed by one daemon thread when rows grow stale, and at exit.
_OPEN_WRITERS: "weakref.WeakSet[MetricWriter]" = weakref.WeakSet()
_FLUSHER_LOCK = threading.Lock()
_FLUSHER: threading.Thread | None = None
_FLUSHER_PERIOD_S = 0.25


def _flusher_loop() -> None:
    while True:
        time.sleep(_FLUSHER_PERIOD_S)
        for writer in list(_OPEN_WRITERS):
            writer._flush_if_stale()


def _register_writer(writer: MetricWriter) -> None:
    global _FLUSHER
    _OPEN_WRITERS.add(writer)
    with _FLUSHER_LOCK:
        if _FLUSHER is None or not _FLUSHER.is_alive():  # also after a fork
            _FLUSHER = threading.Thread(target=_flusher_loop, name="metric-flusher", daemon=True)
            _FLUSHER.start()


@atexit.register
def _flush_open_writers() -> None:
    for writer in list(_OPEN_WRITERS):
        try:
            writer.close()
        except Exception as exc:  # noqa: BLE001 - nothing left to raise to at exit
            print(f"metrics of run {writer.run_id} could not be written at exit: {exc}", file=sys.stderr)


# ---------------------------------------------------------------------- helpers
def _dumps(value: Any) -> str | None:
    if value is None:
        return None

    return json.dumps(value, sort_keys=True, default=_json_default)


def _row_dict(conn: sqlite3.Connection, cursor: sqlite3.Cursor) -> list[dict]:
    names = [d[0] for d in cursor.description]
    out = []
    for row in cursor.fetchall():
        d = dict(zip(names, row))
        for key in _JSON_FIELDS:
            if d.get(key) is not None:
                d[key] = json.loads(d[key])
        d["group"] = d.get("group_name")
        d.pop("num", None)
        d["stop_requested"] = bool(d.get("stop_requested"))
        d["archived"] = bool(d.get("archived"))
        out.append(d)
    return out


def check_tag(tag: str) -> str:
    """A tag as stored: trimmed, one line, no comma (the CLI and the page split on commas)."""
    clean = " ".join(str(tag or "").split())
    if not clean:
        raise RunError("a tag cannot be empty")
    if "," in clean:
        raise RunError(f"a tag cannot contain a comma: {clean!r}")
    if len(clean) > MAX_TAG_LEN:
        raise RunError(f"a tag has at most {MAX_TAG_LEN} characters: {clean!r}")
    return clean


def _group_rows(rows: list) -> dict[tuple[str, str], tuple[bytes, bytes, bytes, int, int, int]]:
    """Buffered rows -> per (stage, key): packed little-endian steps (int64), values and walls
    (float64), count, min and max step. Uses ``array`` so writers need not import numpy."""
    grouped: dict[tuple[str, str], list] = {}
    for stage, key, step, value, wall in rows:
        grouped.setdefault((stage, key), []).append((step, value, wall))
    out = {}
    nan = float("nan")
    for sk, pts in grouped.items():
        steps = array("q", [p[0] for p in pts])
        vals = array("d", [nan if p[1] is None else p[1] for p in pts])
        walls = array("d", [p[2] for p in pts])
        if sys.byteorder != "little":  # pragma: no cover - the store's blobs are little-endian
            for a in (steps, vals, walls):
                a.byteswap()
        out[sk] = (steps.tobytes(), vals.tobytes(), walls.tobytes(), len(pts), min(steps), max(steps))
    return out


def _last_per_step(step, value, wall):
    """Sort by step; where a step was written more than once keep the last write."""
    import numpy as np

    if len(step) < 2 or bool(np.all(step[1:] > step[:-1])):
        return step.copy(), value.copy(), wall.copy()
    order = np.argsort(step, kind="stable")
    s = step[order]
    keep = np.r_[s[1:] != s[:-1], True]
    idx = order[keep]
    return step[idx], value[idx], wall[idx]


def _run_num(conn: sqlite3.Connection, run_id: str) -> int:
    row = conn.execute("SELECT num FROM runs WHERE id=?", (run_id,)).fetchone()
    if row is None:
        raise RunError(f"no run with id {run_id!r}")
    return row[0]


def _process_start(pid: int) -> float | None:
    try:
        import psutil

        return psutil.Process(pid).create_time()
    except Exception:  # noqa: BLE001 - best effort, liveness then falls back to pid only
        return None
