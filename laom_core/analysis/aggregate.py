"""Results across seeds: mean and std per method and labeled budget, normalized returns.

Inputs are plain run dicts (as ``RunStore.list_runs`` returns them) with a result value
attached, so pages, reports and ``bench/reproduce.py`` share one aggregation.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from laom_core.metrics import (  # noqa: F401 - the one normalized-return rule, re-exported
    finite, normalize_rows, paper_reference, reference_floor, reference_problem)



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
        value = finite(row.get(value_key))
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


def normalized_returns(
    rows: Sequence[dict],
    *,
    distractors: bool | None = None,
    return_key: str = "eval_return_mean",
) -> list[dict]:
    """Copy of ``rows`` with ``normalized_return`` by the one rule (:mod:`laom_core.metrics`):
    our own full-data BC runs among ``rows`` per task and setting, else the paper's BC, and
    nothing for a divisor that is noise."""
    return normalize_rows(rows, distractors=distractors, return_key=return_key)[0]


def checked_normalized_returns(
    rows: Sequence[dict],
    *,
    distractors: bool = True,
    return_key: str = "eval_return_mean",
) -> tuple[list[dict], dict[str, str]]:
    """:func:`normalized_returns` in one setting, with the refused divisors' reasons per task:
    ``(rows, problems per task)``; a refused row has ``normalization_problem``."""
    out, normalizers = normalize_rows(rows, distractors=distractors, return_key=return_key)
    problems = {task: n.problem for (task, _), n in sorted(normalizers.items()) if n.problem}
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
