"""RunStore: runs, statuses, metrics round trip, idempotent request keys, schema version."""
from __future__ import annotations

import math
import sqlite3

import numpy as np
import pytest

from laom_core.errors import RunError, WorkspaceError
from laom_core.runs.store import SCHEMA_VERSION, RunStore


def test_create_get_list_and_status(store, tmp_path):
    a = store.create_run("a", "laom", "cheetah-run", {"seed": 1}, tmp_path / "a", group="g", labeled_budget=8,
                         seed=1, datasets={"data": "/x.hdf5"}, tags=["t1"])
    b = store.create_run("b", "lapo", "walker-run", None, tmp_path / "b")
    run = store.get_run(a)
    assert run["status"] == "queued" and run["group"] == "g" and run["labeled_budget"] == 8
    assert run["config"] == {"seed": 1} and run["datasets"] == {"data": "/x.hdf5"} and run["tags"] == ["t1"]
    assert [r["id"] for r in store.list_runs()] == [a, b]
    assert [r["id"] for r in store.list_runs(group="g")] == [a]
    store.set_status(a, "running")
    run = store.get_run(a)
    assert run["status"] == "running" and run["pid"] > 0 and run["started_at"] is not None
    store.set_status(a, "finished", exit_code=0)
    run = store.get_run(a)
    assert run["status"] == "finished" and run["ended_at"] >= run["started_at"] and run["exit_code"] == 0
    assert [r["id"] for r in store.list_runs(status=["queued"])] == [b]
    with pytest.raises(RunError, match="unknown run status"):
        store.set_status(a, "exploded")
    with pytest.raises(RunError, match="no run"):
        store.get_run("nope")
    with pytest.raises(RunError, match="unknown run field"):
        store.set_status(a, "failed", colour="red")


def test_request_key_makes_one_run(store):
    first = store.create_run("a", "laom", "t", {}, None, request_key="k1")
    again = store.create_run("a2", "laom", "t", {}, None, request_key="k1")
    other = store.create_run("a3", "laom", "t", {}, None, request_key="k2")
    assert first == again != other
    assert len(store.list_runs()) == 2


def test_transition_is_conditional(store):
    rid = store.create_run("a", "bc", "t", {}, None)
    store.set_status(rid, "finished")
    assert not store.transition(rid, ["running"], "failed", error="late observer")
    assert store.get_run(rid)["status"] == "finished"


def test_metrics_round_trip_dedup_nan_stages(store):
    rid = store.create_run("a", "laom", "t", {}, None)
    with store.metric_writer(rid, flush_rows=7) as w:
        for step in range(100):
            w.log("lam", step, {"loss": 1.0 / (step + 1), "lr": 0.1})
        w.log("lam", 50, {"loss": -5.0})  # a resumed run repeats step 50: the later write wins
        w.log("bc", 0, {"loss": 9.0, "bad": float("nan")})
    m = store.metrics(rid)
    assert set(m) == {"loss", "lr", "bad"}
    loss = m["loss"]
    assert loss["step"].dtype == np.int64 and len(loss["step"]) == 101
    assert loss["stage"][:100] == ["lam"] * 100 and loss["stage"][100] == "bc"
    assert loss["value"][50] == -5.0 and loss["value"][99] == pytest.approx(0.01)
    assert np.all(np.diff(loss["step"][:100]) == 1)
    assert math.isnan(m["bad"]["value"][0])
    only_bc = store.metrics(rid, keys=["loss"], stage="bc")
    assert list(only_bc["loss"]["value"]) == [9.0]
    assert store.last_metrics(rid)["loss"] == 9.0
    assert store.last_metrics(rid, stage="lam")["loss"] == pytest.approx(0.01)
    assert store.count_metrics(rid) == 100 + 1 + 100 + 1
    rows = store.iter_metric_rows(rid)
    assert len(rows) == store.count_metrics(rid) and rows[0][0] == "bc"


def test_group_metrics_reads_every_run_of_a_group(store):
    ids = [store.create_run(f"r{i}", "laom", "t", {}, None, group="sweep") for i in range(3)]
    store.create_run("x", "laom", "t", {}, None, group="other")
    for i, rid in enumerate(ids):
        with store.metric_writer(rid) as w:
            for step in range(10):
                w.log("eval", step, {"eval_return_mean": i * 100 + step})
    out = store.group_metrics(group="sweep", keys=["eval_return_mean"])
    assert set(out) == set(ids)
    assert out[ids[2]]["eval_return_mean"]["value"][-1] == 209


def test_writer_flushes_by_rows_and_time(store):
    rid = store.create_run("a", "laom", "t", {}, None)
    w = store.metric_writer(rid, flush_rows=5, flush_s=1000)
    for step in range(4):
        w.log("lam", step, {"loss": step})
    assert store.count_metrics(rid) == 0  # still buffered
    w.log("lam", 4, {"loss": 4})
    assert store.count_metrics(rid) == 5
    w2 = store.metric_writer(rid, flush_rows=1000, flush_s=0.0)
    w2.log("bc", 0, {"loss": 1})
    assert store.count_metrics(rid) == 6
    w.close()
    w2.close()
    with pytest.raises(RunError, match="closed"):
        w.log("lam", 9, {"loss": 1})
    with pytest.raises(RunError, match="must be a number"):
        w2b = store.metric_writer(rid)
        w2b.log("lam", 0, {"loss": "high"})


def test_schema_version_and_newer_store_refused(workspace):
    s = RunStore()
    assert s.schema_version == SCHEMA_VERSION
    path = s.path
    s.close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(WorkspaceError, match="newer"):
        RunStore(path)


def test_foreign_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "runs.sqlite"
    bad.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(WorkspaceError, match="not a LAOM Studio run store"):
        RunStore(bad)


def _foreign_db(path):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.execute("INSERT INTO invoices VALUES (1, 9.5)")
    conn.commit()
    conn.close()
    return path.read_bytes()


def test_foreign_sqlite_database_is_refused_untouched(workspace, capsys):
    """Another program's SQLite file under our name: refused, no LAOM table added, not even WAL mode."""
    from laom_core.cli import main

    workspace.mkdir(parents=True, exist_ok=True)
    path = workspace / "runs.sqlite"
    before = _foreign_db(path)
    with pytest.raises(WorkspaceError, match="not a LAOM Studio run store.*invoices"):
        RunStore(path)
    capsys.readouterr()
    assert main(["runs", "list"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "another SQLite database" in err[0]
    assert path.read_bytes() == before
    conn = sqlite3.connect(path)
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")] == ["invoices"]
    conn.close()
    # A LAOM store someone added a table to stays a LAOM store.
    other = workspace / "mine.sqlite"
    RunStore(other).close()
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE notes (t TEXT)")
    conn.commit()
    conn.close()
    RunStore(other).close()


def test_full_disk_is_a_clear_error(store):
    rid = store.create_run("a", "laom", "t", {}, None)
    # Cap the file at its current size: SQLite then reports SQLITE_FULL, as on a full disk.
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    w = store.metric_writer(rid, flush_rows=10**9)
    w._store._conn.execute(f"PRAGMA max_page_count={pages}")
    for step in range(20000):
        w.log("lam", step, {"loss": float(step)})
    with pytest.raises(WorkspaceError, match="full"):
        w.flush()
    assert len(w._buffer) == 20000  # nothing dropped: a later flush can still write them
    w._store._conn.execute("PRAGMA max_page_count=1073741823")
    assert w.flush() == 20000
    assert store.count_metrics(rid) == 20000


def test_stale_rows_are_flushed_in_the_background(store):
    rid = store.create_run("a", "laom", "t", {}, None)
    w = store.metric_writer(rid, flush_rows=10**6, flush_s=0.2)
    w.log("eval", 0, {"eval_return_mean": 5.0})  # then the loop goes quiet (a long evaluation)
    import time

    deadline = time.time() + 10
    while store.count_metrics(rid) == 0 and time.time() < deadline:
        time.sleep(0.05)
    assert store.count_metrics(rid) == 1
    w.close()


def test_rows_of_an_unclosed_writer_are_written_at_exit(store):
    import subprocess
    import sys

    rid = store.create_run("a", "laom", "t", {}, None)
    code = (
        "import sys; from laom_core.runs.store import RunStore; "
        f"w = RunStore(sys.argv[1]).metric_writer({rid!r}, flush_rows=10**6, flush_s=10**6); "
        "[w.log('lam', i, {'loss': i}) for i in range(100)]; sys.exit(3)"
    )
    import os
    from pathlib import Path

    repo = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([repo, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", code, str(store.path)], capture_output=True, text=True,
                          timeout=120, env=env, cwd=repo)
    assert proc.returncode == 3, proc.stderr
    assert store.count_metrics(rid) == 100
