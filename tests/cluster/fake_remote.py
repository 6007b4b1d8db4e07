"""A test-only stand-in for a remote ``train``: metrics to ``<run_dir>/metrics.jsonl`` (as
:class:`laom_core.training.common.Metrics` does without a store), never opens the store."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--run-id", required=True)
    p.add_argument("--run-dir", required=True)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--sleep", type=float, default=0.0)
    p.add_argument("--crash-at", type=int, default=None)
    p.add_argument("--resume", action="store_true")
    args = p.parse_args()
    assert os.environ.get("LAOM_STUDIO_STORE") == "off", "a remote run must not open the store"
    run_dir = Path(args.run_dir)
    print(f"fake remote {args.run_id} pid {os.getpid()} resume={args.resume}", flush=True)
    with open(run_dir / "metrics.jsonl", "a", encoding="utf-8") as fh:
        for step in range(args.steps):
            if args.crash_at is not None and step == args.crash_at:
                print(f"boom at step {step}", flush=True)
                raise RuntimeError(f"boom at step {step}")
            fh.write(json.dumps({"stage": "lam", "step": step, "wall": time.time(), "loss": step * 10.0}) + "\n")
            fh.flush()
            if args.sleep:
                time.sleep(args.sleep)
    (run_dir / "summary.json").write_text(json.dumps({"run_id": args.run_id, "steps": args.steps}))
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
