"""The one process supervisor floor: start from argv, liveness (pid reuse safe), stop with
a grace period (whole group, SIGKILL escalation), the one log tail, structured progress."""
from __future__ import annotations

import os
import sys
import time

import pytest

from laom_core import jobs, procs


def _wait(pred, timeout: float = 30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_start_detaches_logs_and_reports_exit(tmp_path):
    log = tmp_path / "sub" / "log.txt"
    proc = procs.start([sys.executable, "-c", "print('hello'); raise SystemExit(3)"], log=log, header="=== go")
    assert os.getpgid(proc.pid) == proc.pid == proc.pgid != os.getpgid(0)  # its own process group
    assert _wait(lambda: proc.poll() is not None) and proc.poll() == 3
    assert not proc.alive()
    assert log.read_text().splitlines() == ["=== go", "hello"]
    with pytest.raises(Exception):
        procs.start([], log=log)


def test_argv_is_never_a_shell_string(tmp_path):
    marker = tmp_path / "pwned"
    proc = procs.start(["echo", f"; touch {marker}"], log=tmp_path / "log.txt")
    _wait(lambda: proc.poll() is not None)
    assert not marker.exists() and f"; touch {marker}" in procs.tail(tmp_path / "log.txt")


def test_liveness_is_pid_reuse_safe(tmp_path):
    proc = procs.start([sys.executable, "-c", "import time; time.sleep(30)"], log=tmp_path / "log.txt")
    try:
        assert proc.alive() and procs.process_alive(proc.pid, proc.start_time) is True
        # The same pid with another start time is another process (the pid was reused).
        assert procs.process_alive(proc.pid, proc.start_time - 100) is False
        reused = procs.Proc(proc.pid, proc.start_time - 100)
        assert procs.stop(reused, grace_s=0.5) is True and proc.alive()  # not ours: not signalled
        assert procs.process_alive(proc.pid, proc.start_time, host="elsewhere") is None
        assert procs.Proc.from_dict(proc.to_dict()) == proc
    finally:
        assert procs.stop(proc, grace_s=5) is True
    assert not proc.alive()


def test_stop_kills_the_group_and_escalates(tmp_path):
    script = ("import signal, subprocess, sys, time\n"
              "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
              "subprocess.Popen([sys.executable, '-c', 'import signal, time; "
              "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)'])\n"
              "print('ready', flush=True)\n"
              "time.sleep(60)\n")
    proc = procs.start([sys.executable, "-c", script], log=tmp_path / "log.txt")
    _wait(lambda: "ready" in procs.tail(tmp_path / "log.txt"))
    started = time.time()
    assert procs.stop(proc, grace_s=0.5) is True
    assert time.time() - started >= 0.5  # SIGTERM was ignored: SIGKILL after the grace period
    assert not procs.group_alive(proc.pgid) and not proc.alive()


def test_tail(tmp_path):
    path = tmp_path / "log.txt"
    assert procs.tail(path) == "" and procs.tail(None) == ""
    path.write_bytes(b"a\nb\nbar 1/3\rbar 2/3\rbar 3/3\n" + b"x" * 10 + b"\nlast\n")
    assert procs.tail(path, lines=2) == "x" * 10 + "\nlast"
    assert procs.tail(path, lines=None, last_state=True).splitlines()[2] == "bar 3/3"
    assert procs.tail(path, lines=None, max_bytes=5) == "last\n"
    assert procs.tail(path, lines=None, max_bytes=None).startswith("a\nb\n")


def test_progress_is_written_by_the_child_and_read_by_the_starter(tmp_path):
    progress = tmp_path / "progress.json"
    code = "from laom_core.procs import report_progress\nreport_progress(3, 4, stage='collect', message='ep 3')\n"
    proc = procs.start([sys.executable, "-c", code], log=tmp_path / "log.txt", progress_file=progress)
    _wait(lambda: proc.poll() is not None)
    assert proc.poll() == 0, procs.tail(tmp_path / "log.txt")
    record = procs.read_progress(progress)
    assert record["fraction"] == pytest.approx(0.75) and record["stage"] == "collect" and record["done"] == 3
    assert procs.read_progress(tmp_path / "none.json") is None
    procs.report_progress(1, 2)  # no progress file set here: nothing happens, nothing fails


def test_a_job_reports_structured_progress_not_scraped_text(workspace):
    # The log says 9/10 (tqdm-like text); the job's own record says 1 of 4 and wins.
    code = ("import time\nfrom laom_core.procs import report_progress\n"
            "print('9/10 [bogus]', flush=True)\nreport_progress(1, 4, stage='work')\ntime.sleep(30)\n")
    job_id = jobs.start_job("test", [sys.executable, "-c", code], label="structured")
    try:
        status = _wait(lambda: (s := jobs.job_status(job_id)).progress is not None and "work" in s.progress_text
                       and s)
        assert status.state == "running" and status.progress == pytest.approx(0.25)
        assert status.progress_text == "work 1/4"
        meta_start = jobs._read_json(jobs.jobs_dir() / job_id / "job.json")["start_time"]
        assert meta_start is not None
    finally:
        jobs.stop_job(job_id, grace_s=2)
    assert _wait(lambda: (s := jobs.job_status(job_id)).done and s).state == "stopped"


def test_read_from_follows_a_growing_log(tmp_path):
    path = tmp_path / "log.txt"
    assert procs.read_from(path, 0) == ("", 0)
    path.write_text("one\n")
    text, pos = procs.read_from(path, 0)
    assert text == "one\n" and pos == 4
    with open(path, "a") as fh:
        fh.write("two\n")
    assert procs.read_from(path, pos) == ("two\n", 8)
