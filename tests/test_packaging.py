"""pyproject.toml: `pip install -e .` gives a `laom-studio` command that works from any folder."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from laom_core.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A venv over this interpreter's packages with the repository installed editable (offline)."""
    pytest.importorskip("setuptools", minversion="64")
    venv = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    result = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                             "-e", str(REPO)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return venv / "bin" / "laom-studio"


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LAOM_STUDIO_WORKSPACE")}
    env.update(extra)
    return env


def test_laom_studio_command_works_from_any_folder(installed, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run([str(installed), "--help"], cwd=elsewhere, capture_output=True, text=True,
                            env=_env(), timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: laom-studio") and " ui " in result.stdout
    result = subprocess.run([str(installed), "ui", "--print-command"], cwd=elsewhere, capture_output=True,
                            text=True, env=_env(), timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"streamlit run {REPO / 'app.py'} --server.address localhost" in result.stdout


def test_ui_execs_streamlit_on_localhost_from_the_repository(monkeypatch, tmp_path):
    calls = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(os, "execve", lambda path, argv, env: calls.append((path, argv, env, os.getcwd())))
    assert main(["ui", "--port", "8600"]) == 0
    path, argv, env, cwd = calls[0]
    assert argv[1:5] == ["-m", "streamlit", "run", str(REPO / "app.py")]
    assert argv[argv.index("--server.address") + 1] == "localhost" and argv[argv.index("--server.port") + 1] == "8600"
    assert cwd == str(REPO) and str(REPO) in env["PYTHONPATH"].split(os.pathsep)
    assert main(["ui", "--port", "0"]) == 2
