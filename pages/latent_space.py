"""Latent space: UMAP of a run's saved latent actions, coloured by any signal; frames behind a selection."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import streamlit as st

from laom_core.rundir import RunDir, load_leakage, load_probe
from laom_core.viz.latent import CATEGORICAL, color_options, color_values, leakage_bars, probe_bars, scatter_map
from pages import common

common.page_header("Latent space", "Each point is one held-out transition's latent action, mapped to 2-D "
                                   "(PCA to 50 dims, then UMAP). Colour it by the true action to see whether the "
                                   "latent space encodes the agent, or by a distractor to see whether it encodes "
                                   "the background. Draw a lasso or box to see the frames behind the points.")


def latents_path(run: dict) -> Path:
    return RunDir(run["run_dir"]).latents


with_latents = common.runs_having(latents_path, "No run has saved latent actions yet. LAPO, LAOM and "
                                  "LAOM+supervision runs write them when their first stage (the latent action "
                                  "model) finishes.")


@st.cache_data(show_spinner=False, max_entries=16)
def _columns(path: str, mtime: float) -> dict:
    """Every array of the latents file but the latents themselves (those stay on disk)."""
    from laom_core.analysis.latents_file import open_latents

    return open_latents(path).columns


@st.cache_data(show_spinner=False, max_entries=16)
def _quick_preview(path: str, mtime: float) -> tuple[np.ndarray, np.ndarray]:
    from laom_core.analysis.latents_file import open_latents
    from laom_core.analysis.umap import quick_preview

    return quick_preview(open_latents(path))


@st.cache_data(show_spinner=False, max_entries=64)
def _frames(data_path: str, mtime: float, pairs: tuple[tuple[int, int], ...]) -> np.ndarray:
    from laom_core.data.hdf5 import open_dataset

    with open_dataset(data_path) as ds:
        return np.stack([ds.read(int(t), "obs", int(s), int(s) + 1)[0] for t, s in pairs])


def embedding_for(run: dict) -> tuple[np.ndarray, np.ndarray, dict | None, str]:
    """(2-D points, their rows in the latents file, the UMAP file's arrays or None, what
    the points are). Refines over reruns: a PCA of a sample of rows at once, the job's PCA
    of every row when written, then the UMAP of every row. Starts the UMAP job if needed."""
    from laom_core import jobs
    from laom_core.analysis import umap as umap_mod

    path = latents_path(run)
    emb = umap_mod.load_embedding(path)
    if emb is not None:
        return emb["embedding"], emb["index"], emb, f"UMAP of all {len(emb['index']):,} points"
    job_id = umap_mod.start_embedding(path)  # idempotent: one job per latents file
    status = jobs.job_status(job_id)
    if status.state in ("failed", "stopped"):
        tail = "\n".join(status.log_tail.strip().splitlines()[-3:])
        st.error(f"UMAP {status.state} for {run.get('name')}: {tail}")
        if st.button("Retry UMAP", key=f"ls_retry_{run['id']}"):
            umap_mod.start_embedding(path, retry=True)
            st.rerun()
    preview = umap_mod.load_preview(path)
    if preview is not None:
        index = np.arange(len(preview))
        kind = f"PCA of all {len(preview):,} points"
    else:
        st.session_state.setdefault("ls_wait_preview", set()).add(str(umap_mod.preview_path(path)))
        index, preview = _quick_preview(str(path), path.stat().st_mtime)
        kind = f"PCA of {len(index):,} sampled points"
    if status.state not in ("failed", "stopped"):
        st.progress(status.progress or 0.0, text=f"UMAP of every point in the background: "
                                                  f"{status.progress_text or 'starting'} (showing the {kind} meanwhile)")
    return preview, index, None, kind


def run_panel(run: dict, slot: str) -> dict | None:
    """The map of one run with colour choice and selection; returns its probe.json (or None)."""
    path = latents_path(run)
    columns = _columns(str(path), path.stat().st_mtime)
    xy, index, emb, kind = embedding_for(run)
    view = {k: v[index] for k, v in columns.items() if getattr(v, "ndim", 0) >= 1}
    if emb is not None and "probe_error" in emb:
        view["probe_error"] = emb["probe_error"]
    options = color_options(view, has_probe_error="probe_error" in view)
    if not options:
        st.warning("The latents file has nothing to colour by (no actions, states or steps).")
        return None
    labels = list(options)
    default = labels.index("action dim 0") if "action dim 0" in labels else 0
    choice = st.selectbox("Colour by", labels, index=default, key=f"ls_color_{slot}")
    values = color_values(view, options[choice])
    hover = None
    if "traj" in view and "step" in view:
        hover = [f"traj {t} · step {s} · {choice} {v:.3g}" for t, s, v in zip(view["traj"], view["step"], values)]
    fig = scatter_map(xy, values, color_name=choice.split(" (")[0], categorical=options[choice][0] in CATEGORICAL,
                      title=f"{run.get('name')} [{common.short_id(run)}] · {common.method_label(run.get('method'))} · {kind}",
                      hover=hover)
    event = st.plotly_chart(fig, width="stretch", key=f"ls_map_{slot}_{run['id']}", on_select="rerun",
                            selection_mode=("box", "lasso", "points"))
    points = list(event.selection.point_indices) if event and event.selection else []
    if points:
        show_frames(run, view, points)
    else:
        st.caption("Tip: pick the lasso or box tool in the chart's toolbar and circle points to see their frames.")
    probe = load_probe(run["run_dir"])
    if probe is None:
        return None
    # The three named probes (README "probes"): which question each number answers.
    shown = [("Probe MSE, clip-seen (held-out episodes, training clips)", "probe_clip_seen", "chance_clip_seen"),
             ("Probe MSE, clip-unseen (eval clips)", "probe_clip_unseen", "chance_clip_unseen"),
             ("Probe MSE, all held-out trajectories", "held_out_probe_mse", "chance_mse")]
    columns = st.columns(len(shown))
    for column, (label, key, chance_key) in zip(columns, shown):
        mse, chance = probe.get(key), probe.get(chance_key)
        if mse is not None:
            column.metric(label, f"{mse:.4f}", **common.chance_badge(mse, chance))
    return probe


def show_frames(run: dict, view: dict, points: list[int]) -> None:
    if "obs_index" not in view:
        st.info("This latents file has no obs_index: frames cannot be looked up.")
        return
    data = (run.get("datasets") or {}).get("data")
    if not data or not Path(data).is_file():
        st.warning(f"The run's dataset {data!r} is not there any more: cannot show frames.")
        return
    chosen = sorted(set(int(p) for p in points if 0 <= int(p) < len(view["obs_index"])))[:24]
    pairs = tuple((int(view["obs_index"][p][0]), int(view["obs_index"][p][1])) for p in chosen)
    with common.guard("Frames"):
        frames = _frames(data, Path(data).stat().st_mtime, pairs)
        st.markdown(f"**{len(points)} selected** (showing {len(chosen)})")
        cols = st.columns(8)
        for i, (frame, (t, s)) in enumerate(zip(frames, pairs)):
            cols[i % 8].image(frame, caption=f"traj {t} · step {s}", width="stretch")


ids = [r["id"] for r in with_latents]
by_id = {r["id"]: r for r in with_latents}
compare = st.toggle("Two runs side by side", value=len(with_latents) > 1, key="ls_compare")
probes: dict[str, dict] = {}
if compare and len(with_latents) > 1:
    left, right = st.columns(2)
    with left:
        a = st.selectbox("Run A", ids, index=0, key="ls_run_a", format_func=lambda i: common.run_label(by_id[i]))
    with right:
        b = st.selectbox("Run B", ids, index=1, key="ls_run_b", format_func=lambda i: common.run_label(by_id[i]))
    names = common.display_names([by_id[a], by_id[b]] if a != b else [by_id[a]])  # same names: short ids
    with left:
        with common.guard(by_id[a].get("name", a)):
            probes[names[a]] = run_panel(by_id[a], "a")
    with right:
        with common.guard(by_id[b].get("name", b)):
            probes[names[b] + (" (B)" if a == b else "")] = run_panel(by_id[b], "b")
else:
    a = st.selectbox("Run", ids, index=0, key="ls_run_a", format_func=lambda i: common.run_label(by_id[i]))
    with common.guard(by_id[a].get("name", a)):
        probes[by_id[a].get("name") or a] = run_panel(by_id[a], "a")

shown_runs = [by_id[a]] + ([by_id[b]] if compare and len(with_latents) > 1 else [])
shown_names = common.display_names(list({r["id"]: r for r in shown_runs}.values()))
probes = {k: v for k, v in probes.items() if v and v.get("per_dim")}
if probes:
    st.plotly_chart(probe_bars(probes), width="stretch", key="ls_probe_bars")

figures, reasons = {}, []
for r in shown_runs:
    data = load_leakage(r["run_dir"])
    if data and data.get("available") and data.get("figures"):
        figures[shown_names[r["id"]]] = data["figures"]
    elif data and data.get("reason"):
        reasons.append(f"{r.get('name')}: {data['reason']}")
if figures:
    st.plotly_chart(leakage_bars(figures), width="stretch", key="ls_leakage")
    st.caption("Leakage = share of what the latent action linearly explains that is distractor rather than "
               "agent action (0: only the action, 1: only distractors); see laom_core/training/leakage.py.")
for reason in reasons:
    st.caption(f"Distractor leakage not available for {reason}")


@st.fragment(run_every=2)
def _poll_umap() -> None:
    """Rerun the page when a refinement is ready: the PCA of every point a background job
    writes first, or the UMAP once that job has finished."""
    from laom_core import jobs

    waiting = st.session_state.setdefault("ls_wait_preview", set())
    ready = {p for p in waiting if Path(p).is_file()}
    pending = st.session_state.setdefault("ls_pending", set())
    running = {j.id for j in jobs.list_jobs("umap") if j.state == "running"}
    st.session_state["ls_pending"] = running
    if ready or pending - running:
        st.session_state["ls_wait_preview"] = waiting - ready
        st.rerun()


_poll_umap()
