"""A training run's folder: its layout and its readers, in one place.

Nothing else in ``laom_core``, ``pages`` or ``bench`` spells these file names
(``tests/test_rundir.py`` checks). A run folder holds::

    <run dir>/
      config.yaml            the resolved TrainConfig (written at start)
      origin.json            method and data the folder was made with (a resume must match)
      log.txt                stdout+stderr of every attempt (appended by the launcher)
      stages.json            {"method", "planned", "finished": {stage: record}}
      summary.json           the run's final figures (written when it finishes)
      metrics.jsonl          metric fallback when there is no run store
      checkpoints/<stage>/   last.pt (resumable state), final.pt (weights of a finished stage)
      artifacts/             probe.json, latents.npz, leakage.json, reprobe-<key>.json,
                             rollouts/ (episodes.json and episode videos)

Readers of optional files return ``None`` when the file is missing or unreadable (a
run still running has none yet); readers of files a caller cannot do without raise
:class:`~laom_core.errors.LaomError` naming the file. Writers are atomic.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from laom_core.errors import LaomError
from laom_core.workspace import atomic_write_json, atomic_write_text

CONFIG = "config.yaml"
ORIGIN = "origin.json"
LOG = "log.txt"  # also the log of every other process folder (jobs, the demo)
STAGES = "stages.json"
SUMMARY = "summary.json"
METRICS = "metrics.jsonl"
CHECKPOINTS = "checkpoints"
LAST = "last.pt"
FINAL = "final.pt"
ARTIFACTS = "artifacts"
PROBE = "probe.json"
LATENTS = "latents.npz"
LEAKAGE = "leakage.json"
ROLLOUTS = "rollouts"
EPISODES = "episodes.json"
PROGRESS = "progress.json"  # the running stage's progress (training/common.Stage writes it)
REQUEST = "request.json"    # the checked train request the launcher queued (runs/request.py)
TENSORBOARD = "tb"          # TensorBoard event files (training/sinks.py)
EXIT = "exit.json"          # how a run on a cluster ended (runs/backends/entry.py)

#: Every file name above, for the check that nobody else spells them.
FILE_NAMES = (CONFIG, ORIGIN, LOG, STAGES, SUMMARY, METRICS, LAST, FINAL, PROBE, LATENTS, LEAKAGE, EPISODES,
              PROGRESS, REQUEST, EXIT)
DIR_NAMES = (CHECKPOINTS, ARTIFACTS, ROLLOUTS, TENSORBOARD)


@dataclass(frozen=True)
class RunDir:
    """Paths inside one run folder (nothing is created or read)."""

    root: Path

    def __init__(self, root: str | os.PathLike) -> None:
        object.__setattr__(self, "root", Path(root))

    @property
    def config(self) -> Path:
        return self.root / CONFIG

    @property
    def origin(self) -> Path:
        return self.root / ORIGIN

    @property
    def log(self) -> Path:
        return self.root / LOG

    @property
    def progress(self) -> Path:
        return self.root / PROGRESS

    @property
    def request(self) -> Path:
        return self.root / REQUEST

    @property
    def tensorboard(self) -> Path:
        return self.root / TENSORBOARD

    @property
    def exit(self) -> Path:
        return self.root / EXIT

    @property
    def stages(self) -> Path:
        return self.root / STAGES

    @property
    def summary(self) -> Path:
        return self.root / SUMMARY

    @property
    def metrics(self) -> Path:
        return self.root / METRICS

    @property
    def checkpoints(self) -> Path:
        return self.root / CHECKPOINTS

    def stage_dir(self, stage: str) -> Path:
        return self.checkpoints / stage

    def last_checkpoint(self, stage: str) -> Path:
        return self.stage_dir(stage) / LAST

    def final_checkpoint(self, stage: str) -> Path:
        return self.stage_dir(stage) / FINAL

    @property
    def artifacts(self) -> Path:
        return self.root / ARTIFACTS

    @property
    def probe(self) -> Path:
        return self.artifacts / PROBE

    @property
    def latents(self) -> Path:
        return self.artifacts / LATENTS

    @property
    def leakage(self) -> Path:
        return self.artifacts / LEAKAGE

    @property
    def rollouts(self) -> Path:
        return self.artifacts / ROLLOUTS

    @property
    def episodes(self) -> Path:
        return self.rollouts / EPISODES

    def reprobe(self, key: str) -> Path:
        return self.artifacts / f"reprobe-{key}.json"

    def holds_run(self) -> bool:
        """Whether a run has already started in this folder (checkpoints or stages.json)."""
        return self.checkpoints.exists() or self.stages.exists()


def of_run(run: Mapping[str, Any] | None) -> RunDir | None:
    """The folder of a run-store row (None while it has none)."""
    folder = (run or {}).get("run_dir")
    return RunDir(folder) if folder else None


# ----------------------------------------------------------------------------- readers
def read_json(path: str | os.PathLike) -> Any | None:
    """JSON of ``path``; None when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _read_dict(path: Path) -> dict | None:
    data = read_json(path)
    return data if isinstance(data, dict) else None


def load_summary(root: str | os.PathLike) -> dict | None:
    """The run's summary.json (None before it has finished, or when unreadable)."""
    return _read_dict(RunDir(root).summary)


def load_stages(root: str | os.PathLike) -> dict | None:
    """The run's stages.json (None before its first stage, or when unreadable)."""
    return _read_dict(RunDir(root).stages)


def load_probe(root: str | os.PathLike) -> dict | None:
    """The run's artifacts/probe.json (None when it has none, or when unreadable)."""
    return _read_dict(RunDir(root).probe)


def load_leakage(root: str | os.PathLike) -> dict | None:
    """The run's artifacts/leakage.json (None when it has none, or when unreadable)."""
    return _read_dict(RunDir(root).leakage)


def load_episodes(path: str | os.PathLike) -> list[dict]:
    """The evaluation episodes of an episodes.json; LaomError when missing or broken."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LaomError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, list):
        raise LaomError(f"{path} is not a list of episodes")
    return data


def load_method(root: str | os.PathLike) -> str:
    """The method a run folder trains (from stages.json); LaomError when it is not a run folder."""
    stages = load_stages(root)
    if stages is None or "method" not in stages:
        raise LaomError(f"{root} has no readable {STAGES}: not a training run folder")
    return str(stages["method"])


def load_config_dict(root: str | os.PathLike) -> dict:
    """The run's config.yaml as a dict; LaomError when missing or broken."""
    import yaml  # deferred: only re-probing reads a config back

    path = RunDir(root).config
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LaomError(f"{root} has no readable {CONFIG} ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise LaomError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise LaomError(f"{path} does not hold a config")
    return data


# ----------------------------------------------------------------------------- writers
def write_config(root: str | os.PathLike, yaml_text: str) -> None:
    atomic_write_text(RunDir(root).config, yaml_text)


def write_origin(root: str | os.PathLike, origin: dict) -> None:
    atomic_write_json(RunDir(root).origin, origin)


def write_stages(root: str | os.PathLike, method: str, planned: list[str], finished: dict[str, Any]) -> None:
    atomic_write_json(RunDir(root).stages, {"method": method, "planned": planned, "finished": finished})


def write_summary(root: str | os.PathLike, summary: dict) -> None:
    atomic_write_json(RunDir(root).summary, summary)


def merge_probe(root: str | os.PathLike, extra: dict) -> None:
    """Merge ``extra`` into artifacts/probe.json (atomically; an unreadable file starts over)."""
    path = RunDir(root).probe
    data = _read_dict(path) or {}
    data.update(extra)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, data)
