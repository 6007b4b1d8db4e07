"""Artifacts tab: the run folder's files (checkpoints, latents, videos, ...) with sizes;
download of small files, videos played in place. Paths never leave the run folder."""
from __future__ import annotations

import json
import time

import streamlit as st

from laom_core.runs.artifacts import VIDEO_SUFFIXES, human_size, list_artifacts, resolve_artifact
from pages import common

DOWNLOAD_MAX = 64 * 1024 * 1024  # bytes; bigger files: copy them from the run folder
PREVIEW_MAX = 256 * 1024


def artifacts_panel(run: dict) -> None:
    folder = common.run_dir(run)
    if (folder is None or not folder.is_dir()) and run["status"] in ("queued", "running"):
        st.info("No files yet: the run folder appears when the run starts.")
        return
    with common.guard("Artifacts"):
        files = list_artifacts(run.get("run_dir"))
        if not files:
            st.info("The run folder is empty so far.")
            return
        kinds = sorted({f.kind for f in files})
        k1, k2 = st.columns([3, 2])
        wanted = k1.multiselect("Kinds", kinds, key="rn_art_kinds", placeholder="all kinds")
        shown = [f for f in files if not wanted or f.kind in wanted]
        total = sum(f.size for f in files)
        k2.caption(f"{len(files)} files · {human_size(total)} in `{run.get('run_dir')}`")
        st.dataframe([{"file": f.path, "kind": f.kind, "size": human_size(f.size),
                       "modified": time.strftime("%Y-%m-%d %H:%M", time.localtime(f.mtime))} for f in shown],
                      hide_index=True, width="stretch", height=min(320, 38 + 35 * max(1, len(shown))),
                      column_config={"file": st.column_config.TextColumn(width="large")})
        if not shown:
            return
        by_path = {f.path: f for f in shown}
        pick = st.selectbox("File", list(by_path), key="rn_art_file",
                            format_func=lambda p: f"{p} ({human_size(by_path[p].size)})")
        art = by_path[pick]
        path = resolve_artifact(run.get("run_dir"), art.path)  # refuses anything outside the folder
        if art.size <= DOWNLOAD_MAX:
            st.download_button(f"Download {path.name}", data=lambda: path.read_bytes(), file_name=path.name,
                               icon=":material/download:", key="rn_art_dl", on_click="ignore")
        else:
            st.caption(f"{human_size(art.size)}: too large to download through the page; copy `{path}`.")
        if path.suffix.lower() in VIDEO_SUFFIXES:
            st.video(str(path), format="video/webm" if path.suffix.lower() == ".webm" else "video/mp4", width=384)
        elif path.suffix.lower() in (".json", ".txt", ".log", ".yaml", ".yml", ".csv", ".jsonl") \
                and art.size <= PREVIEW_MAX:
            text = path.read_text(encoding="utf-8", errors="replace")
            if path.suffix.lower() == ".json":
                try:
                    st.json(json.loads(text), expanded=1)
                    return
                except ValueError:
                    pass
            st.code(text, language=None, height=300)
