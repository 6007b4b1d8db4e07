"""Fixtures for the dashboard tests: a workspace populated by the real code paths.

``populated_workspace`` (built once per test session) collects tiny distracted
cheetah-run datasets with the real collector, samples a labeled subset, and trains two
real runs with the smoke preset (shrunk further with ``--set``): LAOM+supervision, which
writes every artifact the pages read (metrics, latents, probe, rollout videos), and BC,
the normalization reference. Nothing is written by hand, so a change in what training
writes shows up here as a page failure.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "app.py")
PAGES = ["pages/home.py", "pages/datasets.py", "pages/train.py", "pages/runs.py", "pages/latent_space.py",
         "pages/budgets.py", "pages/rollouts.py"]
# Smallest honest run: every stage runs, logs and writes its artifacts.
TINY = ["--set", "lapo.total_updates=3", "--set", "bc.total_updates=3", "--set", "decoder.total_updates=3",
        "--set", "run.eval_max_steps=6", "--set", "run.log_every=1", "--set", "lapo.batch_size=8",
        "--set", "bc.batch_size=8", "--set", "decoder.batch_size=8", "--set", "run.probe_samples=64",
        "--set", "run.latents_samples=48"]


def _env(root: Path) -> dict:
    env = dict(os.environ)
    env["LAOM_STUDIO_WORKSPACE"] = str(root)
    env["LAOM_TORCH_THREADS"] = "1"
    env["PYTHONPATH"] = str(REPO)
    return env


def build_datasets(root: Path) -> dict[str, Path]:
    """Train/eval/labeled files made by the real collector and subset sampler (in a child process)."""
    code = (
        "import sys\n"
        "from laom_core.collect import collect_dataset\n"
        "from laom_core.data.subsets import make_labeled_subset\n"
        "from laom_core.workspace import datasets_dir\n"
        "d = datasets_dir()\n"
        "collect_dataset('cheetah-run', 'easy', 'train', 'random', episodes=5, steps=40, img_size=64, seed=0,\n"
        "                out=d / 'train.hdf5', fast_render=True, num_videos=2)\n"
        "collect_dataset('cheetah-run', 'easy', 'eval', 'random', episodes=1, steps=12, img_size=64, seed=1,\n"
        "                out=d / 'eval.hdf5', fast_render=True, num_videos=2)\n"
        "make_labeled_subset(d / 'train.hdf5', 2, 20, 0, d / 'labeled.hdf5')\n"
    )
    subprocess.run([sys.executable, "-c", code], env=_env(root), check=True, cwd=REPO, timeout=600,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    d = root / "datasets"
    return {"data": d / "train.hdf5", "eval": d / "eval.hdf5", "labeled": d / "labeled.hdf5"}


def train(root: Path, method: str, files: dict[str, Path], name: str, extra: list[str] | None = None) -> None:
    argv = [sys.executable, "-m", "laom_core", "train", "--method", method, "--preset", "smoke",
            "--data", str(files["data"]), "--eval-data", str(files["eval"]), "--name", name, "--no-progress",
            *TINY, *(extra or [])]
    if method in ("laom-labels", "idm", "laom", "lapo"):
        argv += ["--labeled-data", str(files["labeled"])]
    result = subprocess.run(argv, env=_env(root), cwd=REPO, timeout=900, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"training {method} failed:\n{result.stderr[-3000:]}")


@pytest.fixture(scope="session")
def populated_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("populated") / "workspace"
    root.mkdir()
    files = build_datasets(root)
    train(root, "laom-labels", files, "LAOM+sup s0")
    train(root, "bc", files, "BC s0")
    return root


@pytest.fixture
def populated(populated_root, monkeypatch) -> Path:
    """Point this test at the shared populated workspace; stop background jobs it started."""
    monkeypatch.setenv("LAOM_STUDIO_WORKSPACE", str(populated_root))
    yield populated_root
    from laom_core import jobs

    for job in jobs.list_jobs():
        if job.state == "running":
            jobs.stop_job(job.id, grace_s=2.0)
