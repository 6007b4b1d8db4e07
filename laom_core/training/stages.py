"""Which stages a run executes (no torch import: the config checks use it); the pipelines are the
method registry's (:mod:`laom_core.methods`)."""
from __future__ import annotations

from laom_core.methods import PIPELINES, USES_LABELED  # noqa: F401 - the registry's views


def planned_stages(method: str, stop_after: str | None = None) -> list[str]:
    """The stages a run executes: the method's pipeline, cut after ``stop_after``."""
    stages = PIPELINES[method]
    if stop_after is None:
        return list(stages)
    return list(stages[: stages.index(stop_after) + 1])
