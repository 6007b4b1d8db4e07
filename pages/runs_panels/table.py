"""The Runs table: one row per shown run, multi-row selection."""
from __future__ import annotations

import time

import streamlit as st

from pages import common
from pages.runs_panels.data import summary_of


def rows(shown: list[dict]) -> list[dict]:
    now = time.time()
    table = []
    for r in shown:
        s = summary_of(r) if r["status"] == "finished" else {}
        started = r.get("started_at")
        end = r.get("ended_at") or (now if r["status"] == "running" else None)
        table.append({
            "status": f"{common.STATUS_ICONS.get(r['status'], '')} {r['status']}",
            "name": r.get("name"), "method": common.method_label(r.get("method")), "task": r.get("task"),
            "budget": r.get("labeled_budget"), "seed": r.get("seed"), "preset": r.get("preset"),
            "group": r.get("group_name"), "probe MSE": s.get("probe_mse"), "return": s.get("eval_return_mean"),
            "duration": common.fmt_duration(end - started) if started and end else "–",
            "id": common.short_id(r),
        })
    return table


def table_panel(shown: list[dict], total: int) -> list[dict]:
    """Draw the table; return the selected runs (or the running / latest ones by default)."""
    table = rows(shown)
    st.caption(f"{len(shown)} of {total} runs · select rows to plot them")
    # Missing values show as blank cells (not "None"). Column widths (px) keep the table inside
    # a 1400 px window next to the sidebar; the id column holds the short id (the CLI takes it,
    # e.g. `laom-studio runs show a1b2c3`), and rows stay in creation order.
    text, number = st.column_config.TextColumn, st.column_config.NumberColumn
    event = st.dataframe(table, hide_index=True, width="stretch", height=min(420, 38 + 35 * max(1, len(table))),
                         on_select="rerun", selection_mode="multi-row", key="rn_table", placeholder="",
                         column_config={"status": text(width=80), "name": text(width=170),
                                        "method": text(width=80), "task": text(width=85),
                                        "budget": number(width=55), "seed": number(width=45),
                                        "preset": text(width=70), "group": text(width=70),
                                        "probe MSE": number(format="%.4f", width=70),
                                        "return": number(format="%.1f", width=55),
                                        "duration": text(width=65),
                                        "id": text(width=60, help="short run id; the CLI accepts it")})
    picked = list(event.selection.rows) if event is not None and event.selection else []
    selected = [shown[i] for i in picked if i < len(shown)]
    if not selected and shown:
        live = [r for r in shown if r["status"] == "running"]
        selected = live[-3:] or shown[-1:]
        st.caption(f"Showing {'running' if live else 'the latest'} run(s); select rows to choose.")
    return selected
