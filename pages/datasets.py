"""Datasets & distractors: browse HDF5 datasets, compare distractor levels, collect, subset."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from laom_core.data import catalog
from laom_core.errors import LaomError
from laom_core.workspace import cache_dir
from pages import common

common.page_header("Datasets & distractors",
                   "HDF5 datasets in the released layout, the distractor clip library, and background jobs that "
                   "collect new data or sample labeled subsets.")

DATA_DIR = common.datasets_folder()

TASKS = ("cheetah-run", "walker-run", "hopper-hop", "humanoid-walk", "cartpole-swingup", "reacher-easy")
DIFFICULTIES = ("vanilla", "easy", "medium", "hard", "scale_easy_video_hard")


def dataset_files() -> list[Path]:
    return catalog.dataset_files(DATA_DIR)


@st.cache_data(show_spinner=False, max_entries=256)
def _info(path: str, mtime: float, size: int) -> dict:
    """Validated summary of one file, cached by path, mtime and size (raises LaomError)."""
    from laom_core.data.hdf5 import validate_dataset

    return validate_dataset(path).to_dict()


def dataset_info(path: Path) -> dict:
    st_ = path.stat()
    return _info(str(path), st_.st_mtime, st_.st_size)


@st.cache_data(show_spinner=False, max_entries=64)
def _returns(path: str, mtime: float) -> np.ndarray:
    from laom_core.data.hdf5 import open_dataset

    with open_dataset(path) as ds:
        return np.asarray(ds.returns, dtype=np.float64)


@st.cache_data(show_spinner=False, max_entries=32)
def _trajectory(path: str, mtime: float, traj: int) -> dict:
    from laom_core.data.hdf5 import open_dataset

    with open_dataset(path) as ds:
        if not 0 <= traj < ds.num_trajectories:
            raise LaomError(f"trajectory {traj} is out of range (0..{ds.num_trajectories - 1})")
        return {"obs": ds.read(traj, "obs"), "actions": ds.read(traj, "actions"),
                "return": ds.trajectory_return(traj)}


def job_panel(kind: str, title: str) -> None:
    """Live status of this kind's background jobs (refreshes every 2 s while one runs)."""
    from laom_core import jobs

    @st.fragment(run_every=2)
    def _panel() -> None:
        recent = jobs.list_jobs(kind)[:5]
        running = {job.id for job in recent if job.state == "running"}
        seen_key = f"_running_jobs_{kind}"
        ended = set(st.session_state.get(seen_key, ())) - running
        st.session_state[seen_key] = sorted(running)
        if ended:  # a job finished: rerun the whole page so what it made (clips, files) shows
            st.rerun()
        if not recent:
            return
        st.markdown(f"**{title}**")
        for job in recent:
            icon = {"running": "▶", "finished": "✓", "failed": "✗", "stopped": "■"}[job.state]
            frac = job.progress if job.progress is not None else 0.0
            st.progress(frac, text=f"{icon} {job.label}: {job.state}"
                        + (f" · {job.progress_text[:120]}" if job.state == "running" and job.progress_text else ""))
            if job.state == "failed":
                st.error("\n".join(job.log_tail.strip().splitlines()[-3:]) or "the job failed")
            if job.state == "running" and st.button("Stop", key=f"stop-{job.id}"):
                jobs.stop_job(job.id)
                st.rerun()

    _panel()


tab_list, tab_compare, tab_clips, tab_collect, tab_subset = st.tabs(
    [":material/folder_open: Datasets", ":material/compare: Vanilla vs distracted", ":material/movie: Distractor clips",
     ":material/add_circle: Collect", ":material/label: Labeled subset"])

# ------------------------------------------------------------------------- datasets
with tab_list:
    files = dataset_files()
    extra = st.text_input("Open another file (path to an HDF5 dataset)", key="ds_extra_path",
                          placeholder="/path/to/cheetah_run_scale_easy_video_hard.hdf5")
    if extra:
        try:
            from laom_core.workspace import resolve_user_path

            files = [resolve_user_path(extra, must_exist=True, kind="file")] + files
        except LaomError as exc:
            st.error(str(exc))
    if not files:
        st.info(f"No datasets yet. Collect one on the **Collect** tab, or copy HDF5 files into `{DATA_DIR}`.")
    else:
        rows, infos, problems = [], {}, []
        for path in files:
            try:
                info = dataset_info(path)
            except LaomError as exc:
                problems.append(f"{path.name}: {exc}")
                continue
            except OSError as exc:
                problems.append(f"{path.name}: {exc}")
                continue
            infos[str(path)] = info
            rows.append({
                "file": path.name, "task": info["task"], "difficulty": info["difficulty"],
                "dynamic": info["dynamic"], "split": info["split"], "trajectories": info["num_trajectories"],
                "steps": info["total_steps"], "img": info["img_hw"], "mean return": round(info["mean_return"], 1),
                "labeled subset": info["labeled_subset"], "distractor signals": ", ".join(info["distractor_signals"]),
                "MB": round(info["size_bytes"] / 2**20, 1),
            })
        for p in problems:
            st.error(p)
        if rows:
            st.dataframe(rows, hide_index=True, width="stretch")
            names = list(infos)
            biggest = max(range(len(names)), key=lambda i: infos[names[i]]["total_steps"])
            chosen = st.selectbox("Inspect", names, index=biggest, format_func=lambda p: Path(p).name, key="ds_inspect")
            info = infos[chosen]
            mtime = Path(chosen).stat().st_mtime
            left, right = st.columns([2, 3])
            with left:
                st.markdown(f"**{Path(chosen).name}** · {info['task']} · {info['difficulty']}"
                            f"{' (dynamic)' if info['dynamic'] else ''} · split `{info['split']}`")
                st.caption(f"action dim {info['action_dim']}, state dim {info['state_dim']}, "
                           f"lengths {info['min_length']}–{info['max_length']}, dataset_return {info['dataset_return']:.1f}")
                for w in info.get("warnings", []):
                    st.warning(w)
                with common.guard("Returns"):
                    returns = _returns(chosen, mtime)
                    fig = go.Figure(go.Histogram(x=returns, nbinsx=min(30, max(5, len(returns))),
                                                 marker_color="#2b6cb0"))
                    fig.update_layout(height=240, margin=dict(l=10, r=10, t=30, b=10), template="plotly_white",
                                      title=dict(text="Trajectory returns", font=dict(size=13)),
                                      xaxis_title="return", yaxis_title="trajectories")
                    st.plotly_chart(fig, width="stretch", key="ds_returns")
            with right:
                with common.guard("Trajectory"):
                    n = info["num_trajectories"]
                    traj = int(st.number_input("Trajectory", 0, max(0, n - 1), 0, key="ds_traj"))
                    data = _trajectory(chosen, mtime, traj)
                    obs = data["obs"]
                    frame = st.slider("Frame", 0, len(obs) - 1, 0, key="ds_frame") if len(obs) > 1 else 0
                    c1, c2 = st.columns([1, 1])
                    c1.image(obs[frame], caption=f"step {frame} / {len(obs) - 1} · return {data['return']:.1f}",
                             width=256)
                    acts = data["actions"]
                    fig = go.Figure([go.Scatter(y=acts[:, d], mode="lines", name=f"a{d}", line=dict(width=1))
                                     for d in range(acts.shape[1])])
                    fig.add_vline(x=frame, line_color="black", line_dash="dot")
                    fig.update_layout(height=250, margin=dict(l=10, r=10, t=30, b=10), template="plotly_white",
                                      title=dict(text="Actions", font=dict(size=13)), showlegend=False)
                    c2.plotly_chart(fig, width="stretch", key="ds_actions")
                    out = cache_dir() / "videos" / f"{Path(chosen).stem}-{int(mtime)}-{traj}.webm"
                    if not out.exists() and st.button("Play as video", key="ds_play", icon=":material/movie:"):
                        from laom_core.viz.video import write_video

                        with st.spinner("Encoding…"):
                            write_video(obs, out, fps=30)
                    if out.exists():
                        st.video(str(out), format="video/webm")

# ------------------------------------------------------------------------- compare
with tab_compare:
    st.markdown("The same episode (same seed, same random actions) rendered without distractors and with the "
                "chosen difficulty, side by side.")
    with st.form("compare_form"):
        c1, c2, c3, c4 = st.columns(4)
        task = c1.selectbox("Task", TASKS, key="cmp_task")
        difficulty = c2.selectbox("Difficulty", DIFFICULTIES[1:], index=3, key="cmp_difficulty")
        seed = c3.number_input("Seed", 0, 10**6, 0, key="cmp_seed")
        steps = c4.slider("Steps", 10, 200, 60, key="cmp_steps")
        go_compare = st.form_submit_button("Render")

    @st.cache_data(show_spinner=False, max_entries=8)
    def _render_pair(task: str, difficulty: str, seed: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
        from laom_core.envs import make_env

        out = []
        actions = None
        for diff in ("vanilla", difficulty):
            env = make_env(task=task, difficulty=diff, split="train", seed=seed, img_size=64, fast_render=True)
            try:
                if actions is None:
                    rng = np.random.default_rng(seed)
                    actions = rng.uniform(env.action_low, env.action_high, size=(steps, env.action_dim))
                frames = [env.reset().pixels]
                for a in actions[: steps - 1]:
                    frames.append(env.step(a).pixels)
                out.append(np.stack(frames))
            finally:
                env.close()
        return out[0], out[1]

    if go_compare or st.session_state.get("cmp_done"):
        with common.guard("Render"):
            with st.spinner("Rendering both episodes…"):
                vanilla, distracted = _render_pair(task, difficulty, int(seed), int(steps))
            st.session_state["cmp_done"] = True
            t = st.slider("Frame", 0, len(vanilla) - 1, 0, key="cmp_frame")
            c1, c2 = st.columns(2)
            c1.image(vanilla[t], caption="vanilla", width=256)
            c2.image(distracted[t], caption=difficulty, width=256)

# ------------------------------------------------------------------------- clips
with tab_clips:
    c1, c2 = st.columns([1, 2])
    kind = c1.radio("Source", ["built-in", "DAVIS 2017 folder", "folder of videos"], key="clip_kind")
    spec = "builtin"
    if kind != "built-in":
        folder = c2.text_input("Folder", key="clip_folder",
                               placeholder="/data/DAVIS" if kind.startswith("DAVIS") else "/data/my_videos")
        spec = (("davis:" if kind.startswith("DAVIS") else "folder:") + folder) if folder else None

    def _clip_stamp(source, split: str) -> tuple:
        """What the thumbnails of ``split`` depend on: each built-in clip file's mtime (None
        while not generated), else the folder's mtime (files added or removed)."""
        from laom_core.envs import builtin_clips
        from laom_core.envs.videos import BuiltinSource

        if isinstance(source, BuiltinSource):
            stamps = []
            for clip_spec in source.specs:
                if clip_spec.split != split:
                    continue
                try:
                    stamps.append(builtin_clips.clip_path(clip_spec, source.folder).stat().st_mtime_ns)
                except OSError:
                    stamps.append(None)
            return tuple(stamps)
        root = getattr(source, "root", None) or getattr(source, "frames_root", None)
        try:
            return (Path(root).stat().st_mtime_ns,) if root else ()
        except OSError:
            return ()

    @st.cache_data(show_spinner=False, max_entries=16)
    def _thumbs(spec: str, split: str, limit: int, stamp: tuple) -> list[tuple[str, np.ndarray | None]]:
        """First frames of the first ``limit`` clips; ``stamp`` (:func:`_clip_stamp`) keys the cache."""
        from laom_core.envs.videos import BuiltinSource, resolve_video_source

        source = resolve_video_source(spec)
        clips = source.clips(split)
        cached = None
        if isinstance(source, BuiltinSource):
            missing = {s.name for s in source.missing()}
            cached = lambda c: c.name not in missing  # noqa: E731
        out = []
        for clip in clips[:limit]:
            if cached is not None and not cached(clip):
                out.append((clip.name, None))
                continue
            frames = clip.frames
            out.append((clip.name, frames[0]))
            clip.release()
        return out

    if spec is None:
        st.info("Enter a folder to list its clips.")
    else:
        with common.guard("Clip library"):
            from laom_core.envs.videos import BuiltinSource, resolve_video_source

            source = resolve_video_source(spec)
            st.caption(source.describe())
            if isinstance(source, BuiltinSource):
                missing = source.missing()
                if missing:
                    st.warning(f"{len(missing)} of {len(source.specs)} built-in clips are not generated yet.")
                    if st.button("Generate built-in clips", key="gen_clips"):
                        from laom_core import jobs

                        jobs.start_job("clips", [sys.executable, "-m", "laom_core", "clips", "generate"],
                                       label="generate built-in clips", key="clips:builtin")
                        st.rerun()
                job_panel("clips", "Clip generation")
            limit = st.slider("Thumbnails per split", 4, 60, 12, key="clip_limit")
            for split in ("train", "eval"):
                thumbs = _thumbs(spec, split, limit, _clip_stamp(source, split))
                total = len(source.clips(split))
                st.markdown(f"**{split}** split: {total} clips"
                            + (" (evaluation only, never seen in training)" if split == "eval" else ""))
                cols = st.columns(6)
                for i, (name, frame) in enumerate(thumbs):
                    with cols[i % 6]:
                        if frame is None:
                            st.caption(f"{name} (not generated)")
                        else:
                            st.image(frame, caption=name, width="stretch")

# ------------------------------------------------------------------------- collect
with tab_collect:
    st.markdown("Roll a policy in the distracting environment and write an HDF5 dataset in the released layout. "
                "The job runs in the background; its progress shows below.")
    with st.form("collect_form"):
        c1, c2, c3 = st.columns(3)
        c_task = c1.selectbox("Task", TASKS, key="col_task")
        c_diff = c2.selectbox("Difficulty", DIFFICULTIES, index=4, key="col_difficulty")
        c_split = c3.selectbox("Video split", ("train", "eval"), key="col_split")
        c4, c5, c6, c7 = st.columns(4)
        c_policy = c4.text_input("Policy", "expert", key="col_policy",
                                 help="'expert' (shipped), 'random', or a released PPO folder")
        c_eps = c5.number_input("Episodes", 1, 100000, 10, key="col_episodes")
        c_steps = c6.number_input("Steps per episode", 1, 1000, 1000, key="col_steps")
        c_workers = c7.number_input("Workers", 1, 64, 1, key="col_workers")
        c8, c9, c10 = st.columns(3)
        c_seed = c8.number_input("Seed", 0, 10**6, 0, key="col_seed")
        c_source = c9.text_input("Distractor videos", "builtin", key="col_source",
                                 help="builtin, davis:PATH or a folder")
        c_name = c10.text_input("File name (optional)", "", key="col_name")
        c11, c12 = st.columns([1, 2])
        c_img = c11.number_input("Image size (pixels)", 16, 512, 64, step=8, key="col_img_size",
                                 help="observations are square, img-size × img-size (the paper uses 64)")
        c_fast = c12.checkbox("Fast renderer (no shadows or reflections)", value=False, key="col_fast_render",
                              help="as --fast-render: renders faster, looks a little flatter")
        submitted = st.form_submit_button("Start collection", type="primary")
    if submitted:
        with common.guard("Collection"):
            from laom_core import jobs

            out = None
            if c_name.strip():
                name = c_name.strip()
                if "/" in name or name.startswith("."):
                    raise LaomError("the file name must be a plain name (it goes into the workspace's datasets folder)")
                out = DATA_DIR / (name if name.endswith((".h5", ".hdf5")) else name + ".hdf5")
            argv = [sys.executable, "-m", "laom_core", "collect", "--task", c_task, "--difficulty", c_diff,
                    "--split", c_split, "--policy", c_policy.strip(), "--episodes", str(int(c_eps)),
                    "--steps", str(int(c_steps)), "--workers", str(int(c_workers)), "--seed", str(int(c_seed)),
                    "--img-size", str(int(c_img)), "--video-source", c_source.strip() or "builtin"]
            if c_fast:
                argv.append("--fast-render")
            if out is not None:
                argv += ["--out", str(out)]
            key = "collect:" + "|".join(argv[3:])
            jobs.start_job("collect", argv, label=f"collect {c_task} {c_diff} ({int(c_eps)} episodes)", key=key)
            st.success("Collection started.")
            st.code(" ".join(argv[1:]), language="bash")
    job_panel("collect", "Collection jobs")

# ------------------------------------------------------------------------- subset
with tab_subset:
    st.markdown("Sample a small labeled subset (chunks of consecutive steps with their true actions) from a "
                "dataset, like the released 2…128-trajectory subsets.")
    files = dataset_files()
    if not files:
        st.info("No datasets to sample from yet.")
    else:
        with st.form("subset_form"):
            src = st.selectbox("Source dataset", [str(p) for p in files], format_func=lambda p: Path(p).name,
                               key="sub_src")
            c1, c2, c3 = st.columns(3)
            n_traj = c1.number_input("Trajectories (chunks)", 1, 100000, 8, key="sub_n")
            chunk = c2.number_input("Chunk size (steps)", 2, 100000, 1000, key="sub_chunk")
            s_seed = c3.number_input("Seed", 0, 10**6, 0, key="sub_seed")
            go_subset = st.form_submit_button("Sample subset", type="primary")
        if go_subset:
            with common.guard("Labeled subset"):
                from laom_core import jobs

                out = catalog.subset_path(src, int(n_traj), int(chunk), int(s_seed))
                if out.exists():
                    raise LaomError(f"this subset exists already: {out.name}")
                argv = jobs.call_argv("labeled_subset", source=str(src), trajectories=int(n_traj),
                                      chunk_size=int(chunk), seed=int(s_seed))
                jobs.start_job("subset", argv, label=f"subset {out.name}", key=f"subset:{out}")
                st.success(f"Sampling {out.name} in the background.")
        job_panel("subset", "Subset jobs")
