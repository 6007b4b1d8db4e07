"""Runs: filter, watch live curves (mean ± std over seeds), stage progress, system figures, logs."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import streamlit as st

from laom_core.errors import LaomError
from laom_core.rundir import RunDir, load_summary
from laom_core.viz.curves import curve_figure, downsample, empty_figure
from pages import common

common.page_header("Runs", "Every training run in the workspace. Select rows to compare their curves; running "
                           "runs refresh every few seconds.")

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

DEFAULT_METRICS = ["lam/loss", "bc/loss", "decoder/loss", "idm/loss", "lam/probe_mse", "lam/samples_per_s",
                   "bc/samples_per_s", "lam/lr"]
SYSTEM_KEYS = ["cpu_percent", "rss_mb", "gpu_mem_mb", "gpu_util"]


@st.cache_data(show_spinner=False, max_entries=2048)
def _curve(store_path: str, run_id: str, stage: str, key: str, marker: str) -> dict:
    """One run's curve, downsampled to <= 1000 points; ``marker`` changes when it can have grown."""
    curves = common.store().metrics(run_id, keys=[key], stage=stage)
    c = curves.get(key)
    if c is None or len(c["step"]) == 0:
        return {"step": np.zeros(0), "value": np.zeros(0)}
    step, value = downsample(c["step"], c["value"], 1000)
    return {"step": step, "value": value}


@st.cache_data(show_spinner=False, max_entries=1024)
def _keys(store_path: str, run_id: str, marker: str) -> list[str]:
    return [f"{s}/{k}" for s, k in common.store().metric_keys(run_id)]


@st.cache_data(show_spinner=False, max_entries=1024)
def _summary(path: str, mtime: float) -> dict:
    return load_summary(Path(path).parent) or {}


def marker(run: dict) -> str:
    """Cache marker: fixed for ended runs, a 3-second bucket for live ones."""
    if run["status"] in ("queued", "running"):
        return f"live-{int(time.time() // 3)}"
    return f"{run['status']}-{run.get('ended_at')}-{run.get('updated_at')}"


def summary_of(run: dict) -> dict:
    folder = common.run_dir(run)
    if folder is None:
        return {}
    path = RunDir(folder).summary
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return {}
    return _summary(str(path), mtime)


# ------------------------------------------------------------------------------ filters
store_path = str(common.store().path)
methods = sorted({r.get("method") or "?" for r in runs})
groups = sorted({r.get("group_name") for r in runs if r.get("group_name")})
statuses = ["queued", "running", "finished", "failed", "stopped"]
f1, f2, f3, f4 = st.columns([2, 2, 2, 3])
f_status = f1.multiselect("Status", statuses, key="rn_status")
f_method = f2.multiselect("Method", methods, key="rn_method", format_func=common.method_label)
f_group = f3.selectbox("Group", ["(all)"] + groups, key="rn_group")
f_text = f4.text_input("Search name, task or tag", "", key="rn_text")


def keep(r: dict) -> bool:
    if f_status and r["status"] not in f_status:
        return False
    if f_method and (r.get("method") or "?") not in f_method:
        return False
    if f_group != "(all)" and r.get("group_name") != f_group:
        return False
    if f_text:
        blob = " ".join(str(x) for x in (r.get("name"), r.get("task"), r.get("id"), r.get("tags"))).lower()
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
    # Creation order: rows keep their index when new runs appear, so a selection stays put.
    shown = [r for r in runs if keep(r)]
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
    st.caption(f"{len(shown)} of {len(runs)} runs · select rows to plot them")
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
    rows = list(event.selection.rows) if event is not None and event.selection else []
    selected = [shown[i] for i in rows if i < len(shown)]
    if not selected and shown:
        live = [r for r in shown if r["status"] == "running"]
        selected = live[-3:] or shown[-1:]
        st.caption(f"Showing {'running' if live else 'the latest'} run(s); select rows to choose.")
    if not selected:
        return
    live_any = any(r["status"] in ("queued", "running") for r in selected)
    names = common.display_names(selected)  # a shared name gets its run's short id
    bands = common.seed_groups(selected)  # seeds of one configuration, not of one method

    def _series(r: dict, c: dict) -> dict:
        return {"name": names[r["id"]], "group": bands[r["id"]], "seed": r.get("seed"),
                "step": c["step"], "value": c["value"]}

    # ------------------------------------------------------------------------------ curves
    tab_curves, tab_progress, tab_system, tab_logs, tab_diff = st.tabs(
        [":material/show_chart: Curves", ":material/timer: Progress", ":material/memory: System",
         ":material/article: Log & control", ":material/difference: Config diff"])

    with tab_curves:
        available: list[str] = []
        for r in selected:
            for k in _keys(store_path, r["id"], marker(r)):
                if k not in available and not k.startswith("system/"):
                    available.append(k)
        default = [k for k in DEFAULT_METRICS if k in available][:4] or available[:4]
        c1, c2, c3, c4 = st.columns([4, 2, 2, 1])
        # Follow the defaults (metrics appear as a run starts logging) until the user picks.
        if not st.session_state.get("rn_metrics_touched"):
            st.session_state["rn_metrics"] = default
        else:
            st.session_state["rn_metrics"] = [k for k in st.session_state.get("rn_metrics", []) if k in available]
        chosen = c1.multiselect("Metrics", available, key="rn_metrics",
                                on_change=lambda: st.session_state.update(rn_metrics_touched=True))
        smoothing = c2.slider("Smoothing", 0.0, 0.99, 0.6, 0.01, key="rn_smooth")
        group_by = c3.toggle("Seeds: mean ± std", value=len(selected) > 1, key="rn_group_by")
        log_y = c4.toggle("Log y", value=False, key="rn_logy")

        def curves_panel() -> None:
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
                    c = _curve(store_path, r["id"], stage, key, marker(r))
                    if len(c["step"]):
                        series.append(_series(r, c))
                with cols[i % 2]:
                    if not series:
                        st.plotly_chart(empty_figure(f"{name}: no points yet"), width="stretch", key=f"rn_c_{name}")
                    else:
                        fig = curve_figure(series, title=name, smoothing=smoothing, group=group_by,
                                           log_y=log_y and key != "lr")
                        st.plotly_chart(fig, width="stretch", key=f"rn_c_{name}")
            if any(r["status"] in ("queued", "running") for r in sel):
                st.caption(f"Live · refreshed {time.strftime('%H:%M:%S')}")

        curves_panel()

    # ------------------------------------------------------------------------------ progress
    with tab_progress:
        from laom_core.analysis.progress import stage_progress

        def progress_panel() -> None:
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

        progress_panel()

    # ------------------------------------------------------------------------------ system
    with tab_system:
        def system_panel() -> None:
            cols = st.columns(2)
            for i, key in enumerate(SYSTEM_KEYS):
                series = []
                for r in selected:
                    c = _curve(store_path, r["id"], "system", key, marker(r))
                    if len(c["step"]):
                        series.append(_series(r, c))
                with cols[i % 2]:
                    if series:
                        st.plotly_chart(curve_figure(series, title=key, height=260), width="stretch", key=f"rn_sys_{key}")
                    else:
                        st.caption(f"{key}: not recorded" + (" (no GPU)" if key.startswith("gpu") else ""))
            devices = {r.get("gpu_name") or r.get("device") for r in selected}
            st.caption("Device: " + ", ".join(sorted(str(d) for d in devices if d)) if any(devices) else "")

        system_panel()

    # ------------------------------------------------------------------------------ logs & control
    with tab_logs:
        run = selected[0] if len(selected) == 1 else None
        if run is None:
            pick = st.selectbox("Run", [r["id"] for r in selected], key="rn_log_run",
                                format_func=lambda i: next(common.run_label(r) for r in selected if r["id"] == i))
            run = next(r for r in selected if r["id"] == pick)
        b1, b2, b3 = st.columns([1, 1, 4])
        with common.guard("Run control"):
            from laom_core.runs import launcher

            if b1.button("Stop", icon=":material/stop:", key="rn_stop", disabled=run["status"] not in ("queued", "running")):
                with st.spinner("Stopping…"):
                    status = launcher.stop(run["id"], store=common.store())
                st.toast(f"{run.get('name')}: {status}")
                st.rerun()
            if b2.button("Resume", icon=":material/replay:", key="rn_resume", disabled=run["status"] not in ("stopped", "failed")):
                launcher.resume(run["id"], store=common.store())
                st.toast(f"{run.get('name')} queued again; it continues from its last checkpoint")
                st.rerun()
        b3.caption(f"Run folder: `{run.get('run_dir')}`")

        def log_panel() -> None:
            from laom_core.analysis.progress import _tail

            folder = common.run_dir(run)
            text = _tail(RunDir(folder).log, 16384) if folder else ""
            # tqdm redraws with carriage returns: keep only the last state of each line.
            lines = [ln.split("\r")[-1] for ln in text.splitlines()][-60:]
            st.code("\n".join(lines) or "(no output yet)", language=None)

        log_panel()

    # ------------------------------------------------------------------------------ config diff
    with tab_diff:
        if len(selected) < 2:
            st.info("Select two or more runs in the table to compare their configs.")
        else:
            def flat(d, prefix=""):
                out = {}
                for k, v in (d or {}).items():
                    if isinstance(v, dict):
                        out.update(flat(v, f"{prefix}{k}."))
                    else:
                        out[f"{prefix}{k}"] = v
                return out

            flats = [flat(r.get("config") or {}) for r in selected]
            for r, f in zip(selected, flats):
                f["(method)"] = r.get("method")
                f["(datasets)"] = json.dumps(r.get("datasets") or {}, sort_keys=True)
            keys = sorted(set().union(*flats))
            diff = [dict(key=k, **{(r.get("name") or r["id"]) + f" [{r['id'][-6:]}]": str(f.get(k, "—"))
                                   for r, f in zip(selected, flats)})
                    for k in keys if len({json.dumps(f.get(k), sort_keys=True, default=str) for f in flats}) > 1]
            if diff:
                st.dataframe(diff, hide_index=True, width="stretch")
            else:
                st.success("The selected runs have identical configs.")


body()
