"""Rollout figures: rewards and actions over an episode with a marker at the current frame."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from laom_core.viz.curves import PALETTE, legend_below


def episode_figure(rewards: Sequence[float], actions: Sequence[Sequence[float]], *, t: int,
                   expert_rewards: Sequence[float] | None = None, height: int = 420) -> go.Figure:
    """Two stacked panels sharing the step axis: reward (and cumulative return), actions."""
    rewards = np.asarray(rewards, dtype=np.float64)
    actions = np.asarray(actions, dtype=np.float64).reshape(len(rewards), -1) if len(rewards) else np.zeros((0, 1))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("reward per step", "actions"))
    steps = np.arange(len(rewards))
    fig.add_trace(go.Scatter(x=steps, y=rewards, mode="lines", name="policy reward", line=dict(color=PALETTE[0])),
                  row=1, col=1)
    if expert_rewards is not None and len(expert_rewards):
        er = np.asarray(expert_rewards, dtype=np.float64)
        fig.add_trace(go.Scatter(x=np.arange(len(er)), y=er, mode="lines", name="expert reward",
                                 line=dict(color="#7f7f7f", dash="dot")), row=1, col=1)
    for d in range(actions.shape[1]):
        fig.add_trace(go.Scatter(x=steps, y=actions[:, d], mode="lines", name=f"a{d}", showlegend=False,
                                 line=dict(width=1, color=PALETTE[(d + 1) % len(PALETTE)])), row=2, col=1)
    for row in (1, 2):
        fig.add_vline(x=t, line_color="black", line_dash="dash", row=row, col=1)
    fig.update_layout(height=height, template="plotly_white", margin=dict(l=10, r=10, t=30, b=10),
                      legend=legend_below(-0.12))
    fig.update_xaxes(title_text="step", row=2, col=1)
    return fig


def returns_figure(returns: Sequence[float], expert_return: float | None = None, height: int = 240) -> go.Figure:
    fig = go.Figure(go.Bar(x=[f"ep {i}" for i in range(len(returns))], y=list(returns), marker_color=PALETTE[0],
                           name="policy"))
    if expert_return is not None:
        fig.add_hline(y=expert_return, line_dash="dot", line_color="#7f7f7f",
                      annotation_text=f"expert data mean {expert_return:.1f}", annotation_position="top left")
    fig.update_layout(height=height, template="plotly_white", margin=dict(l=10, r=10, t=30, b=10),
                      title=dict(text="Episode returns", font=dict(size=14), x=0), yaxis_title="return")
    return fig
