"""Labeled subsets: counts, chunk size, attrs, original_traj_idx, seed determinism."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from laom_core.data.hdf5 import DatasetWriter, open_dataset, validate_dataset
from laom_core.data.subsets import make_labeled_subset, sample_chunks
from laom_core.errors import DatasetError

ATTRS = dict(domain_name="walker", task_name="run", difficulty="easy", dynamic=True, img_hw=8, split="train")


@pytest.fixture()
def source(tmp_path):
    """6 trajectories of 30 steps; every value encodes (trajectory, step) so chunks are checkable."""
    path = tmp_path / "full.hdf5"
    with DatasetWriter(path, ATTRS) as w:
        for i in range(6):
            T = 30
            steps = np.arange(T)
            obs = np.zeros((T, 8, 8, 3), np.uint8)
            obs[:, 0, 0, 0] = i
            obs[:, 0, 0, 1] = steps
            actions = np.stack([np.full(T, i), steps], 1).astype(np.float32)
            states = np.stack([np.full(T, i), steps, -steps], 1).astype(np.float32)
            w.add_trajectory(obs, actions, states, 10.0 * i, extra={"distractor/frame_index": steps + 100 * i})
    return path


def test_subset_whole_trajectories(source, tmp_path):
    out = make_labeled_subset(source, trajectories=4, chunk_size=30, seed=0, out=tmp_path / "lab.hdf5")
    info = validate_dataset(out, require_equal_lengths=True)
    assert info.num_trajectories == 4 and info.min_length == 30 and info.labeled_subset
    with open_dataset(out) as sub, open_dataset(source) as full:
        assert sub.attrs == full.attrs  # same file attrs, dataset_return included
        idx = [sub.trajectory_attrs(i)["original_traj_idx"] for i in range(4)]
        assert len(set(idx)) == 4 and idx == sorted(idx)
        for i, j in enumerate(idx):
            np.testing.assert_array_equal(sub.read(i, "obs"), full.read(j, "obs"))
            assert sub.trajectory_return(i) == full.trajectory_return(j)


def test_subset_chunks(source, tmp_path):
    out = make_labeled_subset(source, trajectories=3, chunk_size=10, seed=5, out=tmp_path / "lab.hdf5")
    with open_dataset(out) as sub:
        assert sub.num_trajectories == 3 and sub.lengths.tolist() == [10, 10, 10]
        assert sub.distractor_signals == ["frame_index"]
        for i in range(3):
            a = sub.trajectory_attrs(i)
            t, start = a["original_traj_idx"], a["original_start"]
            acts = sub.read(i, "actions")
            np.testing.assert_array_equal(acts[:, 0], t)
            np.testing.assert_array_equal(acts[:, 1], np.arange(start, start + 10))
            np.testing.assert_array_equal(sub.read(i, "distractor/frame_index"), np.arange(start, start + 10) + 100 * t)
            np.testing.assert_array_equal(sub.read(i, "obs")[:, 0, 0, 1], np.arange(start, start + 10))


def test_more_chunks_than_trajectories(source, tmp_path):
    out = make_labeled_subset(source, trajectories=15, chunk_size=10, seed=1, out=tmp_path / "lab.hdf5")
    with open_dataset(out) as sub:
        keys = {(sub.trajectory_attrs(i)["original_traj_idx"], sub.trajectory_attrs(i)["original_start"]) for i in range(15)}
    assert len(keys) == 15  # distinct, non-overlapping chunks
    with pytest.raises(DatasetError, match="only 15 non-overlapping"):
        make_labeled_subset(source, trajectories=16, chunk_size=10, seed=1, out=tmp_path / "x.hdf5")
    with pytest.raises(DatasetError, match="no trajectory has 31 steps"):
        make_labeled_subset(source, trajectories=1, chunk_size=31, seed=1, out=tmp_path / "y.hdf5")
    assert not (tmp_path / "x.hdf5").exists() and not (tmp_path / "y.hdf5").exists()


def test_seed_determinism(source, tmp_path):
    a = make_labeled_subset(source, 3, 7, seed=42, out=tmp_path / "a.hdf5")
    b = make_labeled_subset(source, 3, 7, seed=42, out=tmp_path / "b.hdf5")
    c = make_labeled_subset(source, 3, 7, seed=43, out=tmp_path / "c.hdf5")

    def picks(p):
        with h5py.File(p, "r") as f:
            return [(int(f[k].attrs["original_traj_idx"]), int(f[k].attrs["original_start"])) for k in sorted(f, key=int)]

    assert picks(a) == picks(b)
    assert picks(a) != picks(c)
    assert sample_chunks(np.full(100, 50), 10, 20, seed=3) == sample_chunks(np.full(100, 50), 10, 20, seed=3)


def test_subset_refuses_overwrite(source, tmp_path):
    out = tmp_path / "lab.hdf5"
    out.write_bytes(b"keep me")
    with pytest.raises(Exception, match="refusing to overwrite"):
        make_labeled_subset(source, 2, 10, seed=0, out=out)
    assert out.read_bytes() == b"keep me"
    with pytest.raises(DatasetError, match="cannot overwrite its source"):
        make_labeled_subset(source, 2, 10, seed=0, out=source, overwrite=True)
