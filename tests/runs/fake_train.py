"""A test-only stand-in for `python -m laom_core train`, started by the real launcher.

It behaves like a training process: sets its status, logs metrics through RunStore's
MetricWriter, and can sleep, crash, hang (ignoring SIGTERM) or spawn a child on request.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

from laom_core.runs.store import RunStore


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--run-id", required=True)
    p.add_argument("--run-dir", required=True)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--keys", type=int, default=1, help="metric keys per step")
    p.add_argument("--sleep", type=float, default=0.0, help="seconds per step")
    p.add_argument("--crash-at", type=int, default=None, help="raise at this step (exit code 1)")
    p.add_argument("--ignore-term", action="store_true", help="ignore SIGTERM (needs SIGKILL)")
    p.add_argument("--child", action="store_true", help="spawn a sleeping child in the same group")
    p.add_argument("--no-status", action="store_true", help="never set a final status")
    p.add_argument("--flush-rows", type=int, default=512)
    p.add_argument("--resume", action="store_true")
    args = p.parse_args()

    store = RunStore(reconcile=False)
    store.set_status(args.run_id, "running")
    print(f"fake train {args.run_id} pid {os.getpid()} resume={args.resume}", flush=True)
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        def on_term(signum, frame):
            print("got SIGTERM", flush=True)
            writer.close()
            sys.exit(143)

        signal.signal(signal.SIGTERM, on_term)
    if args.child:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        print(f"child pid {child.pid}", flush=True)
    writer = store.metric_writer(args.run_id, flush_rows=args.flush_rows, flush_s=0.2)
    for step in range(args.steps):
        if args.crash_at is not None and step == args.crash_at and not args.resume:
            writer.close()
            raise RuntimeError(f"boom at step {step}")
        writer.log("lam", step, {f"k{j}": step * 10 + j for j in range(args.keys)})
        if step == 0:
            print("first step logged", flush=True)  # tests that signal the run wait for this line
        if args.sleep:
            time.sleep(args.sleep)
    writer.close()
    if not args.no_status:
        store.set_status(args.run_id, "finished")
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
