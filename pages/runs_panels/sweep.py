"""Sweep tab: a group's runs by hyperparameter (the config keys that vary as columns, final
metrics), grouped by any key, and a parallel-coordinates view of keys against metrics."""
from __future__ import annotations

import streamlit as st

from laom_core.runs.sweeps import RESULT_KEYS, run_results
from laom_core.viz.sweep import group_rows, hyperparameters, parcoords_figure, sweep_rows, varying_keys
from pages import common
from pages.runs_panels.data import marker

SHOWN = "(runs shown in the table)"


@st.cache_data(show_spinner=False, max_entries=4096)
def _results(store_path: str, run: dict, marker: str) -> dict:
    return run_results(run, common.store())


def sweep_panel(runs: list[dict], shown: list[dict], group_filter: str) -> None:
    groups = sorted({r.get("group_name") for r in runs if r.get("group_name")})
    options = groups + [SHOWN]
    default = group_filter if group_filter in groups else (groups[0] if groups else SHOWN)
    if st.session_state.get("rn_sweep") not in options:
        st.session_state["rn_sweep"] = default
    c1, c2, c3 = st.columns([2, 2, 2])
    which = c1.selectbox("Sweep (run group)", options, key="rn_sweep")
    members = shown if which == SHOWN else [r for r in runs if r.get("group_name") == which]
    if len(members) < 2:
        st.info("A sweep view needs two or more runs: launch a sweep on **Train**, or pick a group.")
        return
    store_path = str(common.store().path)
    results = {r["id"]: _results(store_path, r, marker(r)) for r in members}
    keys = varying_keys(members)
    metrics = [m for m in RESULT_KEYS if any(results[r["id"]].get(m) is not None for r in members)]
    rows = sweep_rows(members, results, keys)
    names = common.display_names(members)
    for row in rows:
        row["name"] = names[row["id"]]
        row["id"] = row["id"].rsplit("-", 1)[-1]
    if not keys:
        st.caption("These runs share every setting (no hyperparameter varies).")
    group_key = c2.selectbox("Group by", ["(none)", *keys, *[k for k in _all_keys(members) if k not in keys]],
                             key="rn_sweep_group", help="mean ± std of the final metrics per value of a setting")
    st.caption(f"{len(members)} runs · varying: {', '.join(keys) or '—'} · final metrics from each run's "
               f"summary (its last logged values while it runs)")
    if group_key != "(none)":
        st.dataframe(group_rows(rows if group_key in keys else sweep_rows(members, results, [group_key]),
                                group_key, metrics), hide_index=True, width="stretch")
    else:
        st.dataframe(rows, hide_index=True, width="stretch",
                     column_config={m: st.column_config.NumberColumn(format="%.4g") for m in metrics})
    if keys and metrics:
        color = c3.selectbox("Colour by", metrics, index=len(metrics) - 1, key="rn_sweep_color")
        st.plotly_chart(parcoords_figure(rows, keys, metrics, color_by=color), width="stretch", key="rn_parcoords")
    elif keys:
        st.caption("No final metrics yet: the parallel-coordinates view appears when runs report them.")


def _all_keys(runs: list[dict]) -> list[str]:
    return sorted(set().union(*(hyperparameters(r) for r in runs)))
