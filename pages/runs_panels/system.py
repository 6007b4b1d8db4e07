"""System tab: CPU, memory and GPU figures the runs logged under stage ``system``."""
from __future__ import annotations

from typing import Callable, Sequence

import streamlit as st

from laom_core.viz.curves import curve_figure
from pages.runs_panels.data import curve, marker


def system_panel(selected: list[dict], store_path: str, system_keys: Sequence[str],
                 series_of: Callable[[dict, dict], dict]) -> None:
    cols = st.columns(2)
    for i, key in enumerate(system_keys):
        series = []
        for r in selected:
            c = curve(store_path, r["id"], "system", key, marker(r))
            if len(c["step"]):
                series.append(series_of(r, c))
        with cols[i % 2]:
            if series:
                st.plotly_chart(curve_figure(series, title=key, height=260), width="stretch", key=f"rn_sys_{key}")
            else:
                st.caption(f"{key}: not recorded" + (" (no GPU)" if key.startswith("gpu") else ""))
    devices = {r.get("gpu_name") or r.get("device") for r in selected}
    st.caption("Device: " + ", ".join(sorted(str(d) for d in devices if d)) if any(devices) else "")
