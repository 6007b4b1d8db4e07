"""Supervision-budget figures: a metric against the labeled budget, one line per method."""
from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go

from laom_core.viz.curves import color_for, rgba

from laom_core.methods import LABELS


def short_number(value: float) -> str:
    """Tick text a reader takes in at a glance: 200, 3.2k, 128k, 1.5M."""
    value = float(value)
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            text = f"{value / scale:.1f}".rstrip("0").rstrip(".")
            return f"{text}{suffix}"
    return f"{value:g}"


def log_ticks(lo: float, hi: float) -> list[float]:
    """Tick values for a log axis spanning ``lo``..``hi``: powers of ten, plus 2x and 5x when
    the span is under three decades, each to be labelled in full (0.02, not a bare "2")."""
    import math

    if not (lo > 0 and hi > 0):
        return []
    lo, hi = min(lo, hi), max(lo, hi)
    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    steps = (1, 2, 5) if last - first < 3 else (1,)
    ticks = [m * 10.0 ** e for e in range(first, last + 1) for m in steps]
    inside = [t for t in ticks if lo / 1.5 <= t <= hi * 1.5]
    return inside or [10.0 ** first, 10.0 ** last]


def budget_figure(entries: Sequence[dict], *, metric_label: str, title: str = "",
                  reference: dict[str, float] | None = None, reference_budget: int | None = None,
                  reference_lines: dict[str, float] | None = None, log_y: bool = False,
                  height: int = 440, x_key: str = "labeled_budget",
                  x_title: str = "labeled trajectories", x_unit: str = "labeled") -> go.Figure:
    """``entries``: aggregated rows (method, ``x_key``, mean, std, n).

    Methods with budgets draw a line with a ± std band over the budgets (log x, one tick
    per budget, labelled 200 / 3.2k / 128k). Methods with no budget (trained without
    labels, or BC on all labels) draw a dashed horizontal line across. ``reference`` puts
    the paper's values as stars at ``reference_budget`` (in the units of ``x_key``);
    ``reference_lines`` as dotted horizontal lines.
    """
    fig = go.Figure()
    methods: dict[str, list[dict]] = {}
    for e in entries:
        methods.setdefault(str(e["method"]), []).append(e)
    budgets = sorted({int(e[x_key]) for e in entries if e.get(x_key)})
    if reference and reference_budget:
        budgets = sorted(set(budgets) | {int(reference_budget)})
    x_span = (min(budgets), max(budgets)) if budgets else (1, 128)
    for i, (method, rows) in enumerate(methods.items()):
        color = color_for(method, i)
        label = LABELS.get(method, method)
        with_budget = sorted((r for r in rows if r.get(x_key)), key=lambda r: r[x_key])
        without = [r for r in rows if not r.get(x_key)]
        if with_budget:
            x = [r[x_key] for r in with_budget]
            y = [r["mean"] for r in with_budget]
            s = [r["std"] for r in with_budget]
            if len(x) > 1 and any(s):
                fig.add_trace(go.Scatter(x=x + x[::-1], y=[a + b for a, b in zip(y, s)] + [a - b for a, b in zip(y, s)][::-1],
                                         fill="toself", fillcolor=rgba(color, 0.15), line=dict(width=0),
                                         hoverinfo="skip", showlegend=False, legendgroup=method))
            fig.add_trace(go.Scatter(
                x=x, y=y, mode="lines+markers", name=label, legendgroup=method,
                line=dict(color=color, width=2), marker=dict(size=8),
                error_y=dict(type="data", array=s, visible=len(x) == 1),
                customdata=[[r["n"]] for r in with_budget],
                hovertemplate=f"{label}<br>%{{x:,}} {x_unit}: %{{y:.4g}} (n=%{{customdata[0]}})<extra></extra>"))
        for r in without:
            fig.add_trace(go.Scatter(
                x=list(x_span), y=[r["mean"], r["mean"]], mode="lines", name=f"{label} (no budget)",
                legendgroup=method, line=dict(color=color, width=2, dash="dash"),
                hovertemplate=f"{label}: %{{y:.4g}} ± {r['std']:.3g} (n={r['n']})<extra></extra>"))
    where = f"{int(reference_budget):,} {x_unit}" if reference_budget else ""
    for i, (method, value) in enumerate((reference or {}).items()):
        fig.add_trace(go.Scatter(
            x=[reference_budget], y=[value], mode="markers", name=f"paper: {LABELS.get(method, method)}",
            marker=dict(symbol="star", size=14, color=color_for(method, i), line=dict(color="black", width=1)),
            hovertemplate=f"paper {LABELS.get(method, method)}: {value} at {where}<extra></extra>"))
    for i, (method, value) in enumerate((reference_lines or {}).items()):
        fig.add_trace(go.Scatter(
            x=list(x_span), y=[value, value], mode="lines", name=f"paper: {LABELS.get(method, method)}",
            line=dict(color=color_for(method, i), width=1.5, dash="dot"),
            hovertemplate=f"paper {LABELS.get(method, method)}: {value}<extra></extra>"))
    fig.update_layout(title=dict(text=title, x=0, font=dict(size=14)), height=height, template="plotly_white",
                      margin=dict(l=10, r=10, t=40, b=10),
                      legend=dict(orientation="h", yanchor="top", y=-0.22, x=0, xanchor="left"))
    fig.update_xaxes(type="log", title_text=x_title, tickvals=budgets or None,
                     ticktext=[short_number(b) for b in budgets] or None, minor=dict(showgrid=False))
    fig.update_yaxes(title_text=metric_label, type="log" if log_y else "linear")
    if log_y:
        ys = [e["mean"] + e.get("std", 0) for e in entries] + [e["mean"] - e.get("std", 0) for e in entries]
        ys += list((reference_lines or {}).values()) + list((reference or {}).values())
        ys = [float(y) for y in ys if y is not None and y > 0]
        ticks = log_ticks(min(ys), max(ys)) if ys else []
        if ticks:
            fig.update_yaxes(tickvals=ticks, ticktext=[f"{t:g}" for t in ticks], minor=dict(showgrid=False))
    return fig
