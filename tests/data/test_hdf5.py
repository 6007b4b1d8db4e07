"""The released HDF5 layout: round trip, hand-built files, validation errors."""
from __future__ import annotations

import multiprocessing as mp
import pickle

import h5py
import numpy as np
import pytest

from laom_core.data.hdf5 import DatasetWriter, open_dataset, validate_dataset
from laom_core.errors import DatasetError, LaomError

ATTRS = dict(domain_name="cheetah", task_name="run", difficulty="vanilla", dynamic=False, img_hw=16, split="train")


def make_traj(rng, T=12, A=6, S=17, hw=16, with_distractor=False):
    t = dict(
        obs=rng.integers(0, 256, size=(T, hw, hw, 3), dtype=np.uint8),
        actions=rng.normal(size=(T, A)).astype(np.float32) * 2,  # raw, outside [-1, 1]
        states=rng.normal(size=(T, S)).astype(np.float32),
        traj_return=float(rng.uniform(0, 100)),
    )
    if with_distractor:
        t["extra"] = {
            "distractor/clip_id": np.full(T, 3, dtype=np.int64),
            "distractor/frame_index": np.arange(T),
            "distractor/camera": rng.normal(size=(T, 8)),
            "distractor/color": rng.normal(size=(T, 3)).astype(np.float32),
        }
    return t


def build_by_hand(path, trajs, attrs=ATTRS, dataset_return=None):
    """A file in the released layout written with plain h5py (as the authors' scripts do)."""
    with h5py.File(path, "w") as f:
        for i, t in enumerate(trajs):
            g = f.create_group(str(i))
            g.create_dataset("obs", data=t["obs"])
            g.create_dataset("actions", data=t["actions"])
            g.create_dataset("states", data=t["states"])
            g.attrs["traj_return"] = t["traj_return"]
        for k, v in attrs.items():
            f.attrs[k] = v
        f.attrs["dataset_return"] = np.mean([t["traj_return"] for t in trajs]) if dataset_return is None else dataset_return
    return path


def test_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    trajs = [make_traj(rng, T=T, with_distractor=True) for T in (12, 20, 7)]
    out = tmp_path / "d.hdf5"
    with DatasetWriter(out, ATTRS) as w:
        for t in trajs:
            w.add_trajectory(t["obs"], t["actions"], t["states"], t["traj_return"], extra=t["extra"])
        assert not out.exists()  # only the temp file exists while writing
    assert out.exists()
    assert not list(tmp_path.glob(".*partial"))
    with open_dataset(out) as ds:
        assert ds.num_trajectories == 3
        assert ds.lengths.tolist() == [12, 20, 7] and ds.lengths.dtype == np.int64
        assert (ds.action_dim, ds.state_dim, ds.img_hw) == (6, 17, 16)
        assert ds.attrs["domain_name"] == "cheetah" and ds.attrs["dynamic"] is False
        assert ds.attrs["dataset_return"] == pytest.approx(np.mean([t["traj_return"] for t in trajs]))
        for i, t in enumerate(trajs):
            np.testing.assert_array_equal(ds.read(i, "obs"), t["obs"])
            np.testing.assert_array_equal(ds.read(i, "actions"), t["actions"])
            np.testing.assert_array_equal(ds.read(i, "states", 2, 5), t["states"][2:5])
            assert ds.trajectory_return(i) == pytest.approx(t["traj_return"])
            np.testing.assert_array_equal(ds.read(i, "distractor/frame_index"), np.arange(len(t["obs"])))
        np.testing.assert_array_equal(ds.read_steps(1, "obs", [5, 1, 5, 19]), trajs[1]["obs"][[5, 1, 5, 19]])
        np.testing.assert_array_equal(ds.read_steps(1, "actions", [0, 19]), trajs[1]["actions"][[0, 19]])
        assert ds.distractor_signals == ["camera", "clip_id", "color", "frame_index"]
    info = validate_dataset(out)
    assert info.num_trajectories == 3 and info.total_steps == 39
    assert info.distractor_signals == ["camera", "clip_id", "color", "frame_index"]
    assert not info.equal_lengths
    # the file stays in the layout the authors' loaders read: only trajectory groups at top
    with h5py.File(out, "r") as f:
        assert sorted(f.keys(), key=int) == ["0", "1", "2"]
        assert f["0/obs"].dtype == np.uint8 and f["0/actions"].dtype == np.float32
        assert f["0/distractor/clip_id"].dtype == np.int32
        assert f["0/obs"].chunks is None  # contiguous: fastest uncompressed random reads


def test_compressed_round_trip(tmp_path):
    rng = np.random.default_rng(9)
    t = make_traj(rng, T=40)
    out = tmp_path / "c.hdf5"
    with DatasetWriter(out, ATTRS, compression="lzf") as w:
        w.add_trajectory(t["obs"], t["actions"], t["states"], 3.0)
    with h5py.File(out, "r") as f:
        assert f["0/obs"].compression == "lzf" and f["0/obs"].chunks[0] == 16
    with open_dataset(out) as ds:
        np.testing.assert_array_equal(ds.read_steps(0, "obs", [39, 3, 17]), t["obs"][[39, 3, 17]])


def test_reads_file_built_by_hand(tmp_path):
    rng = np.random.default_rng(1)
    trajs = [make_traj(rng, T=10) for _ in range(4)]
    path = build_by_hand(tmp_path / "released.hdf5", trajs)
    info = validate_dataset(path, require_equal_lengths=True)
    assert info.task == "cheetah-run" and info.img_hw == 16 and info.equal_lengths
    assert info.distractor_signals == [] and not info.labeled_subset
    assert info.mean_return == pytest.approx(np.mean([t["traj_return"] for t in trajs]))
    with open_dataset(path) as ds:
        assert ds.num_trajectories == 4
        np.testing.assert_array_equal(ds.read(3, "obs", 4, 9), trajs[3]["obs"][4:9])
        assert ds.distractor_signals == []


def test_reader_survives_pickle_and_fork(tmp_path):
    rng = np.random.default_rng(2)
    trajs = [make_traj(rng) for _ in range(2)]
    path = build_by_hand(tmp_path / "x.hdf5", trajs)
    ds = open_dataset(path)
    ds.read(0, "obs", 0, 1)  # open the handle in the parent
    clone = pickle.loads(pickle.dumps(ds))
    np.testing.assert_array_equal(clone.read(1, "actions"), trajs[1]["actions"])
    ctx = mp.get_context("fork")
    with ctx.Pool(2) as pool:
        sums = pool.map(_sum_obs, [(ds, 0), (ds, 1)])
    assert sums == [int(trajs[0]["obs"].sum()), int(trajs[1]["obs"].sum())]
    ds.close()


def _sum_obs(args):
    ds, i = args
    return int(ds.read(i, "obs").sum())


def test_writer_refuses_overwrite_and_keeps_existing(tmp_path):
    rng = np.random.default_rng(3)
    path = tmp_path / "d.hdf5"
    path.write_bytes(b"precious")
    t = make_traj(rng)
    with pytest.raises(DatasetError, match="refusing to overwrite"):
        with DatasetWriter(path, ATTRS) as w:
            w.add_trajectory(t["obs"], t["actions"], t["states"], 1.0)
    assert path.read_bytes() == b"precious"
    with DatasetWriter(path, ATTRS, overwrite=True) as w:
        w.add_trajectory(t["obs"], t["actions"], t["states"], 1.0)
    assert validate_dataset(path).num_trajectories == 1


def test_writer_crash_leaves_nothing(tmp_path):
    rng = np.random.default_rng(4)
    path = tmp_path / "d.hdf5"
    t = make_traj(rng)
    with pytest.raises(KeyboardInterrupt):
        with DatasetWriter(path, ATTRS) as w:
            w.add_trajectory(t["obs"], t["actions"], t["states"], 1.0)
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_writer_rejects_nan_and_bad_shapes(tmp_path):
    rng = np.random.default_rng(5)
    t = make_traj(rng)
    bad = t["actions"].copy()
    bad[3, 1] = np.nan
    with pytest.raises(DatasetError, match="NaN"):
        with DatasetWriter(tmp_path / "a.hdf5", ATTRS) as w:
            w.add_trajectory(t["obs"], bad, t["states"], 1.0)
    with pytest.raises(DatasetError, match="uint8"):
        with DatasetWriter(tmp_path / "b.hdf5", ATTRS) as w:
            w.add_trajectory(t["obs"].astype(np.float32), t["actions"], t["states"], 1.0)
    with pytest.raises(DatasetError, match="same number of steps"):
        with DatasetWriter(tmp_path / "c.hdf5", ATTRS) as w:
            w.add_trajectory(t["obs"], t["actions"][:-1], t["states"], 1.0)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- validation errors


def _good(tmp_path, **kw):
    rng = np.random.default_rng(6)
    return build_by_hand(tmp_path / "f.hdf5", [make_traj(rng, **kw) for _ in range(2)])


def test_not_hdf5(tmp_path):
    p = tmp_path / "notes.hdf5"
    p.write_text("hello, I am a text file\n")
    with pytest.raises(DatasetError, match="not an HDF5 file"):
        validate_dataset(p)
    with pytest.raises(DatasetError, match="not an HDF5 file"):
        open_dataset(p)
    with pytest.raises(DatasetError, match="no such dataset file"):
        validate_dataset(tmp_path / "missing.hdf5")


def test_truncated_file(tmp_path):
    p = _good(tmp_path)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 3])
    with pytest.raises(LaomError):
        validate_dataset(p)


def test_missing_attr(tmp_path):
    p = _good(tmp_path)
    with h5py.File(p, "a") as f:
        del f.attrs["img_hw"]
    with pytest.raises(DatasetError, match="missing file attribute.*img_hw"):
        validate_dataset(p)


def test_missing_groups_and_datasets(tmp_path):
    p = tmp_path / "empty.hdf5"
    with h5py.File(p, "w") as f:
        for k, v in ATTRS.items():
            f.attrs[k] = v
        f.attrs["dataset_return"] = 0.0
    with pytest.raises(DatasetError, match="no trajectory groups"):
        validate_dataset(p)
    with pytest.raises(DatasetError, match="no trajectory groups"):
        open_dataset(p)
    p = _good(tmp_path)
    with h5py.File(p, "a") as f:
        del f["1/states"]
    with pytest.raises(DatasetError, match="trajectory 1 has no 'states'"):
        validate_dataset(p)
    (tmp_path / "x").mkdir()
    p2 = _good(tmp_path / "x")
    with h5py.File(p2, "a") as f:
        del f["0"].attrs["traj_return"]
    with pytest.raises(DatasetError, match="traj_return"):
        validate_dataset(p2)


@pytest.mark.parametrize(
    "key,data,match",
    [
        ("obs", np.zeros((12, 16, 16, 3), np.float32), "obs dtype"),
        ("obs", np.zeros((12, 16, 16), np.uint8), "obs shape"),
        ("obs", np.zeros((12, 32, 32, 3), np.uint8), "img_hw is 16"),
        ("actions", np.zeros((12, 6), np.float64), "actions dtype"),
        ("actions", np.zeros((11, 6), np.float32), "must be equal"),
        ("states", np.zeros((12, 5), np.float32), "differ from trajectory 0"),
    ],
)
def test_shape_dtype_mismatch(tmp_path, key, data, match):
    p = _good(tmp_path)
    with h5py.File(p, "a") as f:
        del f["1"][key]
        f["1"].create_dataset(key, data=data)
    with pytest.raises(DatasetError, match=match):
        validate_dataset(p)


@pytest.mark.parametrize("key,value", [("actions", np.nan), ("states", np.inf)])
def test_nan_inf(tmp_path, key, value):
    p = _good(tmp_path)
    with h5py.File(p, "a") as f:
        f[f"1/{key}"][4, 0] = value
    with pytest.raises(DatasetError, match=f"NaN or inf in {key} \\(first at step 4\\)"):
        validate_dataset(p)


def test_unequal_lengths(tmp_path):
    rng = np.random.default_rng(7)
    p = build_by_hand(tmp_path / "u.hdf5", [make_traj(rng, T=10), make_traj(rng, T=14)])
    info = validate_dataset(p)
    assert (info.min_length, info.max_length, info.equal_lengths) == (10, 14, False)
    with pytest.raises(DatasetError, match="unequal lengths"):
        validate_dataset(p, require_equal_lengths=True)


def test_temp_files_of_killed_writers_are_removed_by_the_next_write(tmp_path):
    """A kill leaves `.name.p<pid>.xxx.partial`; the next write in the folder removes it once its pid is gone."""
    import os
    import subprocess
    import sys
    import time

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    old = time.time() - 3600
    stale = tmp_path / f".killed.hdf5.p{dead.pid}.abc123.partial"
    fresh = tmp_path / f".recent.hdf5.p{dead.pid}.def456.partial"
    live = tmp_path / f".running.hdf5.p{os.getpid()}.ghi789.partial"
    foreign = tmp_path / ".someone.hdf5.partial"
    for path in (stale, fresh, live, foreign):
        path.write_bytes(b"half a file")
    for path in (stale, live, foreign):
        os.utime(path, (old, old))
    rng = np.random.default_rng(0)
    t = make_traj(rng, T=5)
    with DatasetWriter(tmp_path / "next.hdf5", ATTRS) as w:
        [tmp] = [p for p in tmp_path.glob(".next.hdf5.*.partial")]
        assert f".p{os.getpid()}." in tmp.name
        w.add_trajectory(t["obs"], t["actions"], t["states"], t["traj_return"])
    assert not stale.exists()
    assert fresh.exists() and live.exists() and foreign.exists()
