"""The dataset catalog: one listing, and subsets named by their source's content identity."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from laom_core.data import catalog
from laom_core.data.hdf5 import open_dataset
from laom_core.data.toy import make_toy_dataset
from laom_core.errors import DatasetError


def _toy(path: Path, seed: int) -> Path:
    return make_toy_dataset(path, trajectories=8, steps=12, img_size=16, seed=seed)


def _first_obs(path: Path) -> np.ndarray:
    with open_dataset(path) as ds:
        return ds.read(0, "obs", 0, 4)


def test_two_different_files_of_the_same_name_get_different_subsets(workspace: Path, tmp_path: Path) -> None:
    a = _toy(tmp_path / "one" / "data.hdf5", seed=1)
    b = _toy(tmp_path / "two" / "data.hdf5", seed=2)
    sub_a = catalog.labeled_subset(a, 2, 6, seed=0)
    sub_b = catalog.labeled_subset(b, 2, 6, seed=0)
    assert sub_a != sub_b and sub_a.name.startswith("data-") and sub_b.name.startswith("data-")
    assert sub_a.parent == sub_b.parent == workspace / "datasets" / "subsets"
    assert not np.array_equal(_first_obs(sub_a), _first_obs(sub_b))


def test_the_same_file_reuses_its_subset(workspace: Path, tmp_path: Path) -> None:
    src = _toy(tmp_path / "data.hdf5", seed=1)
    first = catalog.labeled_subset(src, 2, 6, seed=0)
    made = first.stat().st_mtime_ns
    link = tmp_path / "link.hdf5"
    link.symlink_to(src)
    assert catalog.subset_path(link, 2, 6, 0).name.split("-", 1)[1] == first.name.split("-", 1)[1]
    assert catalog.labeled_subset(src, 2, 6, seed=0) == first
    assert first.stat().st_mtime_ns == made  # reused, not cut again
    assert catalog.labeled_subset(src, 2, 6, seed=1) != first  # another seed, another subset
    assert catalog.labeled_subset(src, 3, 6, seed=0) != first
    assert catalog.subset_path(src, 2, 6, 0, held_out_fraction=0.2) != first


def test_a_recollected_file_of_the_same_name_gets_a_new_subset(workspace: Path, tmp_path: Path) -> None:
    src = _toy(tmp_path / "data.hdf5", seed=1)
    first = catalog.labeled_subset(src, 2, 6, seed=0)
    fresh = _toy(tmp_path / "fresh.hdf5", seed=1)  # the same content, written anew
    os.replace(fresh, src)
    assert catalog.labeled_subset(src, 2, 6, seed=0) != first


def test_content_id_sees_bytes_and_not_the_name(tmp_path: Path) -> None:
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(bytes(100_000))
    b.write_bytes(bytes(100_000))
    os.utime(b, ns=(a.stat().st_atime_ns, a.stat().st_mtime_ns))
    assert catalog.content_id(a) == catalog.content_id(b)  # same size, time and bytes
    data = bytearray(100_000)
    data[-1] = 1
    b.write_bytes(bytes(data))
    os.utime(b, ns=(a.stat().st_atime_ns, a.stat().st_mtime_ns))
    assert catalog.content_id(a) != catalog.content_id(b)  # the last block differs
    with pytest.raises(DatasetError, match="cannot read"):
        catalog.content_id(tmp_path / "missing.hdf5")


def test_a_plan_may_name_the_subsets_of_a_file_not_collected_yet(workspace: Path, tmp_path: Path) -> None:
    planned = catalog.subset_path(tmp_path / "later.hdf5", 2, 6, 0)
    assert planned.name == "later-uncollected-n2-c6-s0.hdf5"
    _toy(tmp_path / "later.hdf5", seed=1)
    assert catalog.subset_path(tmp_path / "later.hdf5", 2, 6, 0) != planned


def test_listing_finds_files_in_subfolders_and_reports_broken_ones(workspace: Path) -> None:
    datasets = workspace / "datasets"
    _toy(datasets / "train.hdf5", seed=1)
    _toy(datasets / "nested" / "eval.h5", seed=2)
    (datasets / "broken.hdf5").write_bytes(b"not hdf5")
    (datasets / ".train.hdf5.p1.x.partial").write_bytes(b"in progress")
    (datasets / "notes.txt").write_text("not a dataset")
    assert [p.name for p in catalog.dataset_files()] == ["broken.hdf5", "eval.h5", "train.hdf5"]
    rows = {r["name"]: r for r in catalog.list_datasets()}
    assert rows["train.hdf5"]["valid"] and rows["train.hdf5"]["num_trajectories"] == 8
    assert not rows["train.hdf5"]["labeled_subset"]
    assert not rows["broken.hdf5"]["valid"] and rows["broken.hdf5"]["error"]
    sub = catalog.labeled_subset(datasets / "train.hdf5", 2, 6, seed=0)
    assert {r["name"]: r for r in catalog.list_datasets()}[sub.name]["labeled_subset"]
    assert catalog.dataset_files(workspace / "nowhere") == []
