"""The backend seam's two types (kept apart from the package so that each backend module
imports them without importing the registry that imports it)."""
from __future__ import annotations

import dataclasses
from typing import Protocol


@dataclasses.dataclass
class JobState:
    """A job as its backend sees it: ``pending``, ``running``, ``done``, ``failed``, ``cancelled``
    or ``gone`` (the backend does not know it, e.g. Slurm forgot a finished job)."""

    state: str
    exit_code: int | None = None
    reason: str = ""

    @property
    def ended(self) -> bool:
        return self.state in ("done", "failed", "cancelled", "gone")


class Backend(Protocol):
    name: str

    def check(self, opts: dict) -> None:
        """Raise ConfigError (one clear sentence) if the cluster cannot be reached with ``opts``."""

    def submit(self, run: dict, argv: list[str], env: dict[str, str], opts: dict) -> str:
        """Submit ``argv`` (the entry wrapper's) as one job; return the backend's job id."""

    def poll(self, run: dict) -> JobState: ...

    def cancel(self, run: dict, grace_s: float) -> None:
        """SIGTERM the job's processes, kill them after ``grace_s``; return once it is gone."""

    def log(self, run: dict, lines: int = 50) -> str:
        """The backend's own log of the job (the run's log.txt is the main one)."""
