"""Shared fixtures: every test runs in its own temporary workspace."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")
REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_EXPERTS = REPO_ROOT.parent / "shared" / "experts"


@pytest.fixture(autouse=True)
def workspace(tmp_path, monkeypatch) -> Path:
    """A fresh LAOM_STUDIO_WORKSPACE per test."""
    root = tmp_path / "workspace"
    monkeypatch.setenv("LAOM_STUDIO_WORKSPACE", str(root))
    return root


@pytest.fixture(autouse=True, scope="session")
def _single_thread_torch():
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    yield
