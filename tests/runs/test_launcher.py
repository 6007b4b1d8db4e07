"""The launcher with real processes: start, finish, crash, stop, SIGKILL, re-attach, queue, idempotency."""
from __future__ import annotations

import os
import signal
import socket
import json
import time

import psutil
import pytest

from laom_core.errors import RunError
from laom_core.runs import launcher, liveness
from laom_core.runs.launcher import launch_argv, resume, stop

from runs_helpers import fake_argv, wait_for


@pytest.fixture(autouse=True)
def _fast_scheduler(monkeypatch):
    monkeypatch.setenv("LAOM_STUDIO_SCHEDULER_POLL", "0.1")
    monkeypatch.setenv("LAOM_STUDIO_GPUS", "")  # CPU: one run at a time unless a test says otherwise
    monkeypatch.delenv("LAOM_STUDIO_MAX_RUNS", raising=False)


def status_is(store, run_id, *statuses):
    def check():
        run = store.get_run(run_id)
        return run if run["status"] in statuses else None

    check.__name__ = f"{run_id} in {statuses}"
    return check


def scheduler_pid(workspace) -> int | None:
    text = (workspace / ".scheduler.lock").read_text().strip()
    return int(text) if text.isdigit() and launcher.scheduler_alive() else None


def test_run_finishes_with_metrics_log_and_exit_code(store, workspace):
    run_id = launch_argv(fake_argv("--steps", 25, "--keys", 2), method="fake", name="first", store=store)
    assert store.get_run(run_id)["status"] in ("queued", "running")
    run = wait_for(status_is(store, run_id, "finished", "failed"))
    assert run["status"] == "finished", run["error"]
    assert run["run_dir"] == str(workspace / "runs" / run_id)
    wait_for(lambda: store.get_run(run_id)["exit_code"] == 0)
    m = store.metrics(run_id)
    assert list(m["k1"]["step"]) == list(range(25)) and m["k1"]["value"][-1] == 241
    log = launcher.read_log(run_id, store=store)
    assert "attempt 1" in log and "done" in log
    wait_for(lambda: not launcher.scheduler_alive(), timeout=10)  # the scheduler leaves once idle


def test_crash_is_failed_with_log_tail(store):
    run_id = launch_argv(fake_argv("--steps", 50, "--crash-at", 3), store=store)
    run = wait_for(status_is(store, run_id, "failed", "finished"))
    assert run["status"] == "failed" and "boom at step 3" in run["error"]  # the log tail
    run = wait_for(lambda: (r := store.get_run(run_id))["exit_code"] is not None and r)
    assert run["exit_code"] == 1 and "exit code 1" in run["error"]
    assert store.count_metrics(run_id) == 3  # rows logged before the crash were kept

    # Resume re-queues the same run with --resume; this time it completes.
    first_start = run["started_at"]
    resume(run_id, store=store)
    run = wait_for(status_is(store, run_id, "finished", "failed"))
    assert run["status"] == "finished" and run["argv"][-1] == "--resume" and run["attempts"] == 2
    assert run["started_at"] == first_start  # its duration counts from the first start, not the resume
    assert run["error"] is None
    assert store.count_metrics(run_id) == 50
    with pytest.raises(RunError, match="only stopped or failed"):
        resume(run_id, store=store)


def _group_members(pgid: int) -> list[int]:
    out = []
    for p in psutil.process_iter(["pid", "status"]):
        try:
            if os.getpgid(p.pid) == pgid and p.info["status"] != psutil.STATUS_ZOMBIE:
                out.append(p.pid)
        except (ProcessLookupError, psutil.Error):
            pass
    return out


def test_stop_terminates_the_whole_group(store, workspace):
    run_id = launch_argv(fake_argv("--steps", 100000, "--sleep", 0.02, "--child"), store=store)
    # Not before the first step: a SIGTERM earlier (a loaded machine) would find nothing to flush.
    wait_for(lambda: "first step logged" in launcher.read_log(run_id, store=store))
    run = store.get_run(run_id)
    assert run["status"] == "running" and run["pgid"] == run["pid"]
    assert len(_group_members(run["pgid"])) == 2  # the run and its child share the group
    assert stop(run_id, grace_s=5, store=store) == "stopped"
    assert _group_members(run["pgid"]) == []  # no orphan left
    run = store.get_run(run_id)
    assert run["status"] == "stopped" and run["ended_at"] is not None
    assert "got SIGTERM" in launcher.read_log(run_id, store=store)
    rows = store.count_metrics(run_id)
    assert rows > 0  # the SIGTERM handler flushed its buffer
    time.sleep(0.5)
    assert store.get_run(run_id)["status"] == "stopped"  # the scheduler does not overrule it


def test_stop_escalates_to_sigkill(store):
    run_id = launch_argv(fake_argv("--steps", 100000, "--sleep", 0.02, "--ignore-term"), store=store)
    wait_for(lambda: store.count_metrics(run_id) > 0)
    run = store.get_run(run_id)
    t0 = time.time()
    assert stop(run_id, grace_s=0.5, store=store) == "stopped"
    assert time.time() - t0 < 8
    assert not liveness.group_alive(run["pgid"])
    assert "got SIGTERM" not in launcher.read_log(run_id, store=store)


def test_stop_a_queued_run_never_starts_it(store):
    first = launch_argv(fake_argv("--steps", 100000, "--sleep", 0.02), store=store)
    second = launch_argv(fake_argv("--steps", 5), store=store)
    wait_for(status_is(store, first, "running"))
    assert stop(second, store=store) == "stopped"
    stop(first, grace_s=2, store=store)
    time.sleep(0.5)
    run = store.get_run(second)
    assert run["status"] == "stopped" and run["pid"] is None and run["attempts"] == 0


def test_sigkilled_run_is_failed_and_scheduler_restart_reattaches(store, workspace):
    """Kill the scheduler (the launcher's own process), then the run: readers still see the truth."""
    long_run = launch_argv(fake_argv("--steps", 100000, "--sleep", 0.02), store=store)
    queued = launch_argv(fake_argv("--steps", 5), store=store)
    wait_for(lambda: store.count_metrics(long_run) > 0)  # started and logging
    run = store.get_run(long_run)
    old_scheduler = scheduler_pid(workspace)
    assert old_scheduler is not None
    os.kill(old_scheduler, signal.SIGKILL)
    wait_for(lambda: not launcher.scheduler_alive())
    assert liveness.process_alive(run["pid"], run["proc_start"], run["host"])  # the run lives on

    # A restarted dashboard/CLI ensures a scheduler: it re-attaches, never starts the run twice.
    assert launcher.ensure_scheduler(store)
    time.sleep(1.0)
    again = store.get_run(long_run)
    assert again["status"] == "running" and again["pid"] == run["pid"] and again["attempts"] == 1
    assert store.get_run(queued)["status"] == "queued"  # the slot is still taken
    assert launcher.read_log(long_run, store=store, lines=None).count("=== ") == 1

    # SIGKILL the run; nobody is its parent any more, so only liveness can tell.
    os.killpg(run["pgid"], signal.SIGKILL)
    failed = wait_for(status_is(store, long_run, "failed"), timeout=10)
    assert "exited without reporting" in failed["error"] and "fake train" in failed["error"]
    # Its slot frees and the queued run starts and finishes.
    done = wait_for(status_is(store, queued, "finished", "failed"))
    assert done["status"] == "finished"


def test_dead_pid_and_reused_pid_are_failed(store):
    """A run recorded as running whose pid is gone or belongs to another process (reboot)."""
    gone = store.create_run("gone", "fake", "t", {}, None, status="running")
    proc = psutil.Popen(["true"])
    proc.wait()
    store.update_run(gone, pid=proc.pid, pgid=proc.pid, proc_start=time.time() - 5)
    reused = store.create_run("reused", "fake", "t", {}, None, status="running")
    me = psutil.Process()
    store.update_run(reused, pid=me.pid, pgid=os.getpgid(0), proc_start=me.create_time() - 3600)
    alive = store.create_run("alive", "fake", "t", {}, None, status="running")
    store.update_run(alive, pid=me.pid, pgid=os.getpgid(0), proc_start=me.create_time())
    store._last_reconcile = 0
    statuses = {r["name"]: r["status"] for r in store.list_runs()}
    assert statuses == {"gone": "failed", "reused": "failed", "alive": "running"}


def test_reader_seeing_the_zombie_first_does_not_fail_a_clean_exit(store):
    """The race: a non-train command exits 0 without setting its status; a page reconciles
    the zombie (marks it failed, no exit code known) before the scheduler reaps it."""
    ok = store.create_run("ok", "fake", "t", {}, None, status="running")
    bad = store.create_run("bad", "fake", "t", {}, None, status="running")
    procs = {}
    for run_id, cmd in ((ok, ["true"]), (bad, ["false"])):
        procs[run_id] = psutil.Popen(cmd)
        store.update_run(run_id, pid=procs[run_id].pid, pgid=procs[run_id].pid,
                         proc_start=liveness.process_start_time(procs[run_id].pid))
    wait_for(lambda: all(p.status() == psutil.STATUS_ZOMBIE for p in procs.values()), timeout=10)
    store._last_reconcile = 0
    assert {r["name"]: r["status"] for r in store.list_runs()} == {"ok": "failed", "bad": "failed"}  # the reader
    for run_id, proc in procs.items():  # the scheduler reaps its children
        launcher._finalize(store, run_id, proc.wait())
    ok_run, bad_run = store.get_run(ok), store.get_run(bad)
    assert (ok_run["status"], ok_run["exit_code"], ok_run["error"]) == ("finished", 0, None)
    assert bad_run["status"] == "failed" and bad_run["exit_code"] == 1 and "exit code 1" in bad_run["error"]


def test_queue_runs_one_at_a_time_in_order(store):
    ids = [launch_argv(fake_argv("--steps", 3, "--sleep", 0.05), store=store) for _ in range(3)]
    for run_id in ids:
        wait_for(status_is(store, run_id, "finished", "failed"))
    runs = [store.get_run(r) for r in ids]
    assert [r["status"] for r in runs] == ["finished"] * 3
    for before, after in zip(runs, runs[1:]):
        assert after["started_at"] >= before["ended_at"]  # never two at once, oldest first


def test_priority_moves_a_queued_run_ahead(store, workspace, capsys):
    from laom_core.cli import main as cli

    first = launch_argv(fake_argv("--steps", 60, "--sleep", 0.05), store=store)  # holds the one slot
    wait_for(status_is(store, first, "running"))
    older, newer = (launch_argv(fake_argv("--steps", 2, "--sleep", 0.01), store=store) for _ in range(2))
    assert cli(["runs", "list"]) == 0
    listed = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert listed["ID"].rstrip().endswith("NEXT") and listed[older].rstrip().endswith(" 1")
    assert cli(["runs", "priority", newer, "--first"]) == 0
    assert f"{newer} priority 1 (0 queued run(s) ahead of it)" in capsys.readouterr().out
    assert cli(["runs", "list"]) == 0
    listed = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert listed[newer].rstrip().endswith("1 (p1)") and listed[older].rstrip().endswith(" 2")
    assert cli(["runs", "list", "--json"]) == 0
    assert {r["id"]: r["priority"] for r in json.loads(capsys.readouterr().out)}[newer] == 1
    for run_id in (first, older, newer):
        wait_for(status_is(store, run_id, "finished", "failed"))
    runs = {r: store.get_run(r) for r in (first, older, newer)}
    assert all(r["status"] == "finished" for r in runs.values())
    assert runs[newer]["started_at"] < runs[older]["started_at"]  # the newer run went first
    assert cli(["runs", "show", newer]) == 0 and "priority        1" in capsys.readouterr().out
    with pytest.raises(RunError, match="priority must be an integer"):
        store.set_priority(older, 10**9)
    assert cli(["runs", "priority", older, "-3"]) == 0 and store.get_run(older)["priority"] == -3


def test_concurrency_limit_allows_parallel_runs(store, monkeypatch):
    monkeypatch.setenv("LAOM_STUDIO_MAX_RUNS", "2")
    ids = [launch_argv(fake_argv("--steps", 100000, "--sleep", 0.02), store=store) for _ in range(3)]
    wait_for(lambda: sum(store.get_run(r)["status"] == "running" for r in ids) == 2)
    time.sleep(0.5)
    assert [store.get_run(r)["status"] for r in ids] == ["running", "running", "queued"]
    for r in ids:
        stop(r, grace_s=2, store=store)


def test_gpu_assignment_spreads_runs(store, monkeypatch):
    monkeypatch.setenv("LAOM_STUDIO_GPUS", "0,1")
    ids = [launch_argv(fake_argv("--steps", 100000, "--sleep", 0.02), store=store) for _ in range(2)]
    wait_for(lambda: all(store.get_run(r)["pid"] for r in ids))
    assert sorted(store.get_run(r)["gpu"] for r in ids) == ["0", "1"]
    env = psutil.Process(store.get_run(ids[0])["pid"]).environ()
    assert env["CUDA_VISIBLE_DEVICES"] == store.get_run(ids[0])["gpu"]
    for r in ids:
        stop(r, grace_s=2, store=store)


def test_repeated_request_starts_one_run(store):
    argv = fake_argv("--steps", 3)
    a = launch_argv(argv, client_token="form-1", store=store, start_scheduler=False)
    b = launch_argv(argv, client_token="form-1", store=store, start_scheduler=False)
    c = launch_argv(argv, client_token="form-2", store=store, start_scheduler=False)
    assert a == b != c
    assert len(store.list_runs()) == 2


def test_one_scheduler_per_workspace(store, workspace):
    lock = launcher.SchedulerLock()
    assert lock.acquire()
    try:
        assert launcher.scheduler_alive()
        assert launcher.run_scheduler(store=store, poll_s=0.05, log=open(os.devnull, "w")) == 1
    finally:
        lock.release()
    assert not launcher.scheduler_alive()


def test_stop_all_stops_queued_runs_and_skips_ended_ones(workspace):
    from laom_core.runs import launcher
    from laom_core.runs.store import RunStore

    with RunStore() as store:
        queued = [store.create_run(f"q{i}", "laom", "toy", {}, workspace / f"r{i}", status="queued") for i in range(2)]
        done = store.create_run("done", "laom", "toy", {}, workspace / "d", status="finished")
        assert sorted(launcher.stop_all(grace_s=0.5, store=store)) == sorted(queued)
        assert {store.get_run(r)["status"] for r in queued} == {"stopped"}
        assert store.get_run(done)["status"] == "finished"
        assert launcher.stop_all(store=store) == []


def test_a_resumed_run_just_claimed_is_not_taken_for_a_dead_launcher(store):
    """The claim grace counts from the claim (updated_at), not from the first start it keeps."""
    run_id = store.create_run("resumed", "fake", "t", {}, None, status="queued")
    long_ago = time.time() - 10 * liveness.CLAIM_GRACE_S
    assert store.transition(run_id, ["queued"], "running", started_at=long_ago, pid=None, pgid=None,
                            proc_start=None, host=socket.gethostname())
    assert store.reconcile() == [] and store.get_run(run_id, reconcile=False)["status"] == "running"
