"""Roll a policy in a (distracting) environment, many worker processes, into one HDF5 file.

Each episode i is fully determined by (seed, i): it gets its own environment seeded from
``SeedSequence(seed).spawn`` and its own policy seed, so a dataset does not depend on the
number of workers, and the first k episodes of a longer collection with the same seed are
the same k episodes. Workers (spawned processes: MuJoCo's EGL contexts and torch do not
survive fork well) each run whole episodes and send the arrays back; the parent writes
them in episode order into a temp file that is renamed onto ``out`` only when every
episode is in (``DatasetWriter``). A Ctrl-C, a crash or a failing policy therefore never
leaves a file under the final name, and an existing file is never touched unless
``overwrite``.

A trajectory of T steps stores the T observations at which actions were taken (the reset
observation first), the T raw policy actions (before the env clips them), the T states and
per-step distractor signals; ``traj_return`` is the sum of the T rewards.
"""
from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

from laom_core.data.hdf5 import DatasetWriter
from laom_core.envs import make_env
from laom_core.errors import LaomError
from laom_core.experts.loading import describe_policy_spec, load_policy
from laom_core.workspace import datasets_dir

ProgressFn = Callable[[int, int], None]
"""progress(steps_done, steps_total): called from the parent process as steps complete."""


MAX_EPISODE_STEPS = 100_000  # one episode's frames are held in memory until it is written
_PROGRESS_EVERY = 25  # steps between progress reports from workers


def default_output_name(task: str, difficulty: str, split: str, policy_label: str, episodes: int, steps: int, img_size: int, seed: int) -> str:
    policy_label = "".join(c if c.isalnum() or c in "-_" else "-" for c in policy_label)
    return f"{task}_{difficulty}_{split}_{policy_label}_{episodes}x{steps}_{img_size}px_seed{seed}.hdf5"


def episode_seeds(seed: int, episodes: int) -> list[tuple[int, int]]:
    """(env seed, policy seed) per episode, derived from the dataset seed only."""
    out = []
    for child in np.random.SeedSequence(seed).spawn(episodes):
        env_seed, policy_seed = child.generate_state(2, dtype=np.uint32)
        out.append((int(env_seed), int(policy_seed)))
    return out


# --------------------------------------------------------------------------- one episode


_POLICY_CACHE: dict[str, Any] = {}


@contextlib.contextmanager
def _defer_signals():
    """Hold Ctrl-C and SIGTERM until the block ends, then act on them as usual: MuJoCo's GL
    context objects interrupted halfway through construction print tracebacks when
    garbage-collected. Only Python-level handlers are deferred (an ignored or default
    signal keeps its behaviour)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(sig)
        if callable(handler):
            previous[sig] = handler
            signal.signal(sig, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    for sig in received[:1]:
        previous[sig](sig, None)  # raises KeyboardInterrupt / CollectionTerminated


def _make_policy(spec: Any, env: Any, seed: int) -> Any:
    if callable(spec):
        return spec(env, seed)
    if spec == "random":
        return load_policy(spec, env, seed=seed)  # fresh, seeded per episode
    key = f"{spec}|{env.domain_name}-{env.task_name}"
    if key not in _POLICY_CACHE:
        _POLICY_CACHE[key] = load_policy(spec, env, seed=seed)
    return _POLICY_CACHE[key]


def run_episode(job: dict, report: Callable[[int], None] | None = None) -> dict:
    """Collect one episode described by ``job``; returns arrays and the env's attrs."""
    with _defer_signals():
        env = make_env(
            task=job["task"],
            difficulty=job["difficulty"],
            split=job["split"],
            seed=job["env_seed"],
            img_size=job["img_size"],
            **{"max_steps": job["steps"], **job["env_kwargs"]},  # --steps past dm_control's 1000 is honoured
        )
    try:
        policy = _make_policy(job["policy"], env, job["policy_seed"])
        policy.reset()
        T = job["steps"]
        obs, actions, states = [], [], []
        signals: dict[str, list] = {}
        total = 0.0
        step = env.reset()
        since = 0
        for t in range(T):
            action = np.asarray(policy.act(step), dtype=np.float32).reshape(-1)
            if action.shape[0] != env.action_dim:
                raise LaomError(f"policy returned {action.shape[0]} action values, {env.task} needs {env.action_dim}")
            if not np.isfinite(action).all():
                raise LaomError(f"policy returned NaN or inf at step {t} of episode {job['episode']}")
            obs.append(step.pixels)
            states.append(step.state)
            actions.append(action)
            for k, v in (step.distractor or {}).items():
                signals.setdefault(k, []).append(v)
            step = env.step(action)
            total += float(step.reward)
            since += 1
            if report is not None and since >= _PROGRESS_EVERY:
                report(since)
                since = 0
            if step.last and t + 1 < T:
                break  # the task ended the episode first
        if report is not None and since:
            report(since)
        extra = {}
        for k, values in signals.items():
            arr = np.asarray(values)
            if arr.dtype.kind in "iu":
                arr = arr.astype(np.int32)
            elif arr.dtype.kind == "f":
                arr = arr.astype(np.float32)
            else:
                continue
            extra[f"distractor/{k}"] = arr
        attrs = dict(
            domain_name=env.domain_name,
            task_name=env.task_name,
            difficulty=env.difficulty,
            dynamic=bool(env.dynamic),
            img_hw=int(env.img_size),
            split=env.split,
        )
        return dict(
            episode=job["episode"],
            obs=np.stack(obs).astype(np.uint8),
            actions=np.stack(actions),
            states=np.stack(states).astype(np.float32),
            traj_return=total,
            extra=extra,
            attrs=attrs,
        )
    finally:
        env.close()


# --------------------------------------------------------------------------- workers


_LOCK_TIMEOUT_S = 5.0  # a lock held by a process that was killed must not wedge the others
_PARENT_POLL_S = 1.0


def _die_with_parent(parent_pid: int) -> None:
    """End this worker as soon as the collecting process is gone, even killed by SIGKILL.

    Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``. Everywhere: a daemon thread that polls
    ``os.getppid()`` (a worker whose parent died is re-parented) and exits the process.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # died before the above took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(_PARENT_POLL_S)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="laom-parent-watch", daemon=True).start()


def _worker_main(jobs, results, counter, parent_pid: int | None = None) -> None:
    """Worker process: run episodes from ``jobs`` until a None arrives."""
    if parent_pid is not None:
        _die_with_parent(parent_pid)
    # Ctrl-C goes to the whole process group; only the parent handles it (and stops us).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass

    def report(n: int) -> None:
        lock = counter.get_lock()
        if not lock.acquire(timeout=_LOCK_TIMEOUT_S):
            return  # progress only: a lost report is better than a wedged worker
        try:
            counter.get_obj().value += n
        finally:
            lock.release()

    while True:
        try:
            job = jobs.get(timeout=_PARENT_POLL_S)
        except queue.Empty:
            continue  # the parent watch ends us if the parent is gone
        if job is None:
            return
        try:
            results.put(("ok", job["episode"], run_episode(job, report)))
        except BaseException as exc:  # sent to the parent, which raises it
            try:
                payload = exc if isinstance(exc, LaomError) else RuntimeError(
                    f"episode {job['episode']} failed in a worker: {type(exc).__name__}: {exc}\n"
                    + traceback.format_exc()
                )
                results.put(("error", job["episode"], payload))
            finally:
                return


def _collect_parallel(jobs: list[dict], workers: int, add: Callable[[dict], None], advance: Callable[[int], None]) -> None:
    """Run ``jobs`` on ``workers`` spawned processes; ``add`` results in episode order.

    Own processes rather than multiprocessing.Pool: a pool silently respawns workers that
    crash (a segfault in the renderer would hang collection forever); here a dead worker
    is an error, and every worker is terminated on any exception or Ctrl-C.
    """
    ctx = mp.get_context("spawn")
    job_q, result_q = ctx.Queue(), ctx.Queue()
    counter = ctx.Value("q", 0)
    for job in jobs:
        job_q.put(job)
    for _ in range(workers):
        job_q.put(None)
    procs = [ctx.Process(target=_worker_main, args=(job_q, result_q, counter, os.getpid()), daemon=True)
             for _ in range(workers)]
    seen = 0
    pending: dict[int, dict] = {}
    next_episode = 0
    try:
        for p in procs:
            p.start()
        while next_episode < len(jobs):
            try:
                kind, episode, payload = result_q.get(timeout=0.25)
            except queue.Empty:
                kind = None
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead:
                    raise LaomError(f"a collection worker died (exit code {dead[0].exitcode}); no file written")
                if all(p.exitcode is not None for p in procs) and result_q.empty():
                    raise LaomError("collection workers stopped before finishing; no file written")
            value = counter.get_obj().value  # no lock: a worker killed holding it must not wedge us
            if value > seen:
                advance(value - seen)
                seen = value
            if kind == "error":
                raise payload
            if kind == "ok":
                pending[episode] = payload
                while next_episode in pending:
                    add(pending.pop(next_episode))
                    next_episode += 1
        for p in procs:
            p.join(timeout=10)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=5)
        job_q.cancel_join_thread()
        result_q.cancel_join_thread()
    value = counter.get_obj().value
    if value > seen:
        advance(value - seen)


# --------------------------------------------------------------------------- driver


class CollectionTerminated(SystemExit):
    """SIGTERM arrived during collection (the dashboard stopping a job)."""


@contextlib.contextmanager
def _sigterm_raises():
    """Turn SIGTERM into an exception while collecting, so the temp file is removed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise CollectionTerminated(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def recorded_env_options(env_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The make_env overrides a file records (not the episode length: evaluation sets its own)."""
    from laom_core.envs.suite import OVERRIDES

    return {k: v for k, v in env_kwargs.items() if k in OVERRIDES and k != "max_steps"}


def collect_dataset(
    task: str,
    difficulty: str,
    split: str,
    policy_spec: Any,
    episodes: int,
    steps: int,
    img_size: int = 64,
    workers: int = 1,
    seed: int = 0,
    out: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
    show_progress: bool = False,
    **env_kwargs: Any,
) -> Path:
    """Collect ``episodes`` episodes of ``steps`` steps into ``out``; returns the path.

    ``policy_spec`` is "random", "expert", a released PPO folder, or (from Python) a
    picklable callable ``(env, seed) -> Policy``. ``env_kwargs`` go to ``make_env``
    (``fast_render``, ``video_source``, ``dynamic``, ``camera_id``, overrides).
    ``progress(steps_done, steps_total)`` is called in this process; ``show_progress``
    draws a tqdm bar with ETA on stderr.
    """
    if int(episodes) < 1:
        raise LaomError(f"--episodes must be >= 1, got {episodes}")
    if not 1 <= int(steps) <= MAX_EPISODE_STEPS:
        raise LaomError(f"--steps must be in 1..{MAX_EPISODE_STEPS} (steps per episode), got {steps}")
    if int(workers) < 1:
        raise LaomError(f"--workers must be >= 1, got {workers}")
    episodes, steps, workers, seed = int(episodes), int(steps), min(int(workers), int(episodes)), int(seed)
    if seed < 0:
        raise LaomError(f"--seed must be >= 0, got {seed}")
    video_source = env_kwargs.get("video_source")
    if video_source is not None and not isinstance(video_source, str):
        raise LaomError("video_source must be a spec string (builtin, davis:PATH or a folder) to reach worker processes")

    # Check the task and options (and that the policy fits) before any long work.

    with _defer_signals():
        probe = make_env(task=task, difficulty=difficulty, split=split, seed=seed, img_size=img_size, **env_kwargs)
    try:
        task = probe.task
        if not callable(policy_spec):
            load_policy(str(policy_spec), probe, seed=seed)
            label = describe_policy_spec(str(policy_spec))
        else:
            label = getattr(policy_spec, "__name__", "custom")
    finally:
        probe.close()

    if out is None:
        out = datasets_dir() / default_output_name(task, difficulty, split, label, episodes, steps, img_size, seed)
    out = Path(out).expanduser().resolve()
    if out.exists() and not overwrite:
        raise LaomError(f"{out} exists; refusing to overwrite (use --overwrite)")

    seeds = episode_seeds(seed, episodes)
    jobs = [
        dict(
            episode=i,
            task=task,
            difficulty=difficulty,
            split=split,
            img_size=img_size,
            steps=steps,
            env_seed=env_seed,
            policy_seed=policy_seed,
            policy=policy_spec,
            env_kwargs=dict(env_kwargs),
        )
        for i, (env_seed, policy_seed) in enumerate(seeds)
    ]
    total_steps = episodes * steps
    bar = None
    if show_progress:
        from tqdm import tqdm

        bar = tqdm(total=total_steps, unit="step", desc=f"collect {task}", file=sys.stderr, dynamic_ncols=True)
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if bar is not None:
            bar.update(n)
        if progress is not None:
            progress(min(done, total_steps), total_steps)

    file_attrs: dict[str, Any] = {
        "collect_policy": label,
        "collect_seed": seed,
        "collect_steps": steps,
        # ours: evaluation renders the same way as the data (shadows/reflections or not)
        "collect_fast_render": bool(env_kwargs.get("fast_render", False)),
        # options on top of the difficulty (e.g. camera_scale=0): evaluation rebuilds the same env
        "collect_env_options": json.dumps(recorded_env_options(env_kwargs), sort_keys=True),
    }
    try:
        with _sigterm_raises(), DatasetWriter(out, {}, overwrite=overwrite) as writer:

            def add(result: dict) -> None:
                if writer.num_trajectories == 0:
                    writer.attrs.update(result["attrs"])
                    writer.attrs.update(file_attrs)
                writer.add_trajectory(result["obs"], result["actions"], result["states"], result["traj_return"], extra=result["extra"])

            if workers == 1:
                for job in jobs:
                    add(run_episode(job, advance))
            else:
                _collect_parallel(jobs, workers, add, advance)
    finally:
        if bar is not None:
            bar.close()
    if progress is not None and done < total_steps:
        progress(total_steps, total_steps)  # episodes that ended early
    return out


__all__ = ["collect_dataset", "default_output_name", "episode_seeds", "run_episode"]
