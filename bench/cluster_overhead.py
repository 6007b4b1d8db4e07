"""Launcher overhead on the local Slurm cluster: queue N smoke-size runs, measure submit and ingest.

    bash scripts/start_slurm.sh
    python bench/cluster_overhead.py [--n 200] [--steps 50] [--keep DIR]

Each run is a minimal trainer (a Python process that appends ``--steps`` metric lines to its
``metrics.jsonl``, like a training process on a cluster node) submitted through the real
slurm backend (submitit, one job per run) and watched by the real scheduler loop, run in
this process so its calls can be timed:

- submit: seconds per run in ``SlurmBackend.submit`` (submitit + sbatch),
- ingest: seconds per run in ``ingest_metrics`` (all its calls, rows into the store),
- the run's own time: the command's wall time on the node (``exit.json``),
- end to end: queued -> finished in the store.

Prints the ratios (launcher overhead / run's own time); the last line is JSON, also written
to ``bench/results/cluster_overhead.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from laom_core.rundir import RunDir  # noqa: E402 - after the path

TRAINER = (
    "import json, sys, time\n"
    "from laom_core.rundir import RunDir\n"
    "run_dir, steps = RunDir(sys.argv[1]), int(sys.argv[2])\n"
    "with open(run_dir.metrics, 'a') as fh:\n"
    "    for step in range(steps):\n"
    "        fh.write(json.dumps({'stage': 'bench', 'step': step, 'wall': time.time(), 'loss': 1.0 / (step + 1),"
    " 'lr': 1e-3}) + '\\n')\n"
    "run_dir.summary.write_text(json.dumps({'steps': steps}))\n"
)


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def _stats(values: list[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(values) if values else float("nan"), "p50": _pct(values, 0.5),
            "p95": _pct(values, 0.95), "max": max(values) if values else float("nan")}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=200, help="runs to queue (default 200)")
    p.add_argument("--steps", type=int, default=50, help="metric lines per run (2 keys each)")
    p.add_argument("--keep", default=None, help="workspace folder to use and keep (default: a temporary one)")
    p.add_argument("--out", default=str(Path(__file__).with_name("results") / "cluster_overhead.json"))
    args = p.parse_args()

    from laom_core.runs.backends.slurm import reachable

    why = reachable()
    if why:
        print(f"error: {why}", file=sys.stderr)
        return 2
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="laom-cluster-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    os.environ["LAOM_STUDIO_WORKSPACE"] = str(root)

    from laom_core.runs import backends, ingest, launcher
    from laom_core.runs.backends.slurm import SlurmBackend
    from laom_core.runs.store import RunStore

    submit_s: dict[str, float] = {}
    ingest_s: dict[str, float] = {}
    real_submit, real_ingest = SlurmBackend.submit, ingest.ingest_metrics

    def timed_submit(self, run, argv, env, opts):  # the real call, timed
        t0 = time.perf_counter()
        try:
            return real_submit(self, run, argv, env, opts)
        finally:
            submit_s[run["id"]] = time.perf_counter() - t0

    def timed_ingest(store, run_id, run_dir, **kw):
        t0 = time.perf_counter()
        try:
            return real_ingest(store, run_id, run_dir, **kw)
        finally:
            ingest_s[run_id] = ingest_s.get(run_id, 0.0) + time.perf_counter() - t0

    SlurmBackend.submit = timed_submit
    ingest.ingest_metrics = timed_ingest
    store = RunStore()
    backends.set_max_remote(store, "slurm", args.n)
    t_queue = time.perf_counter()
    opts = backends.check_backend("slurm", {"time_limit_min": 30})
    ids = [launcher.launch_argv([sys.executable, "-c", TRAINER, "{run_dir}", str(args.steps)], method="bench",
                                store=store, start_scheduler=False, backend="slurm", backend_opts=opts)
           for _ in range(args.n)]
    queue_s = time.perf_counter() - t_queue
    t0 = time.perf_counter()
    with open(root / "scheduler.log", "a") as log:
        code = launcher.run_scheduler(store, poll_s=0.2, log=log)
    wall = time.perf_counter() - t0
    runs = [store.get_run(i, reconcile=False) for i in ids]
    own, e2e = [], []
    for run in runs:
        info = ingest.read_json(RunDir(run["run_dir"]).exit) or {}
        if "started_at" in info:
            own.append(info["ended_at"] - info["started_at"])
        e2e.append((run["ended_at"] or 0) - (run["queued_at"] or 0))
    finished = sum(r["status"] == "finished" for r in runs)
    rows = sum(store.count_metrics(i) for i in ids)
    sub, ing = list(submit_s.values()), [ingest_s.get(i, 0.0) for i in ids]
    own_mean = statistics.fmean(own) if own else float("nan")
    result = {
        "n": args.n, "steps": args.steps, "finished": finished, "scheduler_exit": code,
        "metric_rows": rows, "metric_rows_expected": args.n * args.steps * 2,
        "queue_s_per_run": queue_s / args.n, "submit_s": _stats(sub), "ingest_s_per_run": _stats(ing),
        "run_own_s": _stats(own), "end_to_end_s": _stats(e2e), "wall_s": wall,
        "throughput_runs_per_min": 60 * finished / wall if wall else None,
        "ratio_submit_to_own": statistics.fmean(sub) / own_mean if sub and own else None,
        "ratio_ingest_to_own": statistics.fmean(ing) / own_mean if own else None,
        "ratio_overhead_to_own": (statistics.fmean(sub) + statistics.fmean(ing)) / own_mean if sub and own else None,
        "cpus": os.cpu_count(),
    }
    # The cluster's own cost per run: job slot time (the node runs cpus jobs at once) minus the
    # run's own time = Slurm's job start/end + submitit's job process + the entry wrapper.
    result["slot_s_per_run"] = wall * (os.cpu_count() or 1) / max(1, finished)
    result["cluster_side_s_per_run"] = result["slot_s_per_run"] - own_mean
    print(f"{finished}/{args.n} runs finished in {wall:.1f} s on the local Slurm cluster "
          f"({result['throughput_runs_per_min']:.1f} runs/min); metric rows {rows} (expected "
          f"{result['metric_rows_expected']})")
    print(f"per run: queue {result['queue_s_per_run'] * 1e3:.1f} ms, submit {result['submit_s']['mean'] * 1e3:.0f} ms "
          f"(p95 {result['submit_s']['p95'] * 1e3:.0f}), ingest {result['ingest_s_per_run']['mean'] * 1e3:.1f} ms, "
          f"run's own time {own_mean:.2f} s, queued->finished {result['end_to_end_s']['p50']:.1f} s (p50)")
    print(f"ratios to the run's own time: submit {result['ratio_submit_to_own']:.3f}, "
          f"ingest {result['ratio_ingest_to_own']:.4f}, both {result['ratio_overhead_to_own']:.3f}")
    print(f"job slot time per run {result['slot_s_per_run']:.2f} s: Slurm + submitit + wrapper start-up "
          f"{result['cluster_side_s_per_run']:.2f} s on the node, outside the launcher")
    store.close()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2))
    os.replace(tmp, out)
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result))
    return 0 if finished == args.n and rows == result["metric_rows_expected"] else 1


if __name__ == "__main__":
    sys.exit(main())
