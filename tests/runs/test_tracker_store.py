"""Tracker features in the run store (issue 16): tags, notes, rename, archive, metric CSV,
and the v3 migration that keeps older stores opening."""
from __future__ import annotations

import csv
import io
import sqlite3

import pytest

from laom_core.cli import main
from laom_core.errors import RunError
from laom_core.runs import store as store_mod
from laom_core.runs.store import RunStore


def _v1_store(path) -> None:
    """A store as schema v1 wrote it, with one finished run (no notes/archived columns)."""
    conn = sqlite3.connect(path)
    for statement in store_mod._SCHEMA_V1.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("INSERT INTO runs (id, name, status, created_at, tags) VALUES "
                 "('old-20250101-000000-abcdef', 'old run', 'finished', 1.0, '[\"keep\"]')")
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()


def run_priority(store: RunStore, run_id: str) -> int:
    return store.get_run(run_id)["priority"]


def test_v1_store_opens_and_gains_notes_and_archive(tmp_path):
    path = tmp_path / "runs.sqlite"
    _v1_store(path)
    with RunStore(path) as s:
        assert s.schema_version == store_mod.SCHEMA_VERSION == 4
        assert run_priority(s, "old-20250101-000000-abcdef") == 0
        run = s.get_run("old-20250101-000000-abcdef")
        assert run["archived"] is False and run["notes"] is None and run["tags"] == ["keep"]
        s.set_notes(run["id"], "first note")
        s.set_archived(run["id"])
    with RunStore(path) as s:  # a second open does not migrate again (and keeps the values)
        run = s.get_run("old-20250101-000000-abcdef")
        assert run["notes"] == "first note" and run["archived"] is True


def test_tags_notes_rename_archive(store, tmp_path):
    rid = store.create_run("a", "laom", "cheetah-run", {}, tmp_path / "a", status="queued")
    with pytest.raises(RunError, match="stop it"):
        store.set_archived(rid)  # a queued run is not archived under the user's feet
    store.set_status(rid, "finished")
    assert store.set_tags(rid, [" best ", "best", "lr  sweep"]) == ["best", "lr sweep"]
    assert store.add_tag(rid, "x") == ["best", "lr sweep", "x"]
    assert store.remove_tag(rid, "best") == ["lr sweep", "x"]
    for bad in ("", "a,b", "t" * 41):
        with pytest.raises(RunError):
            store.add_tag(rid, bad)
    assert store.get_run(rid)["tags"] == ["lr sweep", "x"]  # a refused tag changes nothing
    assert store.rename_run(rid, "  new   name ") == "new name"
    with pytest.raises(RunError, match="empty"):
        store.rename_run(rid, "   ")
    store.set_notes(rid, "  looks good  ")
    assert store.get_run(rid)["notes"] == "looks good"
    store.set_notes(rid, "")
    assert store.get_run(rid)["notes"] is None
    store.set_archived(rid)
    assert store.get_run(rid)["archived"] is True and store.get_run(rid)["name"] == "new name"
    store.set_archived(rid, False)
    assert store.get_run(rid)["archived"] is False
    with pytest.raises(RunError, match="no run"):
        store.rename_run("nope-20250101-000000-000000", "x")


def test_metrics_csv_has_every_row_with_wall_time(store, tmp_path):
    rid = store.create_run("a", "laom", "cheetah-run", {}, tmp_path / "a", status="running")
    with store.metric_writer(rid) as w:
        for step in range(3):
            w.log("lam", step, {"loss": step * 0.5, "lr": 1e-3})
    rows = list(csv.DictReader(io.StringIO(store.metrics_csv(rid))))
    assert len(rows) == 6 and {r["run_id"] for r in rows} == {rid}
    assert {(r["stage"], r["key"], int(r["step"]), float(r["value"])) for r in rows} >= {("lam", "loss", 2, 1.0)}
    assert all(float(r["wall"]) > 1.7e9 for r in rows)  # seconds since the epoch, recorded at log time


def test_cli_tag_note_rename_archive(store, tmp_path, capsys):
    rid = store.create_run("cli", "laom", "cheetah-run", {}, tmp_path / "c", status="finished")
    short = rid.rsplit("-", 1)[-1]
    assert main(["runs", "tag", short, "good", "seed-check"]) == 0
    assert main(["runs", "tag", short, "good", "--remove"]) == 0
    assert main(["runs", "note", short, "diverged at 3k"]) == 0
    assert main(["runs", "rename", short, "renamed"]) == 0
    assert main(["runs", "archive", short]) == 0
    run = store.get_run(rid)
    assert run["tags"] == ["seed-check"] and run["notes"] == "diverged at 3k" and run["name"] == "renamed"
    assert run["archived"] is True
    assert main(["runs", "archive", short, "--undo"]) == 0 and store.get_run(rid)["archived"] is False
    capsys.readouterr()
    assert main(["runs", "tag", short, "a,b"]) == 2  # a user error: one line, exit 2
    assert "comma" in capsys.readouterr().err


def test_a_store_at_the_current_version_missing_added_columns_gains_them(tmp_path):
    """A store another line of LAOM Studio stamped with this version without running every
    step (branches merged in another order) still gets the columns on open."""
    path = tmp_path / "runs.sqlite"
    _v1_store(path)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={store_mod.SCHEMA_VERSION}")
    conn.commit()
    conn.close()
    with RunStore(path) as s:
        run = s.get_run("old-20250101-000000-abcdef")
        assert run["archived"] is False and run["notes"] is None
        s.set_archived(run["id"])
