"""The runs CLI: list/show/logs/export/stop/resume, and clear one-line errors."""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess

import pytest

from laom_core.cli import main
from laom_core.runs.launcher import launch_argv

from runs_helpers import fake_argv, wait_for


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    monkeypatch.setenv("LAOM_STUDIO_SCHEDULER_POLL", "0.1")
    monkeypatch.setenv("LAOM_STUDIO_GPUS", "")


def _done(store, run_id):
    return wait_for(lambda: store.get_run(run_id)["status"] in ("finished", "failed", "stopped"))


def test_list_show_logs_export(store, capsys, tmp_path):
    run_id = launch_argv(fake_argv("--steps", 5, "--keys", 2), method="fake", group="g1", store=store)
    _done(store, run_id)
    capsys.readouterr()
    assert main(["runs", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [r["id"] for r in rows] == [run_id] and rows[0]["status"] == "finished"
    assert main(["runs", "list", "--group", "other"]) == 0
    assert "no runs" in capsys.readouterr().out
    assert main(["runs", "list", "--status", "finished"]) == 0
    assert run_id in capsys.readouterr().out

    assert main(["runs", "show", run_id[:-2], "--json"]) == 0  # a unique prefix is enough
    shown = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert shown["id"] == run_id and shown["last_metrics"] == {"k0": 40.0, "k1": 41.0}

    assert main(["runs", "logs", run_id]) == 0
    assert "done" in capsys.readouterr().out
    assert main(["runs", "logs", run_id, "--follow"]) == 0  # returns: the run has ended
    assert "done" in capsys.readouterr().out

    out = tmp_path / "m.csv"
    assert main(["runs", "export", run_id, "--csv", str(out)]) == 0
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 10 and rows[0].keys() == {"run_id", "stage", "key", "step", "value", "wall"}
    assert {(r["key"], int(r["step"]), float(r["value"])) for r in rows} >= {("k1", 4, 41.0), ("k0", 0, 0.0)}

    run_dir = store.get_run(run_id)["run_dir"]
    assert main(["runs", "delete", run_id]) == 0
    assert store.list_runs() == [] and not os.path.exists(run_dir)


def test_stop_and_resume_from_cli(store, capsys):
    run_id = launch_argv(fake_argv("--steps", 100000, "--sleep", 0.02), store=store)
    wait_for(lambda: store.count_metrics(run_id) > 0)
    assert main(["runs", "stop", run_id, "--grace", "3"]) == 0
    assert f"{run_id} stopped" in capsys.readouterr().out
    assert main(["runs", "stop", run_id]) == 2
    assert "only queued or running" in capsys.readouterr().err
    assert main(["runs", "resume", run_id]) == 0
    wait_for(lambda: store.get_run(run_id)["status"] == "running" and store.get_run(run_id)["attempts"] == 2)
    assert main(["runs", "delete", run_id]) == 2
    assert "stop it first" in capsys.readouterr().err
    assert main(["runs", "stop", run_id, "--grace", "3"]) == 0


def test_unknown_run_is_one_line_error(capsys):
    assert main(["runs", "show", "no-such-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no run with id") and "\n" not in err


def test_concurrency_setting(store, capsys):
    assert main(["runs", "concurrency", "3"]) == 0
    assert capsys.readouterr().out.strip() == "3"
    assert main(["runs", "concurrency", "0"]) == 2
    assert main(["runs", "concurrency", "--default"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "1"


def test_read_only_workspace_is_a_clear_error(workspace, tmp_path, capsys, monkeypatch):
    """A workspace on a read-only mount (or without write permission) fails with one line."""
    from laom_core.errors import WorkspaceError
    from laom_core.runs.store import RunStore

    with RunStore() as s:
        s.create_run("a", "laom", "t", {}, None)
    import os

    if os.geteuid() != 0:
        os.chmod(workspace, 0o555)
        undo = [lambda: os.chmod(workspace, 0o755)]
    else:  # root ignores permissions: bind-mount the workspace read-only
        mount = shutil.which("mount")
        if not mount or subprocess.run([mount, "--bind", str(workspace), str(workspace)]).returncode != 0:
            pytest.skip("cannot make a read-only workspace here")
        undo = [lambda: subprocess.run([shutil.which("umount"), "-l", str(workspace)], check=False)]
        if subprocess.run([mount, "-o", "remount,ro,bind", str(workspace)]).returncode != 0:
            undo[0]()
            pytest.skip("cannot remount read-only here")
    try:
        with pytest.raises(WorkspaceError, match="not writable|read-only"):
            RunStore()
        capsys.readouterr()
        assert main(["runs", "list"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and ("not writable" in err or "read-only" in err) and "\n" not in err
    finally:
        for fn in undo:
            fn()


def test_a_closed_pipe_ends_the_cli_quietly(tmp_path):
    """`python -m laom_core runs list | head -1`: no traceback when the reader has gone."""
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the CLI writes a byte
    proc = subprocess.run([sys.executable, "-m", "laom_core", "runs", "list"], stdout=write_end,
                          stderr=subprocess.PIPE, text=True, timeout=60,
                          env=dict(os.environ, LAOM_STUDIO_WORKSPACE=str(tmp_path / "ws")))
    os.close(write_end)
    assert proc.returncode == 141 and "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr


def test_delete_removes_only_the_runs_own_folder(store, capsys, tmp_path):
    """A run recorded with the runs folder itself, a nested folder or a symlink leading out keeps them."""
    from laom_core.workspace import runs_dir

    runs = runs_dir()
    (runs / "other-run").mkdir()
    (runs / "other-run" / "summary.json").write_text("{}")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep")
    (runs / "link").symlink_to(outside, target_is_directory=True)
    (runs / "a" / "b").mkdir(parents=True)
    for folder in (runs, runs / "link", runs / "a" / "b", runs / "a"):
        run_id = store.create_run("x", "bc", "t", {}, str(folder), status="finished")
        if folder == runs / "a":
            store.create_run("y", "bc", "t", {}, str(runs / "a" / "b"), status="finished")
        assert main(["runs", "delete", run_id]) == 0
    assert (runs / "other-run" / "summary.json").exists() and (outside / "precious.txt").read_text() == "keep"
    assert (runs / "a" / "b").is_dir()
    own = store.create_run("z", "bc", "t", {}, str(runs / "own"), status="finished")
    (runs / "own").mkdir()
    assert main(["runs", "delete", own]) == 0 and not (runs / "own").exists()


def test_export_to_a_folder_is_one_line_error(store, capsys, tmp_path):
    run_id = store.create_run("x", "bc", "t", {}, None, status="finished")
    (tmp_path / "out").mkdir()
    assert main(["runs", "export", run_id, "--csv", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "is a folder" in err and "\n" not in err
    assert list((tmp_path / "out").iterdir()) == []


def test_export_keeps_an_existing_file_without_overwrite(store, capsys, tmp_path):
    run_id = store.create_run("x", "bc", "t", {}, None, status="finished")
    out = tmp_path / "m.csv"
    out.write_text("precious\n")
    assert main(["runs", "export", run_id, "--csv", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "--overwrite" in err and "\n" not in err
    assert out.read_text() == "precious\n"
    assert main(["runs", "export", run_id, "--csv", str(out), "--overwrite"]) == 0
    assert out.read_text().startswith("run_id,stage,key,step,value,wall")


def test_read_only_commands_create_no_workspace(tmp_path, monkeypatch, capsys):
    """`runs list` in a folder without LAOM_STUDIO_WORKSPACE says there are no runs and leaves no ./workspace."""
    monkeypatch.delenv("LAOM_STUDIO_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["runs", "list"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("no runs") and str(tmp_path / "workspace") in out
    assert main(["runs", "list", "--json"]) == 0 and capsys.readouterr().out.strip() == "[]"
    assert main(["runs", "show", "abc"]) == 2
    assert "there are no runs in the workspace" in capsys.readouterr().err
    assert main(["runs", "logs", "abc"]) == 2
    assert main(["sweep", "--name", "s1", "--summary"]) == 2
    assert main(["demo", "--status"]) == 0
    capsys.readouterr()
    assert not (tmp_path / "workspace").exists()
    assert list(tmp_path.iterdir()) == []


def test_cli_takes_the_short_id_the_dashboard_shows(store, capsys):
    rid = store.create_run("short", "laom", "t", {}, None, status="queued")
    store.set_status(rid, "finished")
    short = rid.rsplit("-", 1)[-1]
    assert main(["runs", "show", short, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == rid
    assert main(["runs", "show", "zzzzzz"]) == 2 and "no run with id" in capsys.readouterr().err
