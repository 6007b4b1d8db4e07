"""Collection: layout and attrs, raw actions, determinism across worker counts, atomicity
under failures and Ctrl-C, CLI exit codes."""
from __future__ import annotations

import json

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from laom_core.cli import main
from laom_core.collect import collect_dataset
from laom_core.data.hdf5 import open_dataset, validate_dataset
from laom_core.errors import LaomError

REPO = Path(__file__).resolve().parents[1]
SMALL = dict(task="cheetah-run", split="train", img_size=32, seed=3, fast_render=True)


class WidePolicy:
    """Deterministic actions up to 3x outside the bounds (the env clips; the file must not)."""

    def __init__(self, env, seed):
        self.rng = np.random.default_rng(seed)
        self.dim = env.action_dim

    def reset(self):
        pass

    def act(self, step):
        return self.rng.uniform(-3, 3, size=self.dim).astype(np.float32)


def wide_policy(env, seed):
    return WidePolicy(env, seed)


class FailingPolicy(WidePolicy):
    calls = 0

    def act(self, step):
        FailingPolicy.calls += 1
        if FailingPolicy.calls > 30:  # in the second episode
            raise RuntimeError("policy exploded")
        return super().act(step)


def failing_policy(env, seed):
    return FailingPolicy(env, seed)


def test_collect_layout_raw_actions_and_workers(tmp_path):
    seen = []
    out1 = collect_dataset(policy_spec=wide_policy, difficulty="easy", episodes=2, steps=20, workers=1,
                           out=tmp_path / "w1.hdf5", progress=lambda d, t: seen.append((d, t)), **SMALL)
    info = validate_dataset(out1, require_equal_lengths=True)
    assert (info.task, info.difficulty, info.split, info.img_hw, info.dynamic) == ("cheetah-run", "easy", "train", 32, True)
    assert (info.num_trajectories, info.min_length, info.action_dim, info.state_dim) == (2, 20, 6, 17)
    assert info.distractor_signals == ["camera", "clip_id", "color", "frame_index"]
    assert seen[-1] == (40, 40) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    with open_dataset(out1) as ds:
        acts = ds.read(0, "actions")
        assert np.abs(acts).max() > 1.5  # raw policy output, not clipped
        assert ds.attrs["dataset_return"] == pytest.approx(np.mean(ds.returns))
        assert ds.read(0, "obs").shape == (20, 32, 32, 3)
        assert ds.read(1, "distractor/camera").shape[0] == 20
        frames = ds.read(0, "distractor/frame_index")
        assert len(set(frames.tolist())) > 1  # background video plays
        assert len(set(ds.read(0, "distractor/clip_id").tolist())) == 1  # one clip per episode
        assert not np.array_equal(ds.read(0, "obs"), ds.read(1, "obs"))
    # The same seed gives the same file whatever the number of workers.
    out2 = collect_dataset(policy_spec=wide_policy, difficulty="easy", episodes=2, steps=20, workers=2,
                           out=tmp_path / "w2.hdf5", **SMALL)
    with open_dataset(out1) as a, open_dataset(out2) as b:
        for i in range(2):
            for key in ("obs", "actions", "states", "distractor/camera", "distractor/frame_index"):
                np.testing.assert_array_equal(a.read(i, key), b.read(i, key))
            assert a.trajectory_return(i) == b.trajectory_return(i)


def test_failing_policy_leaves_no_file_and_keeps_existing(tmp_path):
    out = tmp_path / "d.hdf5"
    FailingPolicy.calls = 0
    with pytest.raises(RuntimeError, match="policy exploded"):
        collect_dataset(policy_spec=failing_policy, difficulty="vanilla", episodes=3, steps=20, out=out, **SMALL)
    assert list(tmp_path.iterdir()) == []
    out.write_bytes(b"an older dataset")
    with pytest.raises(LaomError, match="refusing to overwrite"):
        collect_dataset(policy_spec="random", difficulty="vanilla", episodes=1, steps=5, out=out, **SMALL)
    FailingPolicy.calls = 0
    with pytest.raises(RuntimeError, match="policy exploded"):
        collect_dataset(policy_spec=failing_policy, difficulty="vanilla", episodes=3, steps=20, out=out,
                        overwrite=True, **SMALL)
    assert out.read_bytes() == b"an older dataset"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.hdf5"]


def test_shipped_expert_and_default_name(workspace):
    from laom_core.experts.shipped import shipped_tasks

    if "cheetah-run" not in shipped_tasks():
        pytest.skip("no shipped cheetah-run expert in this checkout")
    rc = main(["collect", "--task", "cheetah-run", "--policy", "expert", "--episodes", "1", "--steps", "15",
               "--img-size", "32", "--fast-render", "--seed", "1"])
    assert rc == 0
    files = list((workspace / "datasets").glob("*.hdf5"))
    assert [f.name for f in files] == ["cheetah-run_vanilla_train_expert_1x15_32px_seed1.hdf5"]
    info = validate_dataset(files[0])
    assert info.num_trajectories == 1 and info.difficulty == "vanilla"
    with h5py.File(files[0], "r") as f:
        assert f.attrs["collect_policy"] == "expert"


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--task", "cheetah-fly"], "cheetah-fly"),
        (["--difficulty", "insane"], "insane"),
        (["--policy", "/nonexistent/expert"], "unknown policy"),
        (["--episodes", "0"], "--episodes must be >= 1"),
        (["--steps", "100001"], "--steps must be in 1..100000"),
        (["--env", "camera=1"], "unknown environment option 'camera'"),
        (["--env", "camera_scale"], "KEY=VALUE"),
        (["--env", "camera_scale=fast"], "expected a number"),
    ],
)
def test_cli_errors_are_one_line(argv, message, capsys, tmp_path):
    base = ["collect", "--episodes", "1", "--steps", "5", "--img-size", "32", "--out", str(tmp_path / "x.hdf5")]
    rc = main(base + argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0]
    assert not (tmp_path / "x.hdf5").exists()


@pytest.mark.parametrize("signum,returncode", [(signal.SIGINT, 130), (signal.SIGTERM, 128 + signal.SIGTERM)])
def test_signal_mid_collection_leaves_no_file(tmp_path, signum, returncode):
    out = tmp_path / "big.hdf5"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "laom_core", "collect", "--task", "cheetah-run", "--episodes", "50", "--steps", "1000",
         "--img-size", "32", "--fast-render", "--out", str(out)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        # A terminal delivers Ctrl-C to a process with the default SIGINT disposition; our
        # own runner may have started us with SIGINT ignored (background job), so reset it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not list(tmp_path.glob(".big.hdf5.*.partial")):
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.2)
        assert list(tmp_path.glob(".big.hdf5.*.partial")), "collection never started writing"
        time.sleep(1.0)  # mid-episode
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == returncode, stderr.decode()
    assert "Traceback" not in stderr.decode()
    assert list(tmp_path.iterdir()) == []


def _children(pid: int) -> set[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    out = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.add(int(entry))
    return out


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_sigkill_of_parallel_collection_leaves_no_process_behind(tmp_path):
    """Workers (and multiprocessing's resource tracker) end with the collecting process."""
    out = tmp_path / "big.hdf5"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    children: set[int] = set()
    with open(tmp_path / "stderr.txt", "wb") as err:  # not a pipe: orphans holding it would block reading
        proc = subprocess.Popen(
            [sys.executable, "-m", "laom_core", "collect", "--task", "cheetah-run", "--episodes", "50",
             "--steps", "1000", "--img-size", "32", "--fast-render", "--workers", "2", "--out", str(out)],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            assert proc.poll() is None, (tmp_path / "stderr.txt").read_text()
            children |= _children(proc.pid)
            if len(children) >= 3:  # the resource tracker and two workers
                break
            time.sleep(0.2)
        time.sleep(3.0)  # workers past their start-up
        children |= _children(proc.pid)
        assert len(children) >= 2, "workers never started"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        deadline = time.time() + 20
        while time.time() < deadline and any(_running(c) for c in children):
            time.sleep(0.2)
        left = [c for c in children if _running(c)]
        assert not left, f"processes left after SIGKILL of collect: {left}"
        assert not out.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=60)
        for c in children:  # never leave them to the next test
            if _running(c):
                os.kill(c, signal.SIGKILL)


def test_collect_prints_no_settotalmass_warning_but_other_absl_messages_pass(tmp_path):
    """dm_control's cheetah model makes MuJoCo warn about 'settotalmass' on every build: filtered, alone."""
    env = dict(os.environ, PYTHONPATH=str(REPO), LAOM_STUDIO_WORKSPACE=str(tmp_path / "ws"))
    result = subprocess.run(
        [sys.executable, "-m", "laom_core", "collect", "--task", "cheetah-run", "--episodes", "2", "--steps", "3",
         "--img-size", "32", "--fast-render", "--workers", "2", "--out", str(tmp_path / "d.hdf5")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "settotalmass" not in result.stderr
    probe = ("import logging, laom_core.envs.suite\n"
             "log = logging.getLogger('absl')\n"
             "log.warning(\"compiler attribute 'settotalmass' is deprecated and will be removed\")\n"
             "log.warning('another absl warning')\n")
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert "another absl warning" in out.stderr and "settotalmass" not in out.stderr


def test_steps_past_dm_control_limit_are_honoured(tmp_path, monkeypatch):
    """--steps past dm_control's own episode limit (1000 steps) used to end episodes there without a word.

    To stay fast the test shrinks dm_control's default limit to 5 steps (time_limit 0.05 s
    on cheetah) wherever the caller does not set one, and collects 8.
    """
    from dm_control import suite

    real_load = suite.load

    def short_default_limit(domain, task, task_kwargs=None, **kwargs):
        task_kwargs = dict(task_kwargs or {})
        task_kwargs.setdefault("time_limit", 0.05)
        return real_load(domain, task, task_kwargs=task_kwargs, **kwargs)

    monkeypatch.setattr(suite, "load", short_default_limit)
    out = collect_dataset(policy_spec="random", difficulty="vanilla", episodes=1, steps=8,
                          out=tmp_path / "long.hdf5", **dict(SMALL, img_size=8))
    assert validate_dataset(out).total_steps == 8


def test_env_options_are_recorded_and_rebuilt_by_evaluation(tmp_path):
    """``--env camera_scale=0 --env color_scale=0`` on "easy" (the fidelity study's D1): the
    camera and colour stay put, the file records the options, and evaluation's env spec
    (which rebuilds the environment from the eval file) carries them."""
    from laom_core.training.evaluate import eval_env_spec

    out = tmp_path / "d1.hdf5"
    rc = main(["collect", "--difficulty", "easy", "--env", "camera_scale=0", "--env", "color_scale=0",
               "--episodes", "1", "--steps", "6", "--img-size", "16", "--fast-render", "--out", str(out)])
    assert rc == 0
    with h5py.File(out, "r") as f:
        assert json.loads(f.attrs["collect_env_options"]) == {"camera_scale": 0, "color_scale": 0}
        signals = {k: f["0"][f"distractor/{k}"][()] for k in f["0/distractor"]}
    moving = [k for k, v in signals.items() if k.startswith(("camera", "color")) and np.ptp(v, axis=0).max() > 0]
    assert not moving, moving
    assert eval_env_spec(out)["options"] == {"camera_scale": 0, "color_scale": 0}
