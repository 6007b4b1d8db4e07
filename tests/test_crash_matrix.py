"""A small crash matrix: SIGKILL in the middle of a file write (a labeled subset, a training
checkpoint, a collected dataset) or of a sweep's queueing, then a rerun or resume. After each kill: no process of the killed command is
left, every file under a final name is complete, and the rerun/resume ends as an
uninterrupted run does.

The kill is made deterministic by the killed process itself: a hook writes part of the
file, then sends SIGKILL to its own process (no handler, finally block or atexit runs).
"""
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
import psutil
import pytest

from laom_core.cli import main
from laom_core.data.hdf5 import validate_dataset, write_dataset

REPO = Path(__file__).resolve().parents[1]

# Runs in the child: after `after` calls of the hooked writer, write part of the file and SIGKILL itself.
SUBSET_HOOK = """
import os, signal, sys
from laom_core.data import hdf5
calls = 0
real_add = hdf5.DatasetWriter.add_trajectory
def add(self, *args, **kwargs):
    global calls
    calls += 1
    out = real_add(self, *args, **kwargs)
    if calls == {after}:
        self._h5.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    return out
hdf5.DatasetWriter.add_trajectory = add
from laom_core.cli import main
sys.exit(main(sys.argv[1:]))
"""
# A torch.save that, at the chosen call, writes half of the file and SIGKILLs its own process.
# {when} is a Python condition on ``calls`` (the save's number) and ``f`` (its path).
SAVE_HOOK = """
import io, os, signal, sys
from pathlib import Path
import torch
calls = 0
real_save = torch.save
def save(obj, f, *args, **kwargs):
    global calls
    calls += 1
    if {when}:
        buf = io.BytesIO()
        real_save(obj, buf, *args, **kwargs)
        data = buf.getvalue()
        with open(f, "wb") as fh:
            fh.write(data[: len(data) // 2])
            fh.flush()
            os.fsync(fh.fileno())
        os.kill(os.getpid(), signal.SIGKILL)
    return real_save(obj, f, *args, **kwargs)
torch.save = save
from laom_core.cli import main
sys.exit(main(sys.argv[1:]))
"""
TRAIN_HOOK = SAVE_HOOK.replace("{when}", "calls == {after}")  # the n-th checkpoint write
STAGE_HOOK = SAVE_HOOK.replace("{when}", 'Path(str(f)).parent.name == "{stage}"')  # checkpoints/<stage>/*.pt


def _run_killed(hook: str, after: int, argv: list[str], cwd: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "LAOM_TORCH_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", hook.format(after=after), *argv], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
    _assert_no_process_left(proc.pid, cwd)


def _assert_no_process_left(pid: int, marker: Path) -> None:
    deadline = time.monotonic() + 10
    while True:
        left = []
        for p in psutil.process_iter(["pid", "ppid", "cmdline", "cwd"]):
            try:
                info = p.info
                if info["pid"] == os.getpid():
                    continue
                if info["ppid"] == pid or str(marker) in " ".join(info["cmdline"] or []) or info["cwd"] == str(marker):
                    if p.status() != psutil.STATUS_ZOMBIE:
                        left.append((info["pid"], info["cmdline"]))
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not left, f"processes left after SIGKILL: {left}"


def _final_files_are_complete(folder: Path) -> None:
    from laom_core.torch_io import load_weights

    for path in folder.rglob("*"):
        if not path.is_file() or path.name.endswith(".partial"):
            continue
        if path.suffix == ".pt":
            load_weights(path)
        elif path.suffix in (".hdf5", ".h5"):
            validate_dataset(path)
        elif path.suffix == ".json":
            json.loads(path.read_text())


def _arrays(path: Path) -> dict:
    out = {}
    with h5py.File(path, "r") as f:
        out["attrs"] = {k: np.asarray(v).tolist() for k, v in f.attrs.items()}
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()].tobytes()) if isinstance(obj, h5py.Dataset)
                     else out.__setitem__(name, {k: np.asarray(v).tolist() for k, v in obj.attrs.items()}))
    return out


def test_sigkill_during_subset_then_rerun(tmp_path):
    rng = np.random.default_rng(0)
    src = tmp_path / "src.hdf5"
    write_dataset(src, dict(domain_name="cheetah", task_name="run", difficulty="easy", dynamic=True, img_hw=16,
                            split="train"),
                  [dict(obs=rng.integers(0, 256, (60, 16, 16, 3), dtype=np.uint8),
                        actions=rng.normal(size=(60, 6)).astype(np.float32),
                        states=rng.normal(size=(60, 17)).astype(np.float32), traj_return=float(i)) for i in range(5)])
    argv = ["dataset", "subset", str(src), "--trajectories", "4", "--chunk-size", "20", "--seed", "7"]
    ref = tmp_path / "ref.hdf5"
    assert main([*argv, "--out", str(ref)]) == 0
    out = tmp_path / "out" / "labeled.hdf5"
    _run_killed(SUBSET_HOOK, 2, [*argv, "--out", str(out)], tmp_path)
    assert not out.exists()  # no incomplete file under the final name
    _final_files_are_complete(tmp_path)
    assert main([*argv, "--out", str(out)]) == 0  # the rerun needs no --overwrite and no cleanup
    assert _arrays(out) == _arrays(ref)


@pytest.mark.parametrize("after", [1, 3], ids=["last.pt", "final.pt"])
def test_sigkill_during_checkpoint_write_then_resume(tmp_path, after, capsys):
    from laom_core.data.toy import make_toy_dataset
    from laom_core.torch_io import load_weights

    data = tmp_path / "toy.h5"
    make_toy_dataset(data, trajectories=4, steps=24, img_size=32, action_dim=2, seed=0)
    common = ["train", "--no-progress", "--method", "bc", "--preset", "smoke", "--data", str(data),
              "--set", "bc.total_updates=8", "--set", "run.checkpoint_every=3", "--set", "bc.batch_size=8",
              "--set", "run.log_every=2"]
    ref_dir, run_dir = tmp_path / "ref", tmp_path / "run"
    assert main([*common, "--run-dir", str(ref_dir)]) == 0
    capsys.readouterr()
    # Saves: last.pt at updates 3 and 6, then final.pt. Kill while writing the first or the last.
    _run_killed(TRAIN_HOOK, after, [*common, "--run-dir", str(run_dir)], tmp_path)
    _final_files_are_complete(run_dir)
    assert not (run_dir / "checkpoints" / "bc" / "final.pt").exists()
    assert main([*common, "--run-dir", str(run_dir), "--resume"]) == 0, capsys.readouterr().err
    _final_files_are_complete(run_dir)
    finished = json.loads((run_dir / "stages.json").read_text())["finished"]
    assert set(finished) == set(json.loads((ref_dir / "stages.json").read_text())["finished"])
    got = load_weights(run_dir / "checkpoints" / "bc" / "final.pt")
    want = load_weights(ref_dir / "checkpoints" / "bc" / "final.pt")
    assert got["step"] == want["step"] == 8
    flat = lambda d: {k: tuple(v.shape) for k, v in d.items() if hasattr(v, "shape")}  # noqa: E731
    assert {k: flat(v) for k, v in got.items() if isinstance(v, dict)} == \
        {k: flat(v) for k, v in want.items() if isinstance(v, dict)}
    assert not (run_dir / "checkpoints" / "bc" / "last.pt").exists()


def test_sigkill_during_collect_then_rerun(tmp_path):
    """collect killed after two episodes are written: nothing under the final name, no worker
    left, and the rerun (no --overwrite, no cleanup) writes what an uninterrupted collect does."""
    argv = ["collect", "--task", "cheetah-run", "--episodes", "3", "--steps", "12", "--img-size", "16",
            "--fast-render", "--seed", "3"]
    ref = tmp_path / "ref.hdf5"
    assert main([*argv, "--out", str(ref)]) == 0
    out = tmp_path / "out" / "collected.hdf5"
    _run_killed(SUBSET_HOOK, 2, [*argv, "--out", str(out)], tmp_path)
    assert not out.exists()
    _final_files_are_complete(tmp_path)
    (partial,) = out.parent.iterdir()  # the killed process's temp file, removed once it is a minute old
    old = time.time() - 120
    os.utime(partial, (old, old))
    assert main([*argv, "--out", str(out)]) == 0
    assert _arrays(out) == _arrays(ref)
    assert [p.name for p in out.parent.iterdir()] == [out.name]


SWEEP_HOOK = """
import os, signal, sys
from laom_core.runs import launcher
calls = 0
real_launch = launcher.launch_argv
def launch(*args, **kwargs):
    global calls
    calls += 1
    out = real_launch(*args, **kwargs)
    if calls == {after}:
        os.kill(os.getpid(), signal.SIGKILL)
    return out
launcher.launch_argv = launch
from laom_core.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_sigkill_while_a_sweep_is_queued_then_rerun(tmp_path, monkeypatch):
    """A sweep killed after queueing 3 of its 8 runs: the same command again queues the other
    five, each cell exactly once, with the subsets it would have had."""
    from laom_core.data.toy import make_toy_dataset
    from laom_core.runs.store import RunStore
    from laom_core.runs.sweeps import create_sweep, make_spec

    ws = tmp_path / "ws"
    monkeypatch.setenv("LAOM_STUDIO_WORKSPACE", str(ws))
    data = make_toy_dataset(tmp_path / "unlabeled.hdf5", trajectories=6, steps=12, img_size=16, seed=0)
    labeled = make_toy_dataset(tmp_path / "labeled.hdf5", trajectories=8, steps=12, img_size=16, seed=1)
    argv = ["sweep", "--name", "crash", "--methods", "lapo,laom-labels", "--budgets", "2,4", "--seeds", "0,1",
            "--task", "toy-move", "--data", str(data), "--labeled-data", str(labeled), "--preset", "smoke"]
    _run_killed(SWEEP_HOOK, 3, argv, tmp_path)
    with RunStore() as store:
        assert len(store.list_runs(group="crash")) == 3
        spec = make_spec("crash", "lapo,laom-labels", "2,4", "0,1", "toy-move", str(data),
                         labeled_data=str(labeled), preset="smoke")
        ids = create_sweep(spec, store, start_scheduler=False)
        runs = store.list_runs(group="crash")
    assert len(ids) == len(set(ids)) == len(runs) == 8
    assert {(r["method"], r["labeled_budget"], r["seed"]) for r in runs} == \
        {(m, b, s) for m in ("lapo", "laom-labels") for b in (2, 4) for s in (0, 1)}
    subsets = {(r["labeled_budget"], r["seed"]): set() for r in runs}
    for r in runs:
        subsets[(r["labeled_budget"], r["seed"])].add(r["argv"][r["argv"].index("--labeled-data") + 1])
    assert all(len(paths) == 1 for paths in subsets.values())  # both methods of a cell share one subset
    _final_files_are_complete(ws / "datasets")




@pytest.fixture(scope="module")
def three_stage_reference(tmp_path_factory):
    """One uninterrupted LAOM+supervision run (stages lam, bc, decoder) on a toy set."""
    from laom_core.data.toy import make_toy_dataset

    folder = tmp_path_factory.mktemp("stages")
    data = folder / "toy.h5"
    make_toy_dataset(data, trajectories=4, steps=24, img_size=32, action_dim=2, seed=0)
    common = ["train", "--no-progress", "--method", "laom-labels", "--preset", "smoke", "--data", str(data),
              "--set", "lapo.total_updates=4", "--set", "bc.total_updates=4", "--set", "decoder.total_updates=4",
              "--set", "run.checkpoint_every=2", "--set", "run.log_every=2"]
    ref = folder / "ref"
    assert main([*common, "--run-dir", str(ref)]) == 0
    return folder, common, ref


@pytest.mark.parametrize("stage", ["lam", "decoder"])
def test_sigkill_during_a_later_stage_checkpoint_then_resume(three_stage_reference, stage, capsys):
    """The kill lands in the first or the last stage of a three-stage method (the bc stage is
    the test above): the resume keeps the finished stages and ends as the uninterrupted run."""
    from laom_core.torch_io import load_weights

    folder, common, ref = three_stage_reference
    run_dir = folder / f"killed-{stage}"
    _run_killed(STAGE_HOOK.replace("{stage}", stage), 0, [*common, "--run-dir", str(run_dir)], folder)
    _final_files_are_complete(run_dir)
    assert not (run_dir / "checkpoints" / stage / "final.pt").exists()
    assert main([*common, "--run-dir", str(run_dir), "--resume"]) == 0, capsys.readouterr().err
    _final_files_are_complete(run_dir)
    finished = json.loads((run_dir / "stages.json").read_text())["finished"]
    assert set(finished) == set(json.loads((ref / "stages.json").read_text())["finished"]) >= {"lam", "bc", "decoder"}
    for s in ("lam", "bc", "decoder"):
        assert load_weights(run_dir / "checkpoints" / s / "final.pt")["step"] == \
            load_weights(ref / "checkpoints" / s / "final.pt")["step"]
