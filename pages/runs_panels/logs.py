"""Log & control tab: stop/resume one run, its log (tail or whole), log and metric downloads."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from laom_core.procs import tail
from laom_core.rundir import RunDir
from pages import common

FULL_LOG_MAX = 8 * 1024 * 1024  # bytes drawn on the page; the download has the whole file


def pick_one(selected: list[dict], key: str = "rn_log_run") -> dict:
    """The one selected run, or a picker among the selected ones."""
    if len(selected) == 1:
        return selected[0]
    pick = st.selectbox("Run", [r["id"] for r in selected], key=key,
                        format_func=lambda i: next(common.run_label(r) for r in selected if r["id"] == i))
    return next(r for r in selected if r["id"] == pick)


def control_panel(run: dict) -> None:
    if run.get("backend") not in (None, "local"):  # cluster backends
        st.caption(f"Runs on **{run['backend']}**, job `{run.get('job_id') or 'not submitted yet'}`; "
                   "its log and metrics come from the run folder on the shared filesystem.")
    b1, b2, b3, b4 = st.columns([1, 1, 1, 3])
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
        if b3.button("Run next", icon=":material/vertical_align_top:", key="rn_first",
                     disabled=run["status"] != "queued", help="start this queued run before the other queued ones"):
            value = common.store().move_to_front(run["id"])
            st.toast(f"{run.get('name')} moves to the front of the queue (priority {value})")
            st.rerun()
    b4.caption(f"Run folder: `{run.get('run_dir')}`" + (f" · priority {run['priority']}" if run.get("priority") else ""))


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _metrics_csv(store_path: str, run_id: str) -> str:
    from laom_core.runs.store import RunStore

    with RunStore(store_path) as s:  # runs on the download's own thread: its own connection
        return s.metrics_csv(run_id)


def log_panel(run: dict) -> None:
    folder = common.run_dir(run)
    path = RunDir(folder).log if folder else None
    try:
        size = path.stat().st_size if path else 0
    except OSError:
        size = 0
    short = common.short_id(run)
    store_path, run_id = str(common.store().path), run["id"]
    c1, c2, c3 = st.columns([2, 2, 3])
    whole = c1.toggle("Whole log", value=False, key="rn_log_whole",
                      help="the whole log instead of its last 60 lines")
    with c2:
        st.download_button("Log", data=lambda: _read_bytes(path) if path else b"", file_name=f"{short}-log.txt",
                           mime="text/plain", icon=":material/download:", key="rn_log_dl", on_click="ignore",
                           disabled=size == 0, help="the whole log.txt of this run")
    with c3:
        st.download_button("Metrics (CSV)", data=lambda: _metrics_csv(store_path, run_id),
                           file_name=f"{short}-metrics.csv", mime="text/csv", icon=":material/download:",
                           key="rn_csv_dl", on_click="ignore",
                           help="every logged point: run_id, stage, key, step, value, wall (seconds since the epoch)")
    if path is None or size == 0:
        st.code("(no output yet)", language=None)
        return
    if whole:
        text = tail(path, lines=None, max_bytes=FULL_LOG_MAX, last_state=True)
        if size > FULL_LOG_MAX:
            st.caption(f"The log has {size / 1e6:.1f} MB; the last {FULL_LOG_MAX / 1e6:.0f} MB are shown, "
                       f"the download has all of it.")
        lines = text.strip("\n").split("\n")
        st.caption(f"{len(lines)} lines")
        st.code("\n".join(lines), language=None, height=600)
    else:
        # tqdm redraws with carriage returns: only the last state of each line (last_state)
        st.code(tail(path, lines=60, max_bytes=16384, last_state=True) or "(no output yet)", language=None)
