"""``python -m laom_core.runs.backends.entry RUN_DIR ATTEMPT -- ARGV...``: a run's process on a cluster node.

What a cluster job (Slurm through submitit, a Ray job) executes. It starts ``ARGV`` (a list,
never a shell string) as its own process group with output appended to
``<RUN_DIR>/log.txt`` (the same log a local run has), forwards SIGTERM/SIGINT to that group
(the grace period of a stop is the backend's), and writes ``<RUN_DIR>/exit.json``
atomically when the command ends: the local scheduler reads the exit code from there,
with the backend's job state only as a backstop. Exits with the command's exit code.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from laom_core import rundir

EXIT_FILE = rundir.EXIT


def write_json_atomic(path: Path, obj: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(obj, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def main(args: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if args is None else args)
    if len(args) < 4 or args[2] != "--":
        print("usage: python -m laom_core.runs.backends.entry RUN_DIR ATTEMPT -- ARGV...", file=sys.stderr)
        return 2
    run_dir, attempt, argv = Path(args[0]), args[1], args[3:]
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / EXIT_FILE).unlink(missing_ok=True)
    started = time.time()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    with open(run_dir / rundir.LOG, "ab") as log:
        log.write(f"=== {stamp} attempt {attempt} on {socket.gethostname()}: {' '.join(argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=str(run_dir), close_fds=True)

    def forward(signum: int, _frame: object) -> None:
        try:
            os.killpg(proc.pid, signum)
        except ProcessLookupError:
            pass

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR2):
        signal.signal(sig, forward)
    code = proc.wait()
    try:  # whatever the command left in its group goes with it
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    write_json_atomic(run_dir / EXIT_FILE, {"exit_code": code, "started_at": started, "ended_at": time.time(),
                                            "host": socket.gethostname()})
    return 0 if code == 0 else (code if 0 < code < 256 else 1)


if __name__ == "__main__":
    sys.exit(main())
