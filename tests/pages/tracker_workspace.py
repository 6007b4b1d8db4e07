"""A small workspace for the tracker-feature tests (Runs page): a sweep of three finished
runs written through the run store's own API (create_run, set_status, MetricWriter, so the
metric rows carry their real write times), each with a run folder holding what training
leaves there: a log with tqdm redraws, summary.json, a checkpoint-named file (bytes: the
browser lists and serves files, it never loads them), latents and a rollout video (written
by the real video writer). Seconds to build, no training, no torch import."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

LOG_LINES = 150  # more than the page's 60-line tail


def build(root: Path, *, runs: int = 3, group: str = "lr-sweep") -> list[str]:
    """Fill ``root`` (the workspace) and return the run ids, oldest first."""
    from laom_core.runs.store import RunStore
    from laom_core.viz.video import write_video

    root.mkdir(parents=True, exist_ok=True)
    ids = []
    with RunStore(root / "runs.sqlite") as store:
        for i in range(runs):
            lr = [1e-4, 3e-4, 1e-3][i % 3]
            config = {"seed": 0, "name": f"laom lr{lr:g}", "lapo": {"learning_rate": lr, "batch_size": 8,
                                                                    "latent_action_dim": 64}}
            folder = root / "runs" / f"run{i}"
            rid = store.create_run(f"laom lr{lr:g}", "laom", "cheetah-run", config, folder, group=group,
                                   labeled_budget=8, seed=0, status="queued", preset="smoke")
            store.set_status(rid, "running")
            with store.metric_writer(rid, flush_rows=4) as w:
                for step in range(0, 50, 5):
                    w.log("lam", step, {"loss": (1.0 + i) / (step + 1), "lr": lr})
                    w.log("system", step, {"cpu_percent": 50.0 + i, "rss_mb": 300.0})
                    time.sleep(0.01)
            store.set_status(rid, "finished", exit_code=0)
            folder.mkdir(parents=True, exist_ok=True)
            lines = [f"line {n:03d} of run {i}" for n in range(LOG_LINES)]
            (folder / "log.txt").write_text("FIRST LINE of the log\n" + "\n".join(lines)
                                            + "\nlam:  50%|#####     | 5/10\rlam: 100%|##########| 10/10\n")
            (folder / "summary.json").write_text(json.dumps(
                {"probe_mse": 0.5 - 0.1 * i, "eval_return_mean": 100.0 + 50 * i, "normalized_return": 0.1 * i}))
            (folder / "config.json").write_text(json.dumps(config))
            (folder / "checkpoints").mkdir(exist_ok=True)
            (folder / "checkpoints" / "lam.pt").write_bytes(bytes(range(256)) * 8)
            (folder / "artifacts").mkdir(exist_ok=True)
            np.savez(folder / "artifacts" / "latents.npz", z=np.zeros((8, 4), np.float32))
            frames = (np.random.default_rng(i).random((8, 32, 32, 3)) * 255).astype(np.uint8)
            write_video(frames, folder / "artifacts" / "rollout_0.webm", fps=8)
            ids.append(rid)
    return ids
