"""First-render time of every dashboard page on a big store: 200 runs, 1M metric rows.

    python bench/page_speed.py [--runs 200] [--rows 1000000] [--artifacts RUN_DIR] [--keep]

Builds a temporary workspace (or uses --workspace) whose store holds ``--runs`` finished
and running runs of five methods, with ``--rows`` metric rows written through the store's
own MetricWriter (losses, probe MSE, samples/s, lr and system figures). With
``--artifacts`` a real run folder (e.g. a smoke run) lends its artifacts (latents,
probe, rollouts, summary) to the ten newest runs, so the latent-space and rollout pages
draw real content. Each page is then rendered through streamlit's AppTest with empty
caches (a first visit) and timed; the target is 2 s per page.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PAGES = ["pages/home.py", "pages/datasets.py", "pages/train.py", "pages/runs.py", "pages/latent_space.py",
         "pages/budgets.py", "pages/rollouts.py"]
from laom_core.methods import METHODS  # noqa: E402 - after the sys.path line above
from laom_core.rundir import ARTIFACTS, write_summary  # noqa: E402
from _page_render import first_render  # noqa: E402 - bench/, this script's folder
from _scratch_workspace import scratch_workspace  # noqa: E402

KEYS = {"lam": ["loss", "probe_mse", "samples_per_s", "lr"], "system": ["cpu_percent", "rss_mb"]}


def build_store(root: Path, n_runs: int, n_rows: int, artifacts: Path | None) -> float:
    from laom_core.runs.store import RunStore
    from laom_core.workspace import runs_dir

    t0 = time.perf_counter()
    store = RunStore()
    per_run = n_rows // n_runs
    series = sum(len(v) for v in KEYS.values())
    steps = max(1, per_run // series)
    rng = np.random.default_rng(0)
    budgets = [2, 8, 32, 128]
    newest = []
    for i in range(n_runs):
        method = METHODS[i % len(METHODS)]
        seed = (i // len(METHODS)) % 3
        budget = budgets[(i // 15) % 4] if method in ("idm", "laom-labels") else None
        folder = runs_dir() / f"bench-{i:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        status = "running" if i >= n_runs - 3 else "finished"
        rid = store.create_run(f"{method} b{budget} s{seed} #{i}", method, "cheetah-run",
                               {"lapo": {"batch_size": 64, "latent_action_dim": 256 + 32 * (i % 3)}}, folder,
                               group=f"sweep-{i // 50}", labeled_budget=budget, seed=seed, status="queued")
        store.set_status(rid, status)
        with store.metric_writer(rid, flush_rows=100_000) as writer:
            base = 1.0 + 0.2 * METHODS.index(method)
            for step in range(steps):
                noise = rng.normal(0, 0.02)
                writer.log("lam", step, {"loss": base * np.exp(-step / steps * 3) + noise,
                                         "probe_mse": base * 0.5 * np.exp(-step / steps) + noise,
                                         "samples_per_s": 300 + noise * 100, "lr": 1e-4 * (1 - step / steps)})
                writer.log("system", step, {"cpu_percent": 90 + noise * 100, "rss_mb": 800 + step * 0.01})
        if status == "finished":
            newest.append(folder)
            summary = {"method": method, "task": "cheetah-run", "difficulty": "scale_easy_video_hard",
                       "eval_difficulty": "scale_easy_video_hard",
                       "probe_mse": float(base * 0.3 + rng.normal(0, 0.05)),
                       "eval_return_mean": float(200 * base + rng.normal(0, 10)),
                       "normalized_return": float(0.2 * base + rng.normal(0, 0.02))}
            write_summary(folder, summary)
    if artifacts is not None:
        for folder in newest[-10:]:
            src = artifacts / ARTIFACTS
            if src.is_dir():
                shutil.copytree(src, folder / ARTIFACTS, dirs_exist_ok=True)
    store.close()
    return time.perf_counter() - t0


def time_pages() -> dict[str, float]:
    out = {}
    for page in PAGES:
        out[page], at = first_render(page, timeout=120)
        if at.exception:
            print(f"  {page}: EXCEPTION {at.exception[0].value}", file=sys.stderr)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--artifacts", type=Path, default=None, help="a real run folder lending its artifacts")
    parser.add_argument("--workspace", type=Path, default=None, help="reuse this workspace (built if empty)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    args = parser.parse_args()

    with scratch_workspace(args.workspace, args.keep, prefix="laom-page-speed-") as root:
        if not (root / "runs.sqlite").exists():
            built = build_store(root, args.runs, args.rows, args.artifacts)
            print(f"built store: {args.runs} runs, {args.rows} metric rows in {built:.1f} s ({root})")
        from laom_core.runs.store import RunStore

        with RunStore() as store:
            n_runs, n_rows = len(store.list_runs()), store.count_metrics()
        print(f"store holds {n_runs} runs and {n_rows} metric points")
        times = time_pages()
        print(f"{'page':28s} {'first render':>12s} {'/ 2 s target':>13s}")
        for page, seconds in times.items():
            print(f"{page:28s} {seconds:11.2f}s {seconds / 2.0:12.2f}x")
        print(f"{'slowest':28s} {max(times.values()):11.2f}s {max(times.values()) / 2.0:12.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
