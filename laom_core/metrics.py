"""Normalized return: the one rule, used by the run's summary, the pages, the demo and the reports.

A ground-floor room (no laom_core imports): training writes the figure into ``summary.json``
and every reader above recomputes it with the same function, so the same run shows the same
number everywhere (given the same BC runs).

**The divisor rule.** A return of task T in setting S (with or without distractors) is
divided by

1. the mean evaluation return of *our own* finished full-data BC runs on T in S (BC with no
   labeled budget: it trained on every action label; non-positive returns are left out);
2. when there is none, the paper's full-data BC return for T in S
   (``assets/paper_reference.json``, ``bc_full_data_return``);
3. and a divisor below ``max(10% of the paper's BC return for T in S, 10)`` (10 alone for a
   task the paper did not report) normalizes nothing: a BC run that learned nothing turns
   noise into "x times BC". The normalized return is then None, with the reason
   (``Normalizer.problem``), and pages show raw returns.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

REFERENCE_PATH = Path(__file__).resolve().parents[1] / "assets" / "paper_reference.json"

# A BC return this small is not a reference: dividing by it turns noise into "x times BC".
MIN_REFERENCE_FRACTION = 0.10  # of the paper's full-data BC return for the task and setting
MIN_REFERENCE_RETURN = 10.0  # floor for any task (and the rule for tasks the paper did not report)


def paper_reference() -> dict[str, Any]:
    """The paper's reported numbers (``assets/paper_reference.json``)."""
    with open(REFERENCE_PATH, encoding="utf-8") as fh:
        return json.load(fh)


def finite(value: Any) -> float | None:
    """``value`` as a float, or None when it is missing, not a number or not finite."""
    if isinstance(value, bool):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def setting_name(distractors: bool) -> str:
    return "distractors" if distractors else "no_distractors"


def has_distractors(difficulty: str | None) -> bool:
    """The setting of an environment difficulty: every difficulty but ``vanilla`` has distractors."""
    return difficulty not in (None, "vanilla")


def paper_bc_return(task: str, distractors: bool) -> float | None:
    """The paper's full-data BC return for ``task`` in the setting (None if it did not report it)."""
    try:
        table = paper_reference()["bc_full_data_return"]
    except (OSError, ValueError, KeyError):
        return None
    value = finite(table.get(setting_name(distractors), {}).get(str(task)))
    return value if value else None


def reference_floor(task: str, distractors: bool = True) -> tuple[float, str]:
    """The smallest BC return that may normalize returns of ``task``, and why that much."""
    paper = paper_bc_return(task, distractors)
    if paper:
        floor = max(MIN_REFERENCE_RETURN, MIN_REFERENCE_FRACTION * paper)
        setting = "with" if distractors else "without"
        return floor, (f"{MIN_REFERENCE_FRACTION:.0%} of the paper's BC return {paper:g} on {task} "
                       f"{setting} distractors")
    return MIN_REFERENCE_RETURN, f"the floor of {MIN_REFERENCE_RETURN:g} for a task the paper did not report"


def reference_problem(task: str, reference: float | None, distractors: bool = True) -> str | None:
    """Why ``reference`` cannot normalize returns of ``task`` (None when it can, or is unknown)."""
    value = finite(reference)
    if value is None:
        return None
    floor, why = reference_floor(task, distractors)
    if value >= floor:
        return None
    return (f"{task}: the BC reference return {value:.3g} is below {floor:.3g} ({why}); a ratio to it is "
            "noise, so normalized returns are not shown (raw returns are)")


@dataclass(frozen=True)
class Normalizer:
    """The divisor of one task and setting: ``divisor`` is None when there is none or it was refused."""
    task: str
    distractors: bool
    divisor: float | None
    source: str | None
    problem: str | None = None

    def __call__(self, value: Any) -> float | None:
        v = finite(value)
        return v / self.divisor if (v is not None and self.divisor) else None

    def as_dict(self) -> dict[str, Any]:
        return {"divisor": self.divisor, "source": self.source, "problem": self.problem}


def return_normalizer(task: str, distractors: bool, bc_returns: Iterable[Any] = ()) -> Normalizer:
    """THE rule (module docstring): ``bc_returns`` are our own full-data BC runs' returns on
    ``task`` in the setting; their mean, else the paper's BC return, refused below the floor."""
    own = [v for v in (finite(x) for x in bc_returns) if v is not None and v > 0]
    if own:
        reference: float | None = sum(own) / len(own)
        source = f"our BC, mean of {len(own)} run(s)"
    else:
        reference = paper_bc_return(task, distractors)
        source = f"paper BC ({setting_name(distractors)})" if reference else None
    problem = reference_problem(task, reference, distractors)
    if problem:
        return Normalizer(str(task), bool(distractors), None, source, problem)
    return Normalizer(str(task), bool(distractors), reference, source)


def is_reference_bc(row: dict) -> bool:
    """A run that may serve as the reference: BC trained on every label (no labeled budget)."""
    return row.get("method") == "bc" and not (row.get("labeled_budget") or row.get("budget"))


def normalize_rows(
    rows: Sequence[dict],
    *,
    distractors: bool | None = None,
    return_key: str = "eval_return_mean",
    counts_as_reference: Callable[[dict], bool] = is_reference_bc,
) -> tuple[list[dict], dict[tuple[str, bool], Normalizer]]:
    """Copies of ``rows`` with ``normalized_return`` by the one rule, and the normalizer per
    (task, setting). A row's setting is ``distractors`` when given, else its ``distractors`` key
    (else derived from its ``difficulty``). The reference BC runs are the rows that
    ``counts_as_reference``; a refused divisor sets ``normalization_problem`` on the row."""
    def setting(row: dict) -> bool:
        if distractors is not None:
            return bool(distractors)
        if "distractors" in row:
            return bool(row["distractors"])
        return has_distractors(row.get("difficulty"))

    own: dict[tuple[str, bool], list[Any]] = {}
    for row in rows:
        key = (str(row.get("task")), setting(row))
        own.setdefault(key, [])
        if counts_as_reference(row):
            own[key].append(row.get(return_key))
    normalizers = {key: return_normalizer(key[0], key[1], values) for key, values in own.items()}
    out = []
    for row in rows:
        new = dict(row)
        norm = normalizers[(str(row.get("task")), setting(row))]
        new["normalized_return"] = norm(row.get(return_key))
        if norm.problem:
            new["normalization_problem"] = norm.problem
        out.append(new)
    return out, normalizers
