"""Rollouts: a run's evaluation episodes as video with returns, beside the expert's data."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from laom_core.errors import LaomError
from laom_core.rundir import RunDir, load_episodes
from laom_core.viz.rollouts import episode_figure, returns_figure
from pages import common

common.page_header("Rollouts", "Evaluation episodes of a trained policy (+ decoder) in the distracting environment, "
                               "on distractor videos never seen in training. Move the frame slider to step through "
                               "the episode; the curves follow.")


def episodes_path(run: dict) -> Path:
    return RunDir(run["run_dir"]).episodes


with_rollouts = common.runs_having(episodes_path, "No run has evaluation rollouts yet. Runs write them at the end, "
                                   "when they were given an eval dataset.")


@st.cache_data(show_spinner=False, max_entries=32)
def _episodes(path: str, mtime: float) -> list[dict]:
    return load_episodes(path)


@st.cache_data(show_spinner=False, max_entries=16)
def _video_frames(path: str, mtime: float) -> np.ndarray:
    from laom_core.viz.video import read_video

    return read_video(path)


@st.cache_data(show_spinner=False, max_entries=16)
def _expert(path: str, mtime: float, traj: int, steps: int) -> dict:
    from laom_core.data.hdf5 import open_dataset

    with open_dataset(path) as ds:
        traj = traj % ds.num_trajectories
        stop = min(int(ds.lengths[traj]), steps)
        return {"obs": ds.read(traj, "obs", 0, stop), "return": ds.trajectory_return(traj), "traj": traj,
                "mean_return": float(np.mean(ds.returns)), "rewards": ds.read(traj, "rewards", 0, stop)
                if ds.has("rewards", traj) else None}


ids = [r["id"] for r in with_rollouts]
by_id = {r["id"]: r for r in with_rollouts}
run = by_id[st.selectbox("Run", ids, key="ro_run", format_func=lambda i: common.run_label(by_id[i]))]
path = episodes_path(run)
with common.guard("Rollouts"):
    episodes = _episodes(str(path), path.stat().st_mtime)
    if not episodes:
        raise LaomError("the run recorded no evaluation episodes")
    eval_data = (run.get("datasets") or {}).get("eval_data")
    expert = None
    returns = [float(e.get("return", float("nan"))) for e in episodes]
    ep_ids = list(range(len(episodes)))
    with_video = [i for i in ep_ids if episodes[i].get("video_webm") or episodes[i].get("video_mp4")]
    c1, c2, c3 = st.columns([2, 1, 1])
    ep = c1.selectbox("Episode", ep_ids, index=with_video[0] if with_video else 0, key="ro_ep",
                      format_func=lambda i: f"episode {i} · return {returns[i]:.1f}"
                                            + ("" if i in with_video else " (no video)"))
    fmt = c2.radio("Format", ["webm", "mp4"], horizontal=True, key="ro_fmt")
    c3.metric("Mean return (± std)", f"{np.nanmean(returns):.1f} ± {np.nanstd(returns):.1f}")
    episode = episodes[ep]
    rewards = episode.get("rewards") or []
    actions = episode.get("actions") or []

    if eval_data and Path(eval_data).is_file():
        try:
            expert = _expert(eval_data, Path(eval_data).stat().st_mtime, ep, max(len(rewards) + 1, 1))
        except LaomError as exc:
            st.warning(f"Expert data: {exc}")

    left, right = st.columns(2)
    frames = None
    with left:
        st.markdown(f"**Policy** · {common.method_label(run.get('method'))} · return {returns[ep]:.1f}")
        name = episode.get(f"video_{fmt}") or episode.get("video_webm") or episode.get("video_mp4")
        if name:
            video = path.parent / name
            if video.is_file():
                st.video(str(video), format="video/webm" if video.suffix == ".webm" else "video/mp4", width=384, loop=True)
                try:
                    frames = _video_frames(str(video), video.stat().st_mtime)
                except LaomError as exc:
                    st.warning(str(exc))
            else:
                st.error(f"video file {video.name} is missing from the run folder")
        else:
            st.info("No video was recorded for this episode (the run records videos of the first "
                    "`run.eval_videos` episodes).")
    with right:
        if expert is not None:
            st.markdown(f"**Expert data** · eval trajectory {expert['traj']} · return {expert['return']:.1f}")
            import hashlib

            from laom_core.workspace import cache_dir

            tag = hashlib.sha1(f"{eval_data}|{Path(eval_data).stat().st_mtime}|{expert['traj']}|{len(expert['obs'])}"
                               .encode()).hexdigest()[:16]
            expert_video = cache_dir() / "videos" / f"expert-{tag}.webm"
            if not expert_video.is_file() and st.button("Show the expert's episode as video", key="ro_expert_video",
                                                        icon=":material/movie:"):
                from laom_core.viz.video import write_video

                with st.spinner("Encoding the expert's episode…"):
                    write_video(expert["obs"], expert_video, fps=30)
            if expert_video.is_file():
                st.video(str(expert_video), format="video/webm", width=384, loop=True)
            else:
                st.caption("The eval dataset's trajectory with the same index: recorded by the data's policy "
                           "on the same kind of eval distractors.")
        else:
            st.markdown("**Expert data**")
            st.caption("The run has no eval dataset to compare with.")

    n_steps = max(len(rewards), 1)
    t = st.slider("Frame", 0, n_steps, 0, key="ro_t") if n_steps > 1 else 0
    f1, f2 = st.columns(2)
    if frames is not None and len(frames):
        f1.image(frames[min(t, len(frames) - 1)], caption=f"policy · step {t}", width=256)
    if expert is not None and len(expert["obs"]):
        f2.image(expert["obs"][min(t, len(expert["obs"]) - 1)], caption=f"expert data · step {t}", width=256)
    st.plotly_chart(episode_figure(rewards, actions, t=t,
                                   expert_rewards=expert["rewards"] if expert and expert["rewards"] is not None else None),
                    width="stretch", key="ro_curves")
    st.plotly_chart(returns_figure(returns, expert["mean_return"] if expert else None), width="stretch",
                    key="ro_returns")
