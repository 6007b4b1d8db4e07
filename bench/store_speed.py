"""Run store speed: 1M metric rows written by 8 processes, then curve reads.

    python bench/store_speed.py [--rows 1000000] [--writers 8] [--runs 50] [--keep DIR]

Process 0 writes one run of 100k points (4 keys x 25k steps, like a training loop logging
loss, lr, grad_norm, samples_per_s); processes 1..7 write the other rows spread over the
rest of a 50-run group, all at the same time, through ``MetricWriter`` (default batching).
Then it reads the big run's curves and the whole group's curves (median of 5 reads).
Target: reading the 100k points of one run takes under 5% of the time writing them took.
The last line is JSON.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

KEYS = ("loss", "lr", "grad_norm", "samples_per_s")


def _writer(store_path: str, jobs: list[tuple[str, int]], start_at: float, out: mp.Queue) -> None:
    from laom_core.runs.store import RunStore

    store = RunStore(store_path, reconcile=False)
    while time.time() < start_at:
        time.sleep(0.001)
    t0 = time.perf_counter()
    rows = 0
    for run_id, steps in jobs:
        with store.metric_writer(run_id) as w:
            for step in range(steps):
                w.log("lam", step, {k: step * 0.001 + i for i, k in enumerate(KEYS)})
        rows += w.rows_written
    out.put((os.getpid(), rows, time.perf_counter() - t0))
    store.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--big-rows", type=int, default=100_000, help="points of the one big run")
    p.add_argument("--writers", type=int, default=8)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--keep", default=None, help="write the store into this folder and keep it")
    args = p.parse_args()
    if args.writers < 2 or args.runs < 2 or args.rows <= args.big_rows:
        p.error("need --writers >= 2, --runs >= 2, --rows > --big-rows")

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="laom-store-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    store_path = folder / "runs.sqlite"
    if store_path.exists():
        p.error(f"{store_path} exists; pass an empty --keep folder")
    from laom_core.runs.store import RunStore

    store = RunStore(store_path, reconcile=False)
    ids = [store.create_run(f"bench-{i}", "laom", "cheetah-run", {}, None, group="bench") for i in range(args.runs)]
    per_step = len(KEYS)
    big_steps = args.big_rows // per_step
    rest_steps = (args.rows - big_steps * per_step) // per_step
    others = ids[1:]
    per_run = [rest_steps // len(others) + (1 if i < rest_steps % len(others) else 0) for i in range(len(others))]
    jobs: list[list[tuple[str, int]]] = [[(ids[0], big_steps)]] + [[] for _ in range(args.writers - 1)]
    for i, (run_id, steps) in enumerate(zip(others, per_run)):
        jobs[1 + i % (args.writers - 1)].append((run_id, steps))

    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    start_at = time.time() + 3.0  # let every process start before the clock runs
    procs = [ctx.Process(target=_writer, args=(str(store_path), j, start_at, queue)) for j in jobs]
    for proc in procs:
        proc.start()
    results = [queue.get() for _ in procs]
    wall = time.time() - start_at
    for proc in procs:
        proc.join()
    big_pid = procs[0].pid
    big_write_s = next(t for pid, _, t in results if pid == big_pid)
    total_rows = sum(r for _, r, _ in results)
    stored = store.count_metrics()

    def timed(fn, repeat: int = 5) -> tuple[float, object]:
        times, out = [], None
        for _ in range(repeat):
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times), out

    big_read_s, curves = timed(lambda: store.metrics(ids[0]))
    big_points = sum(len(c["step"]) for c in curves.values())
    group_read_s, group = timed(lambda: store.group_metrics(group="bench"))
    group_points = sum(len(c["step"]) for run in group.values() for c in run.values())
    one_key_s, _ = timed(lambda: store.metrics(ids[0], keys=["loss"]))
    size_mb = store_path.stat().st_size / 2**20
    store.close()

    ratio = big_read_s / big_write_s
    print(f"write: {total_rows:,} rows from {args.writers} processes in {wall:.2f} s = {total_rows / wall:,.0f} rows/s "
          f"(stored {stored:,}; file {size_mb:.1f} MiB)")
    print(f"big run: {big_points:,} points written in {big_write_s:.2f} s, read in {big_read_s * 1000:.1f} ms "
          f"({ratio:.2%} of the write time; target < 5%); one key: {one_key_s * 1000:.1f} ms")
    print(f"group: {len(group)} runs, {group_points:,} points read in {group_read_s * 1000:.1f} ms")
    print(json.dumps({"rows": total_rows, "writers": args.writers, "write_wall_s": round(wall, 3),
                      "rows_per_s": round(total_rows / wall), "stored_rows": stored,
                      "big_run_points": big_points, "big_run_write_s": round(big_write_s, 3),
                      "big_run_read_s": round(big_read_s, 4), "read_over_write": round(ratio, 4),
                      "group_runs": len(group), "group_points": group_points,
                      "group_read_s": round(group_read_s, 4), "one_key_read_s": round(one_key_s, 4),
                      "store_mb": round(size_mb, 1), "target_met": ratio < 0.05}))
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return 0 if stored == total_rows == args.rows - args.rows % per_step else 1


if __name__ == "__main__":
    sys.exit(main())
