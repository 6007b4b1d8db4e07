"""Figures for latent spaces: 2-D maps coloured by any signal, and per-dimension probe bars."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from laom_core.viz.curves import PALETTE, legend_below


def color_options(arrays: dict[str, np.ndarray], has_probe_error: bool = False) -> dict[str, tuple[str, int | None]]:
    """Label -> (array name, column or None) for everything a map can be coloured by."""
    out: dict[str, tuple[str, int | None]] = {}
    if has_probe_error:
        out["probe error (latent → action)"] = ("probe_error", None)
    for name, label in (("actions", "action"), ("states", "state")):
        arr = arrays.get(name)
        if arr is not None and arr.ndim == 2:
            for d in range(arr.shape[1]):
                out[f"{label} dim {d}"] = (name, d)
    for name, label in (("step", "step in trajectory"), ("traj", "trajectory"), ("clip_id", "distractor clip")):
        arr = arrays.get(name)
        if arr is not None and arr.ndim == 1 and not (name == "clip_id" and np.all(arr < 0)):
            out[label] = (name, None)
    for name in sorted(k for k in arrays if k.startswith("distractor_")):
        arr = arrays[name]
        label = name.replace("distractor_", "distractor ")
        if arr.ndim == 1:
            out[label] = (name, None)
        elif arr.ndim == 2:
            for d in range(arr.shape[1]):
                out[f"{label} [{d}]"] = (name, d)
    return out


def color_values(arrays: dict[str, np.ndarray], spec: tuple[str, int | None]) -> np.ndarray:
    name, col = spec
    arr = np.asarray(arrays[name])
    return arr[:, col] if col is not None else arr.reshape(len(arr), -1)[:, 0]


CATEGORICAL = {"traj", "clip_id"}
WEBGL_POINTS = 5000


def scatter_map(xy: np.ndarray, color: np.ndarray, *, color_name: str, categorical: bool = False,
                title: str = "", hover: Sequence[str] | None = None, height: int = 480) -> go.Figure:
    """One scatter trace (so selections index points directly); customdata = point index.

    Above ``WEBGL_POINTS`` points the trace is WebGL (``Scattergl``): an SVG scatter of
    50,000 points takes the browser seconds to draw and to lasso."""
    xy = np.asarray(xy)
    color = np.asarray(color, dtype=np.float64)
    marker = dict(size=5, color=color, opacity=0.8, line=dict(width=0))
    if categorical:
        cats = np.unique(color)
        lookup = {c: i for i, c in enumerate(cats)}
        idx = np.array([lookup[c] for c in color], dtype=np.float64)
        n = max(1, len(cats) - 1)
        scale = [[i / n, PALETTE[i % len(PALETTE)]] for i in range(len(cats))] if len(cats) > 1 else [[0, PALETTE[0]], [1, PALETTE[0]]]
        marker.update(color=idx, colorscale=scale, cmin=0, cmax=n,
                      colorbar=dict(title=color_name, tickvals=list(range(len(cats)))[:20],
                                    ticktext=[str(int(c)) for c in cats][:20]))
    else:
        marker.update(colorscale="Viridis", colorbar=dict(title=dict(text=color_name, side="right")))
    trace = go.Scattergl if len(xy) > WEBGL_POINTS else go.Scatter
    fig = go.Figure(trace(
        x=xy[:, 0], y=xy[:, 1], mode="markers", marker=marker, customdata=np.arange(len(xy)),
        text=list(hover) if hover is not None else None,
        hovertemplate="%{text}<extra></extra>" if hover is not None else None,
    ))
    fig.update_layout(title=dict(text=title, font=dict(size=14), x=0), height=height, template="plotly_white",
                      margin=dict(l=10, r=10, t=40, b=10), dragmode="lasso")
    fig.update_xaxes(showticklabels=False, title=None, zeroline=False)
    fig.update_yaxes(showticklabels=False, title=None, zeroline=False, scaleanchor="x")
    return fig


def probe_bars(per_run: dict[str, dict], height: int = 300) -> go.Figure:
    """Grouped bars: held-out probe MSE per action dim for each run (chance as a marker)."""
    fig = go.Figure()
    for i, (name, probe) in enumerate(per_run.items()):
        per_dim = probe.get("per_dim") or []
        dims = [f"a{d}" for d in range(len(per_dim))]
        fig.add_trace(go.Bar(x=dims, y=per_dim, name=name, marker_color=PALETTE[i % len(PALETTE)]))
        chance = probe.get("chance_per_dim")
        if chance and len(chance) == len(per_dim):
            fig.add_trace(go.Scatter(x=dims, y=chance, mode="markers", name=f"{name}: chance",
                                     marker=dict(symbol="line-ew-open", size=18, color=PALETTE[i % len(PALETTE)],
                                                 line=dict(width=2))))
    fig.update_layout(barmode="group", height=height, template="plotly_white",
                      margin=dict(l=10, r=10, t=40, b=10), yaxis_title="held-out MSE",
                      title=dict(text="Held-out probe MSE per action dimension (lower is better)",
                                 font=dict(size=14), x=0),
                      legend=legend_below(-0.15))
    return fig


LEAKAGE_TERMS = (("r2_action", "action R²"), ("r2_camera_delta", "camera motion R²"),
                 ("r2_background_step", "background motion R²"), ("r2_color_delta", "colour change R²"),
                 ("clip_score", "clip id (above chance)"))


def leakage_bars(per_run: dict[str, dict], height: int = 320) -> go.Figure:
    """Grouped bars per run: how well the latent action predicts the action vs each distractor."""
    fig = go.Figure()
    for i, (name, figures) in enumerate(per_run.items()):
        terms = [(label, figures[key]) for key, label in LEAKAGE_TERMS if key in figures]
        leak = figures.get("leakage")
        fig.add_trace(go.Bar(x=[t[0] for t in terms], y=[t[1] for t in terms], marker_color=PALETTE[i % len(PALETTE)],
                             name=f"{name} (leakage {leak:.2f})" if leak is not None else name))
    fig.update_layout(barmode="group", height=height, template="plotly_white",
                      margin=dict(l=10, r=10, t=40, b=10), yaxis_title="held-out R² / score",
                      title=dict(text="What the latent action predicts: agent action vs distractors",
                                 font=dict(size=14), x=0),
                      legend=legend_below(-0.15))
    return fig
