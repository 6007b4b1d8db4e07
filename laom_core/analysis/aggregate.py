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
