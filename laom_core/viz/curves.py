"""Training curves: smoothing, downsampling and mean ± std bands over seeds.

Pure numpy + plotly; pages and reports share these builders. A *series* is a dict with
``name`` (legend label), ``group`` (the label of its seed group: runs that differ only in
their seed), ``step`` and ``value`` arrays, and optionally ``seed``.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import plotly.graph_objects as go

from laom_core.methods import COLORS

PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
    "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22",
)
METHOD_COLORS = COLORS  # one colour per method, from the registry


def color_for(name: str, index: int) -> str:
    """Stable colours: one per method name, otherwise the palette in order."""
    return METHOD_COLORS.get(name, PALETTE[index % len(PALETTE)])


def rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def legend_below(y: float = -0.28) -> dict:
    """A horizontal legend under the plot (below the x-axis title): it never covers the
    chart's title, however many runs it lists. ``y`` is in plot heights below the axis."""
    return dict(orientation="h", yanchor="top", y=y, x=0, xanchor="left")


def smooth(values: np.ndarray, weight: float) -> np.ndarray:
    """Debiased exponential moving average (TensorBoard's smoothing); weight in [0, 1)."""
    values = np.asarray(values, dtype=np.float64)
    if weight <= 0 or values.size == 0:
        return values
    weight = min(float(weight), 0.999)
    out = np.empty_like(values)
    acc = 0.0
    norm = 0.0
    for i, v in enumerate(values):
        if not np.isfinite(v):
            out[i] = np.nan
            continue
        acc = acc * weight + (1 - weight) * v
        norm = norm * weight + (1 - weight)
        out[i] = acc / norm
    return out


def downsample(step: np.ndarray, value: np.ndarray, max_points: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points: bucket means over equal index ranges (keeps the shape)."""
    step = np.asarray(step)
    value = np.asarray(value, dtype=np.float64)
    n = step.size
    if n <= max_points:
        return step, value
    edges = np.linspace(0, n, max_points + 1).astype(np.int64)
    counts = np.diff(edges)
    sums = np.add.reduceat(np.nan_to_num(value), edges[:-1])
    return step[edges[1:] - 1], sums / np.maximum(counts, 1)


def mean_std_on_grid(series: Sequence[tuple[np.ndarray, np.ndarray]], points: int = 200):
    """Interpolate each (step, value) onto a shared step grid; returns grid, mean, std, count.

    The grid spans the steps all series reached (the overlap), so the band never mixes a
    finished seed with one that stopped early.
    """
    usable = [(np.asarray(s, float), np.asarray(v, float)) for s, v in series if len(s) > 0]
    if not usable:
        empty = np.zeros(0)
        return empty, empty, empty, 0
    lo = max(s.min() for s, _ in usable)
    hi = min(s.max() for s, _ in usable)
    if hi < lo:
        hi = lo
    grid = np.linspace(lo, hi, points) if hi > lo else np.array([lo])
    stacked = np.stack([np.interp(grid, s, v) for s, v in usable])
    return grid, stacked.mean(axis=0), stacked.std(axis=0), len(usable)


def curve_figure(
    series: Iterable[dict],
    *,
    title: str = "",
    smoothing: float = 0.0,
    group: bool = False,
    log_y: bool = False,
    x_title: str = "step",
    height: int = 320,
) -> go.Figure:
    """Lines per series, or (``group``) one mean line with a ± std band per group."""
    series = [s for s in series if len(s.get("step", ())) > 0]
    fig = go.Figure()
    if group:
        groups: dict[str, list[dict]] = {}
        for s in series:
            groups.setdefault(str(s.get("group", s["name"])), []).append(s)
        for i, (name, members) in enumerate(groups.items()):
            color = color_for(name, i)
            pairs = [(np.asarray(m["step"]), smooth(m["value"], smoothing)) for m in members]
            grid, mean, std, n = mean_std_on_grid(pairs)
            if n == 0:
                continue
            if n > 1:
                fig.add_trace(go.Scatter(
                    x=np.concatenate([grid, grid[::-1]]),
                    y=np.concatenate([mean + std, (mean - std)[::-1]]),
                    fill="toself", fillcolor=rgba(color, 0.18), line=dict(width=0),
                    hoverinfo="skip", showlegend=False, legendgroup=name,
                ))
            seeds = {m.get("seed") for m in members} if all("seed" in m for m in members) else None
            count = f"n={n}" if seeds is None or len(seeds) == n else \
                f"n={n} runs, {len(seeds)} seed{'s' if len(seeds) != 1 else ''}"
            fig.add_trace(go.Scatter(
                x=grid, y=mean, mode="lines", name=f"{name} ({count})",
                line=dict(color=color, width=2), legendgroup=name,
            ))
    else:
        for i, s in enumerate(series):
            color = color_for(str(s.get("group", "")), i) if len(series) <= 1 else PALETTE[i % len(PALETTE)]
            y = smooth(s["value"], smoothing)
            if smoothing > 0:
                fig.add_trace(go.Scatter(
                    x=s["step"], y=s["value"], mode="lines", line=dict(color=rgba(color, 0.25), width=1),
                    hoverinfo="skip", showlegend=False, legendgroup=s["name"],
                ))
            fig.add_trace(go.Scatter(
                x=s["step"], y=y, mode="lines", name=s["name"], line=dict(color=color, width=2),
                legendgroup=s["name"],
            ))
    fig.update_layout(
        title=dict(text=title, x=0.0, font=dict(size=14)), height=height,
        margin=dict(l=10, r=10, t=36, b=10), hovermode="x unified",
        legend=legend_below(), template="plotly_white",
    )
    fig.update_xaxes(title_text=x_title)
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def empty_figure(message: str, height: int = 240) -> go.Figure:
    """A blank figure carrying a message (used when a curve has no points yet)."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(height=height, template="plotly_white", margin=dict(l=10, r=10, t=10, b=10))
    return fig


# x axes of the curves: TensorBoard's STEP / RELATIVE / WALL.
X_AXES = {"step": "step", "relative": "relative time (h)", "wall": "wall-clock time"}


def x_values(step: np.ndarray, wall: np.ndarray, axis: str, start: float | None = None) -> np.ndarray:
    """The x of each point of a curve on ``axis`` (a key of :data:`X_AXES`).

    ``step``: the logged step. ``relative``: hours since ``start`` (the run's start; the
    curve's first point when not given). ``wall``: the wall-clock time of the write, as
    ``datetime64[ms]`` (plotly draws dates; shown in UTC).
    """
    if axis == "step":
        return np.asarray(step)
    wall = np.asarray(wall, dtype=np.float64)
    if axis == "relative":
        origin = start if start is not None and (wall.size == 0 or start <= np.nanmin(wall)) else (
            float(np.nanmin(wall)) if wall.size else 0.0)
        return (wall - origin) / 3600.0
    if axis == "wall":
        return (wall * 1000.0).astype("datetime64[ms]")
    raise ValueError(f"unknown x axis {axis!r} (one of {', '.join(X_AXES)})")
