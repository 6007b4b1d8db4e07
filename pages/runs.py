"""Runs: filter, watch live curves (mean ± std over seeds), stage progress, system figures, logs.

The page draws the filters and calls the panels of ``pages/runs_panels/`` in order.
"""
from __future__ import annotations

import streamlit as st

from laom_core.errors import LaomError
from pages import common
from pages.runs_panels.artifacts import artifacts_panel
from pages.runs_panels.curves import curves_panel
from pages.runs_panels.diff import diff_panel
from pages.runs_panels.logs import control_panel, log_panel, pick_one
from pages.runs_panels.manage import manage_panel, show_flash
from pages.runs_panels.progress import progress_panel
from pages.runs_panels.sweep import sweep_panel
from pages.runs_panels.system import system_panel
from pages.runs_panels.table import table_panel

common.page_header("Runs", "Every training run in the workspace. Select rows to compare their curves (the URL "
                           "then opens the same runs); running runs refresh every few seconds.")

runs: list[dict] = []
try:
    runs = common.list_runs()
except LaomError as exc:
    st.error(f"Run store: {exc}")
    st.stop()
if not runs:
    st.info("No runs yet. Launch one on **Train**.")
    st.page_link("pages/train.py", label="Go to Train", icon=":material/rocket_launch:")
    st.stop()

SYSTEM_KEYS = ["cpu_percent", "rss_mb", "gpu_mem_mb", "gpu_util"]

# ------------------------------------------------------------------------------ filters
store_path = str(common.store().path)
methods = sorted({r.get("method") or "?" for r in runs})
groups = sorted({r.get("group_name") for r in runs if r.get("group_name")})
statuses = ["queued", "running", "finished", "failed", "stopped"]
f1, f2, f3, f4, f5 = st.columns([2, 2, 2, 2.6, 1.8])
f_status = f1.multiselect("Status", statuses, key="rn_status")
f_method = f2.multiselect("Method", methods, key="rn_method", format_func=common.method_label)
f_group = f3.selectbox("Group", ["(all)"] + groups, key="rn_group")
f_text = f4.text_input("Search name, task, tag or notes", "", key="rn_text")
f_archived = f5.toggle("Show archived", value=False, key="rn_archived",
                       help=f"{sum(1 for r in runs if r.get('archived'))} archived run(s)")


def keep(r: dict) -> bool:
    if r.get("archived") and not f_archived:
        return False
    if f_status and r["status"] not in f_status:
        return False
    if f_method and (r.get("method") or "?") not in f_method:
        return False
    if f_group != "(all)" and r.get("group_name") != f_group:
        return False
    if f_text:
        blob = " ".join(str(x) for x in (r.get("name"), r.get("task"), r.get("id"), r.get("tags"),
                                         r.get("notes"))).lower()
        if f_text.lower() not in blob:
            return False
    return True


store_live = any(r["status"] in ("queued", "running") for r in runs)


@st.fragment(run_every=3 if store_live else None)
def body() -> None:
    """Everything below the filters; re-runs every 3 s while any run is queued or running."""
    global runs
    runs = common.list_runs()
    if store_live and not any(r["status"] in ("queued", "running") for r in runs):
        st.rerun()  # the last live run ended: one full rerun stops the timer
    show_flash()  # what the last rename/tag/archive/delete did
    # Creation order: rows keep their index when new runs appear, so a selection stays put.
    shown = [r for r in runs if keep(r)]
    selected = table_panel(shown, runs)
    if not selected:
        return
    names = common.display_names(selected)  # a shared name gets its run's short id
    bands = common.seed_groups(selected)  # seeds of one configuration, not of one method

    def series_of(r: dict, c: dict) -> dict:
        return {"name": names[r["id"]], "group": bands[r["id"]], "seed": r.get("seed"),
                "step": c["step"], "value": c["value"]}

    tab_curves, tab_progress, tab_system, tab_logs, tab_files, tab_manage, tab_sweep, tab_diff = st.tabs(
        [":material/show_chart: Curves", ":material/timer: Progress", ":material/memory: System",
         ":material/article: Log & control", ":material/folder_open: Artifacts", ":material/edit: Manage",
         ":material/tune: Sweep", ":material/difference: Config diff"])
    with tab_curves:
        curves_panel(selected, store_path, series_of)
    with tab_progress:
        progress_panel(selected, names)
    with tab_system:
        system_panel(selected, store_path, SYSTEM_KEYS, series_of)
    with tab_logs:
        run = pick_one(selected)
        control_panel(run)
        log_panel(run)
    with tab_files:
        artifacts_panel(pick_one(selected, key="rn_art_run"))
    with tab_manage:
        manage_panel(pick_one(selected, key="rn_manage_run"))
    with tab_sweep:
        sweep_panel([r for r in runs if f_archived or not r.get("archived")], shown, f_group)
    with tab_diff:
        diff_panel(selected)


body()
