"""docs/architecture.md stays true: every module path it names exists (except the rooms it
marks as landing in this round), and its floors are the ones tests/test_layering.py checks."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "architecture.md"
# Rooms other branches are adding this round; the doc marks them "(landing in this round)".
LANDING = {"laom_core/runs/execute.py", "laom_core/runs/backends/"}
PATH = re.compile(r"\b((?:laom_core|pages|bench|tests|docs)/[\w./]*\w/?|app\.py)")


def named_paths(text: str) -> set[str]:
    return set(PATH.findall(text))


def test_the_check_sees_paths() -> None:
    assert named_paths("see `laom_core/metrics.py` and laom_core/runs/ (and app.py).") == \
        {"laom_core/metrics.py", "laom_core/runs/", "app.py"}


def test_every_module_path_in_the_plan_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    paths = named_paths(text)
    assert len(paths) > 40  # the plan names its rooms by path
    missing = sorted(p for p in paths if p not in LANDING and not (REPO / p).exists())
    assert missing == [], f"docs/architecture.md names paths that do not exist: {missing}"


def test_landing_rooms_are_marked_as_such() -> None:
    text = DOC.read_text(encoding="utf-8")
    for path in LANDING:
        if not (REPO / path).exists():
            assert path in text and "(landing in this round)" in text


def test_the_diagram_names_every_floor_of_the_layering_test() -> None:
    from test_layering import FLOORS

    text = DOC.read_text(encoding="utf-8")
    for prefixes in FLOORS:
        for prefix in prefixes:
            short = prefix.removeprefix("laom_core").lstrip(".") or None
            if short is not None:
                assert short.split(".")[0] in text, f"{prefix} is a floor of the layering test but not in the plan"
