"""Results across seeds: mean and std per method and labeled budget, normalized returns.

Inputs are plain run dicts (as ``RunStore.list_runs`` returns them) with a result value
attached, so pages, reports and ``bench/reproduce.py`` share one aggregation.
"""
from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

REFERENCE_PATH = Path(__file__).resolve().parents[2] / "assets" / "paper_reference.json"


def paper_reference() -> dict[str, Any]:
    """The paper's reported numbers (``assets/paper_reference.json``)."""
    with open(REFERENCE_PATH, encoding="utf-8") as fh:
        return json.load(fh)


def _finite(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def aggregate(
    rows: Iterable[dict],
    value_key: str,
    by: Sequence[str] = ("method", "labeled_budget"),
) -> list[dict]:
    """Group ``rows`` by the ``by`` keys; mean, std (population) and n of ``value_key``.

    Rows whose value is missing or not finite are left out (a run that has not reached
    evaluation yet). Output rows carry the group keys, ``mean``, ``std``, ``n``, ``values``
    and ``run_ids``; sorted by the group keys with None first.
    """
    groups: dict[tuple, list[tuple[float, Any]]] = defaultdict(list)
    for row in rows:
        value = _finite(row.get(value_key))
        if value is None:
            continue
        groups[tuple(row.get(k) for k in by)].append((value, row.get("id")))
    out = []
    for key, items in groups.items():
        values = np.array([v for v, _ in items], dtype=np.float64)
        entry = dict(zip(by, key))
        entry.update(mean=float(values.mean()), std=float(values.std()), n=int(values.size),
                     values=values.tolist(), run_ids=[rid for _, rid in items])
        out.append(entry)
    out.sort(key=lambda e: tuple((e[k] is not None, e[k] if e[k] is not None else 0) if not isinstance(e[k], str)
                                 else (True, e[k]) for k in by))
    return out


def average_over(entries: Sequence[dict], over: str, by: Sequence[str]) -> list[dict]:
    """Average aggregated ``entries`` over the key ``over`` (e.g. tasks): mean of means.

    The std is the mean of the per-group stds (a summary, like the paper's task averages);
    ``n`` counts the groups averaged.
    """
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for e in entries:
        groups[tuple(e.get(k) for k in by)].append(e)
    out = []
    for key, items in groups.items():
        entry = dict(zip(by, key))
        entry.update(mean=float(np.mean([i["mean"] for i in items])),
                     std=float(np.mean([i["std"] for i in items])), n=len(items),
                     **{f"{over}s": sorted({str(i.get(over)) for i in items})})
        out.append(entry)
    return out


def bc_divisors(rows: Iterable[dict], return_key: str = "eval_return_mean") -> dict[str, float]:
    """Mean return of our own finished BC runs on the full labeled data, per task.

    A BC run counts when it has no labeled budget (it trained on every action label).
    """
    per_task: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        if row.get("method") != "bc" or row.get("labeled_budget") not in (None, 0):
            continue
        value = _finite(row.get(return_key))
        if value is not None and value > 0:
            per_task[str(row.get("task"))].append(value)
    return {task: float(np.mean(v)) for task, v in per_task.items()}


def normalized_returns(
    rows: Sequence[dict],
    *,
    return_key: str = "eval_return_mean",
    divisors: dict[str, float] | None = None,
) -> list[dict]:
    """Copy of ``rows`` with ``normalized_return`` = return / divisor of the row's task.

    ``divisors`` defaults to our own full-data BC runs (:func:`bc_divisors`); rows whose
    task has no divisor get None.
    """
    if divisors is None:
        divisors = bc_divisors(rows, return_key)
    out = []
    for row in rows:
        new = dict(row)
        value = _finite(row.get(return_key))
        divisor = divisors.get(str(row.get("task")))
        new["normalized_return"] = value / divisor if value is not None and divisor else None
        out.append(new)
    return out


# A BC return this small is not a reference: dividing by it turns noise into "x times BC".
MIN_REFERENCE_FRACTION = 0.10  # of the paper's full-data BC return for the task and setting
MIN_REFERENCE_RETURN = 10.0  # floor for any task (and the rule for tasks the paper did not report)


def reference_floor(task: str, distractors: bool = True) -> tuple[float, str]:
    """The smallest BC return that may normalize returns of ``task``, and why that much."""
    table = paper_reference().get("bc_full_data_return", {})
    paper = table.get("distractors" if distractors else "no_distractors", {}).get(str(task))
    if paper:
        floor = max(MIN_REFERENCE_RETURN, MIN_REFERENCE_FRACTION * float(paper))
        setting = "with" if distractors else "without"
        return floor, (f"{MIN_REFERENCE_FRACTION:.0%} of the paper's BC return {float(paper):g} on {task} "
                       f"{setting} distractors")
    return MIN_REFERENCE_RETURN, f"the floor of {MIN_REFERENCE_RETURN:g} for a task the paper did not report"


def reference_problem(task: str, reference: float | None, distractors: bool = True) -> str | None:
    """Why ``reference`` cannot normalize returns of ``task`` (None when it can, or is unknown)."""
    value = _finite(reference)
    if value is None:
        return None
    floor, why = reference_floor(task, distractors)
    if value >= floor:
        return None
    return (f"{task}: the BC reference return {value:.3g} is below {floor:.3g} ({why}); a ratio to it is "
            "noise, so normalized returns are not shown (raw returns are)")


def checked_normalized_returns(
    rows: Sequence[dict],
    *,
    distractors: bool = True,
    divisors: dict[str, float] | None = None,
    return_key: str = "eval_return_mean",
) -> tuple[list[dict], dict[str, str]]:
    """Normalized returns whose divisor is a real BC return; ``(rows, problems per task)``.

    The divisor of a row is our own BC runs' mean for its task (``divisors``, default
    :func:`bc_divisors`), else the reference the run recorded (``reference_return``, or
    the ratio of its return to its stored ``normalized_return``). A divisor below
    :func:`reference_floor` (near zero: a BC run that learned nothing) gives
    ``normalized_return`` None and ``normalization_problem`` on the row, and the task's
    message in the returned problems.
    """
    if divisors is None:
        divisors = bc_divisors(rows, return_key)
    out: list[dict] = []
    problems: dict[str, str] = {}
    for row in rows:
        new = dict(row)
        task = str(row.get("task"))
        value = _finite(row.get(return_key))
        stored = _finite(row.get("normalized_return"))
        reference = divisors.get(task)
        if reference is None:
            reference = _finite(row.get("reference_return"))
        if reference is None and value is not None and stored:
            reference = value / stored  # an older summary: the divisor it used
        problem = reference_problem(task, reference, distractors)
        if problem:
            new["normalized_return"] = None
            new["normalization_problem"] = problem
            problems.setdefault(task, problem)
        elif reference is not None and value is not None and reference != 0:
            new["normalized_return"] = value / reference
        else:
            new["normalized_return"] = stored
        out.append(new)
    return out, problems


def labeled_file_steps(path: str | Path) -> dict[str, int] | None:
    """``{"chunks", "steps", "chunk_steps"}`` of a labeled HDF5 file (None when unreadable).

    A labeled budget is a number of chunks of C consecutive steps; ``steps`` is what the
    run was given (chunks x C when the chunks are equal), ``chunk_steps`` the longest chunk.
    """
    try:
        from laom_core.data.hdf5 import open_dataset

        with open_dataset(path) as ds:
            lengths = [int(n) for n in ds.lengths]
    except Exception:  # noqa: BLE001 - a missing or foreign file: the caller says so
        return None
    if not lengths:
        return None
    return {"chunks": len(lengths), "steps": int(sum(lengths)), "chunk_steps": int(max(lengths))}
