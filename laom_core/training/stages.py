"""Which stages each method runs, in order (no torch import: the config checks use it)."""
from __future__ import annotations

PIPELINES: dict[str, list[str]] = {
    "lapo": ["lam", "bc", "decoder", "eval"],
    "laom": ["lam", "bc", "decoder", "eval"],
    "laom-labels": ["lam", "bc", "decoder", "eval"],
    "bc": ["bc", "eval"],
    "idm": ["idm", "bc", "eval"],
}
# Methods that read the small labeled dataset (stage 3 decoder, or the IDM itself).
USES_LABELED = {"lapo", "laom", "laom-labels", "idm"}


def planned_stages(method: str, stop_after: str | None = None) -> list[str]:
    """The stages a run executes: the method's pipeline, cut after ``stop_after``."""
    stages = PIPELINES[method]
    if stop_after is None:
        return list(stages)
    return list(stages[: stages.index(stop_after) + 1])
