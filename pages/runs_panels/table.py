"""The Runs table: one row per shown run, multi-row selection."""
from __future__ import annotations

import time

import streamlit as st

from laom_core.errors import LaomError
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
            "name": (r.get("name") or r["id"]) + (" (archived)" if r.get("archived") else ""),
            "tags": ", ".join(r.get("tags") or []) or None, "method": common.method_label(r.get("method")), "task": r.get("task"),
            "budget": r.get("labeled_budget"), "seed": r.get("seed"), "preset": r.get("preset"),
            "group": r.get("group_name"), "probe MSE (held-out)": s.get("probe_mse"), "return": s.get("eval_return_mean"),
            "duration": common.fmt_duration(end - started) if started and end else "–",
            "id": common.short_id(r),
        })
        if any(x.get("backend") not in (None, "local") for x in shown):  # cluster backends: where it runs
            table[-1]["backend"] = " ".join(str(v) for v in (r.get("backend") or "local", r.get("job_id")) if v)
    return table


def url_runs(runs: list[dict]) -> tuple[list[dict], list[str]]:
    """Runs named by the page's URL, ``?run=ID`` or ``?runs=ID1,ID2`` (full ids, unique
    prefixes or short ids), and the names that match no run."""
    raw = st.query_params.get("runs") or st.query_params.get("run") or ""
    by_id = {r["id"]: r for r in runs}
    found: list[dict] = []
    unknown: list[str] = []
    for word in [w.strip() for w in raw.split(",") if w.strip()][:20]:
        try:
            rid = common.store().find_run(word)["id"]
        except LaomError:
            unknown.append(word)
            continue
        if rid in by_id and by_id[rid] not in found:
            found.append(by_id[rid])
    return found, unknown


def set_url(selected: list[dict]) -> None:
    """Put the selection into the URL, so it can be copied: one run, several, or none."""
    ids = [r["id"] for r in selected]
    st.query_params.pop("run" if len(ids) != 1 else "runs", None)
    if len(ids) == 1:
        st.query_params["run"] = ids[0]
    elif ids:
        st.query_params["runs"] = ",".join(ids)
    else:
        st.query_params.pop("run", None)


def table_panel(shown: list[dict], runs: list[dict]) -> list[dict]:
    """Draw the table; return the selected runs: the rows picked, else the runs the URL
    names, else the running / latest ones."""
    total = len(runs)
    table = rows(shown)
    st.caption(f"{len(shown)} of {total} runs · select rows to plot them")
    # Missing values show as blank cells (not "None"). Column widths (px) keep the table inside
    # a 1400 px window next to the sidebar; the id column holds the short id (the CLI takes it,
    # e.g. `laom-studio runs show a1b2c3`), and rows stay in creation order.
    text, number = st.column_config.TextColumn, st.column_config.NumberColumn
    event = st.dataframe(table, hide_index=True, width="stretch", height=min(420, 38 + 35 * max(1, len(table))),
                         on_select="rerun", selection_mode="multi-row", key="rn_table", placeholder="",
                         column_config={"status": text(width=75), "name": text(width=135),
                                        "tags": text(width=60),
                                        "method": text(width=80), "task": text(width=80),
                                        "budget": number(width=55), "seed": number(width=45),
                                        "preset": text(width=60), "group": text(width=65),
                                        "probe MSE (held-out)": number(
                                            format="%.4f", width=70,
                                            help="ridge probe latent -> action on all held-out trajectories; "
                                                 "the clip-seen, clip-unseen and online probes: runs show ID"),
                                        "return": number(format="%.1f", width=55),
                                        "duration": text(width=65),
                                        "id": text(width=60, help="short run id; the CLI accepts it"),
                                        "backend": text(width=90, help="where it runs, and its job id there")})
    picked = list(event.selection.rows) if event is not None and event.selection else []
    selected = [shown[i] for i in picked if i < len(shown)]
    if picked != st.session_state.get("rn_prev_rows", []):  # the user changed the selection
        st.session_state["rn_prev_rows"] = picked
        set_url(selected)
    if not selected:
        selected, unknown = url_runs(runs)
        if unknown:
            st.warning(f"The link names {'a run' if len(unknown) == 1 else 'runs'} not in this workspace: "
                       f"{', '.join(unknown)}")
        if selected:
            st.caption(f"Opened from the link: {', '.join(common.display_names(selected).values())}. "
                       f"Select rows to choose others.")
            return selected
    if not selected and shown:
        live = [r for r in shown if r["status"] == "running"]
        selected = live[-3:] or shown[-1:]
        st.caption(f"Showing {'running' if live else 'the latest'} run(s); select rows to choose.")
    return selected
