"""Curves tab: chosen metrics of the selected runs, smoothed, optionally as seed bands."""
from __future__ import annotations

import time
from typing import Callable

import streamlit as st

from laom_core.viz.curves import X_AXES, curve_figure, empty_figure, x_values
from pages import common
from pages.runs_panels.data import curve, keys, marker

DEFAULT_METRICS = ["lam/loss", "bc/loss", "decoder/loss", "idm/loss", "lam/probe_mse", "lam/samples_per_s",
                   "bc/samples_per_s", "lam/lr"]


def curves_panel(selected: list[dict], store_path: str, series_of: Callable[[dict, dict], dict]) -> None:
    available: list[str] = []
    for r in selected:
        for k in keys(store_path, r["id"], marker(r)):
            if k not in available and not k.startswith("system/"):
                available.append(k)
    default = [k for k in DEFAULT_METRICS if k in available][:4] or available[:4]
    c1, c2, c5, c3, c4 = st.columns([2.8, 1.8, 2.3, 2.1, 1])
    # Follow the defaults (metrics appear as a run starts logging) until the user picks.
    if not st.session_state.get("rn_metrics_touched"):
        st.session_state["rn_metrics"] = default
    else:
        st.session_state["rn_metrics"] = [k for k in st.session_state.get("rn_metrics", []) if k in available]
    chosen = c1.multiselect("Metrics", available, key="rn_metrics",
                            on_change=lambda: st.session_state.update(rn_metrics_touched=True))
    smoothing = c2.slider("Smoothing", 0.0, 0.99, 0.6, 0.01, key="rn_smooth")
    axis = c5.radio("x axis", list(X_AXES), key="rn_xaxis", horizontal=True,
                    format_func={"step": "Step", "relative": "Relative", "wall": "Wall"}.get,
                    help="the logged step; hours since the run started; or the wall-clock time (UTC) of each point")
    group_by = c3.toggle("Seeds: mean ± std", value=len(selected) > 1, key="rn_group_by",
                         disabled=axis == "wall", help="bands need step or relative time" if axis == "wall" else None)
    log_y = c4.toggle("Log y", value=False, key="rn_logy")

    current = {r["id"]: r for r in common.list_runs()}
    sel = [current.get(r["id"], r) for r in selected]
    if not chosen:
        st.info("No metrics logged yet." if not available else "Choose metrics to plot.")
        return
    cols = st.columns(2)
    for i, name in enumerate(chosen):
        stage, key = name.split("/", 1)
        series = []
        for r in sel:
            c = curve(store_path, r["id"], stage, key, marker(r))
            if len(c["step"]):
                s = series_of(r, c)
                s["step"] = x_values(c["step"], c["wall"], axis, r.get("started_at"))
                series.append(s)
        with cols[i % 2]:
            if not series:
                st.plotly_chart(empty_figure(f"{name}: no points yet"), width="stretch", key=f"rn_c_{name}")
            else:
                fig = curve_figure(series, title=name, smoothing=smoothing, group=group_by and axis != "wall",
                                   log_y=log_y and key != "lr", x_title=X_AXES[axis])
                st.plotly_chart(fig, width="stretch", key=f"rn_c_{name}")
    if any(r["status"] in ("queued", "running") for r in sel):
        st.caption(f"Live · refreshed {time.strftime('%H:%M:%S')}")
