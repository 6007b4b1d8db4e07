"""Progress tab: each selected run's stages with progress bars and ETA."""
from __future__ import annotations

import streamlit as st

from laom_core.analysis.progress import stage_progress
from pages import common


def progress_panel(selected: list[dict], names: dict[str, str]) -> None:
    current = {r["id"]: r for r in common.list_runs()}
    for r in selected:
        r = current.get(r["id"], r)
        st.markdown(f"**{names.get(r['id'], r.get('name'))}** · {common.method_label(r.get('method'))} · "
                    f"{common.STATUS_ICONS.get(r['status'], '')} {r['status']}")
        stages = stage_progress(common.run_dir(r), r["status"])
        if not stages:
            st.caption("No stage information yet (the run has not started its first stage).")
        for s in stages:
            text = f"{s['stage']}: {s['state']}"
            if s.get("n") is not None and s.get("total"):
                text += f" · {s['n']}/{s['total']}"
            if s["state"] == "running" and s.get("eta_s") is not None:
                text += f" · ETA {common.fmt_duration(s['eta_s'])}"
            if s["state"] == "done" and s.get("wall_s") is not None:
                text += f" · took {common.fmt_duration(s['wall_s'])}"
            st.progress(float(s["fraction"]), text=text)
        if r["status"] == "failed" and r.get("error"):
            st.error(f"Failed: {str(r['error'])[-600:]}")
