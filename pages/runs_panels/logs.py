"""Log & control tab: stop/resume one run and show its log."""
from __future__ import annotations

import streamlit as st

from laom_core.analysis.progress import _tail
from pages import common


def pick_one(selected: list[dict], key: str = "rn_log_run") -> dict:
    """The one selected run, or a picker among the selected ones."""
    if len(selected) == 1:
        return selected[0]
    pick = st.selectbox("Run", [r["id"] for r in selected], key=key,
                        format_func=lambda i: next(common.run_label(r) for r in selected if r["id"] == i))
    return next(r for r in selected if r["id"] == pick)


def control_panel(run: dict) -> None:
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


def log_panel(run: dict) -> None:
    folder = common.run_dir(run)
    text = _tail(folder / "log.txt", 16384) if folder else ""
    # tqdm redraws with carriage returns: keep only the last state of each line.
    lines = [ln.split("\r")[-1] for ln in text.splitlines()][-60:]
    st.code("\n".join(lines) or "(no output yet)", language=None)
