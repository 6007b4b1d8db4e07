"""A sweep's runs by hyperparameter: the config keys that vary, final metrics, grouping,
and a parallel-coordinates figure (W&B's sweep view). Pure python + plotly.

A *row* is one run: ``id``, ``name``, ``status``, then one column per varying key and one
per final metric (None when the run did not report it).
"""
from __future__ import annotations

import json
import math
from typing import Any, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

# Fields of a run row (not its config) that are hyperparameters of a sweep.
RUN_KEYS = ("method", "task", "labeled_budget", "seed")
_SKIP = {"name", "group", "project", "seed"}  # the run's own seed column stands for config seed


def flat_config(config: Mapping | None, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in (config or {}).items():
        if isinstance(v, Mapping):
            out.update(flat_config(v, f"{prefix}{k}."))
        elif not prefix and k in _SKIP:
            continue
        else:
            out[f"{prefix}{k}"] = v
    return out


def hyperparameters(run: Mapping) -> dict[str, Any]:
    """A run's hyperparameters: method, task, labeled budget, seed and its flattened config."""
    out = {k: run.get(k) for k in RUN_KEYS}
    out.update(flat_config(run.get("config")))
    return out


def _norm(v: Any) -> str:
    return json.dumps(v, sort_keys=True, default=str)


def varying_keys(runs: Sequence[Mapping]) -> list[str]:
    """Keys whose value differs between ``runs`` (run fields first, then config keys, sorted)."""
    params = [hyperparameters(r) for r in runs]
    keys = sorted(set().union(*params)) if params else []
    varying = [k for k in keys if len({_norm(p.get(k)) for p in params}) > 1]
    return [k for k in RUN_KEYS if k in varying] + [k for k in varying if k not in RUN_KEYS]


def sweep_rows(runs: Sequence[Mapping], results: Mapping[str, Mapping[str, float | None]],
               keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """One row per run: id, name, status, the ``keys`` (default: the varying ones), final metrics."""
    keys = list(varying_keys(runs) if keys is None else keys)
    rows = []
    for r in runs:
        p = hyperparameters(r)
        row: dict[str, Any] = {"id": r["id"], "name": r.get("name"), "status": r.get("status")}
        for k in keys:
            v = p.get(k)
            row[k] = v if v is None or isinstance(v, (int, float, str, bool)) else _norm(v)
        row.update(results.get(r["id"], {}))
        rows.append(row)
    return rows


def group_rows(rows: Sequence[Mapping], key: str, metrics: Sequence[str]) -> list[dict[str, Any]]:
    """Rows grouped by the value of ``key``: ``n`` runs and mean/std of each metric."""
    groups: dict[str, list[Mapping]] = {}
    labels: dict[str, Any] = {}
    for row in rows:
        k = _norm(row.get(key))
        groups.setdefault(k, []).append(row)
        labels[k] = row.get(key)
    out = []
    for k in sorted(groups, key=lambda g: (labels[g] is None, _sort_key(labels[g]))):
        members = groups[k]
        entry: dict[str, Any] = {key: labels[k], "runs": len(members)}
        for m in metrics:
            vals = np.array([float(x[m]) for x in members if _finite(x.get(m))], dtype=np.float64)
            entry[f"{m} mean"] = float(vals.mean()) if vals.size else None
            entry[f"{m} std"] = float(vals.std(ddof=1)) if vals.size > 1 else (0.0 if vals.size else None)
        out.append(entry)
    return out


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _sort_key(v: Any) -> tuple:
    return (0, float(v), "") if _finite(v) else (1, 0.0, str(v))


def parcoords_figure(rows: Sequence[Mapping], keys: Sequence[str], metrics: Sequence[str],
                     color_by: str | None = None, height: int = 420) -> go.Figure:
    """Parallel coordinates: one axis per key (numbers as numbers, anything else as categories)
    then one per metric; one line per run, coloured by ``color_by`` (default the last metric).
    Runs missing a metric sit below that axis' range (shown as 'n/a')."""
    dims = []
    for name in [*keys, *metrics]:
        values = [r.get(name) for r in rows]
        numeric = all(v is None or _finite(v) for v in values) and any(_finite(v) for v in values)
        if numeric:
            arr = np.array([float(v) if _finite(v) else np.nan for v in values])
            lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
            span = (hi - lo) or 1.0
            missing = lo - 0.1 * span
            if np.isnan(arr).any():
                arr = np.where(np.isnan(arr), missing, arr)
                dims.append(dict(label=name, values=arr, range=[missing, hi]))
            else:
                dims.append(dict(label=name, values=arr))
        else:
            cats = sorted({_norm(v) for v in values}, key=lambda c: (c == "null", c))
            index = {c: i for i, c in enumerate(cats)}
            dims.append(dict(label=name, values=[index[_norm(v)] for v in values],
                             tickvals=list(range(len(cats))),
                             ticktext=[("n/a" if c == "null" else c.strip('"'))[:18] for c in cats]))
    color_by = color_by or (metrics[-1] if metrics else None)
    line: dict[str, Any] = dict(color="#1f77b4")
    if color_by is not None:
        dim = next((d for d in dims if d["label"] == color_by), None)
        if dim is not None:
            line = dict(color=list(dim["values"]), colorscale="Viridis", showscale=True,
                        colorbar=dict(title=dict(text=color_by, side="right")))
    fig = go.Figure(go.Parcoords(line=line, dimensions=dims, labelangle=-20,
                                 labelfont=dict(size=11), tickfont=dict(size=10)))
    fig.update_layout(height=height, margin=dict(l=60, r=60, t=70, b=30), template="plotly_white")
    return fig
