"""Manage tab: rename, tags, notes, archive and delete one run (the last two confirmed)."""
from __future__ import annotations

import streamlit as st

from pages import common


def done(message: str) -> None:
    """Rerun the page to show the change; the message is shown as a toast after the rerun
    (a toast sent just before ``st.rerun`` can be lost)."""
    st.session_state["rn_flash"] = message
    st.rerun()


def show_flash() -> None:
    """The message a change left for this run of the page (see :func:`done`)."""
    message = st.session_state.pop("rn_flash", None)
    if message:
        st.toast(message)


def _confirm_box(run: dict) -> None:
    """The pending archive/delete question for this run, with its two buttons."""
    pending = st.session_state.get("rn_confirm")
    if not pending or pending.get("id") != run["id"]:
        return
    action = pending["action"]
    name = run.get("name") or run["id"]
    if action == "delete":
        keep = st.checkbox("Keep the run folder (checkpoints, latents, videos)", value=False, key="rn_delete_keep")
        st.warning(f"Delete **{name}** ({run['id']})? Its curves and store row are removed"
                   + ("" if keep else ", and its run folder with every file in it") + ". This cannot be undone.")
    else:
        keep = True
        st.warning(f"Archive **{name}**? It is hidden from this page (turn on *Show archived* to see it again); "
                   f"nothing is deleted.")
    y, n, _ = st.columns([1.4, 1, 4])
    if y.button(f"Yes, {action}", type="primary", key="rn_confirm_yes"):
        st.session_state.pop("rn_confirm", None)
        with common.guard(action.capitalize()):
            if action == "delete":
                from laom_core.runs import launcher

                launcher.delete(run["id"], remove_files=not keep, store=common.store())
                for p in ("run", "runs"):
                    st.query_params.pop(p, None)
            else:
                common.store().set_archived(run["id"], True)
            done(f"{name}: {action}d")
    if n.button("Cancel", key="rn_confirm_no"):
        st.session_state.pop("rn_confirm", None)
        st.rerun()


def manage_panel(run: dict) -> None:
    rid = run["id"]
    s = common.store()
    left, right = st.columns(2)
    with left:
        name = st.text_input("Name", value=run.get("name") or "", key=f"rn_name_{rid}", max_chars=120)
        if st.button("Rename", key="rn_rename", disabled=name.strip() == (run.get("name") or "")):
            with common.guard("Rename"):
                done(f"renamed to {s.rename_run(rid, name)}")
        tags = st.text_input("Tags (comma-separated)", value=", ".join(run.get("tags") or []), key=f"rn_tags_{rid}",
                             help="search for them in the filter above; CLI: runs tag ID TAG")
        if st.button("Save tags", key="rn_save_tags"):
            with common.guard("Tags"):
                saved = s.set_tags(rid, [t for t in tags.split(",") if t.strip()])
                done("tags: " + (", ".join(saved) or "(none)"))
    with right:
        notes = st.text_area("Notes", value=run.get("notes") or "", key=f"rn_notes_{rid}", height=122,
                             placeholder="what this run is for, what you saw")
        if st.button("Save notes", key="rn_save_notes", disabled=notes.strip() == (run.get("notes") or "")):
            with common.guard("Notes"):
                s.set_notes(rid, notes)
                done("notes saved")
    st.divider()
    a, d, info = st.columns([1.2, 1.2, 4])
    live = run["status"] in ("queued", "running")
    if run.get("archived"):
        if a.button("Unarchive", icon=":material/unarchive:", key="rn_unarchive"):
            with common.guard("Unarchive"):
                s.set_archived(rid, False)
                done(f"{run.get('name')}: back in the list")
    elif a.button("Archive…", icon=":material/archive:", key="rn_archive", disabled=live,
                  help="stop the run first" if live else "hide it from this page; nothing is deleted"):
        st.session_state["rn_confirm"] = {"action": "archive", "id": rid}
    if d.button("Delete…", icon=":material/delete:", key="rn_delete", disabled=run["status"] == "running",
                help="stop the run first" if run["status"] == "running" else "remove the run (asks first)"):
        st.session_state["rn_confirm"] = {"action": "delete", "id": rid}
    info.caption(f"id `{rid}` · created {common.fmt_time(run.get('created_at'))}"
                 + (" · archived" if run.get("archived") else ""))
    _confirm_box(run)
