"""Property tests for the HDF5 door (validate_dataset, open_dataset and the reader):
random corruptions of a valid small file give a valid result or one DatasetError (a
LaomError), never another exception, within a time bound.

Corruptions: truncation, flipped bytes, removed or retyped datasets and attributes,
reshaped datasets, soft/external links in place of data, a group replaced by a dataset,
extra top-level entries.
"""
from __future__ import annotations

import shutil
import time

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from laom_core.data.hdf5 import DatasetInfo, open_dataset, validate_dataset, write_dataset
from laom_core.errors import LaomError

SETTINGS = settings(max_examples=100, deadline=3000, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
TIME_BOUND_S = 3.0
ATTRS = dict(domain_name="cheetah", task_name="run", difficulty="easy", dynamic=True, img_hw=8, split="train")
TRAJ_PATHS = ["0", "1", "0/obs", "0/actions", "0/states", "1/obs", "1/actions", "1/states",
              "0/distractor", "0/distractor/clip_id", "1/distractor/camera"]
ATTR_PATHS = [("/", a) for a in (*ATTRS, "dataset_return")] + [("0", "traj_return"), ("1", "traj_return")]


@pytest.fixture(scope="module")
def base_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("base") / "base.hdf5"
    trajs = [dict(obs=rng.integers(0, 256, (5, 8, 8, 3), dtype=np.uint8),
                  actions=rng.normal(size=(5, 2)).astype(np.float32),
                  states=rng.normal(size=(5, 3)).astype(np.float32), traj_return=float(i),
                  extra={"distractor/clip_id": np.arange(5), "distractor/camera": rng.normal(size=(5, 4))})
             for i in range(2)]
    write_dataset(path, ATTRS, trajs)
    validate_dataset(path)
    return path


odd_arrays = st.one_of(
    st.builds(lambda shape, dt: np.zeros(shape, dtype=dt),
              st.lists(st.integers(0, 6), min_size=0, max_size=5).map(tuple),
              st.sampled_from(["uint8", "float32", "float64", "int64", "int8", "bool", "S4", "complex64"])),
    st.just(np.array(["a", "b"], dtype=object)),
    st.just(np.array([np.nan, np.inf], dtype=np.float32).reshape(2, 1)),
)
odd_attrs = st.one_of(
    st.text(max_size=5), st.integers(-2**63, 2**63 - 1), st.floats(), st.booleans(),
    st.just(np.zeros(0)), st.just(np.array([3, 4])), st.just(b"\xff\xfe"), st.just(np.zeros((2, 2), "S3")),
)


@st.composite
def corruptions(draw):
    kind = draw(st.sampled_from(["truncate", "flip", "delete", "retype", "attr", "del_attr", "soft", "external",
                                 "group_to_dataset", "extra_top"]))
    if kind == "truncate":
        return kind, draw(st.floats(0, 1))
    if kind == "flip":
        return kind, draw(st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), min_size=1, max_size=20))
    if kind in ("delete", "soft", "external"):
        return kind, (draw(st.sampled_from(TRAJ_PATHS)), draw(st.sampled_from(["/0/obs", "/nowhere", "/1"])))
    if kind == "retype":
        return kind, (draw(st.sampled_from([p for p in TRAJ_PATHS if "/" in p])), draw(odd_arrays))
    if kind == "attr":
        return kind, (draw(st.sampled_from(ATTR_PATHS)), draw(odd_attrs))
    if kind == "del_attr":
        return kind, draw(st.sampled_from(ATTR_PATHS))
    if kind == "group_to_dataset":
        return kind, draw(st.sampled_from(["0", "1"]))
    return kind, draw(st.sampled_from(["2", "7", "abc", "00"]))


def corrupt(path, kind, arg):
    if kind == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[:int(len(data) * arg)])
        return
    if kind == "flip":
        data = bytearray(path.read_bytes())
        for where, mask in arg:
            i = min(int(where * len(data)), len(data) - 1)
            data[i] ^= mask
        path.write_bytes(bytes(data))
        return
    with h5py.File(path, "a") as f:
        if kind == "delete":
            if arg[0] in f:
                del f[arg[0]]
        elif kind in ("soft", "external"):
            name, target = arg
            if name in f:
                del f[name]
            f[name] = h5py.SoftLink(target) if kind == "soft" else h5py.ExternalLink("/tmp/nowhere.h5", target)
        elif kind == "retype":
            name, array = arg
            if name in f:
                del f[name]
            f.create_dataset(name, data=array, dtype=h5py.string_dtype() if array.dtype == object else None)
        elif kind == "attr":
            (obj, name), value = arg
            f[obj].attrs[name] = value
        elif kind == "del_attr":
            obj, name = arg
            if name in f[obj].attrs:
                del f[obj].attrs[name]
        elif kind == "group_to_dataset":
            del f[arg]
            f.create_dataset(arg, data=np.zeros((5, 2), np.float32))
        elif kind == "extra_top":
            f.create_group(arg).create_dataset("obs", data=np.zeros((1, 3, 3, 3), np.uint8))


def _use(path):
    """What every reader does at the door: validate, open lazily, read a window of each key."""
    info = validate_dataset(path)
    assert isinstance(info, DatasetInfo)
    with open_dataset(path) as ds:
        for traj in range(ds.num_trajectories):
            for key in ("obs", "actions", "states"):
                ds.read_steps(traj, key, [0, 1])
        ds.returns
    return info


@SETTINGS
@given(corruption=corruptions())
def test_corrupted_file_is_valid_or_one_dataset_error(base_file, tmp_path_factory, corruption):
    path = tmp_path_factory.mktemp("c") / "x.hdf5"
    shutil.copyfile(base_file, path)
    try:
        corrupt(path, *corruption)
    except (ValueError, TypeError, KeyError, OSError):
        return  # h5py cannot make that corruption; nothing to read
    start = time.perf_counter()
    try:
        _use(path)
    except LaomError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 2000
    assert time.perf_counter() - start < TIME_BOUND_S


@SETTINGS
@given(corruption=corruptions())
def test_open_without_validation_is_safe_too(base_file, tmp_path_factory, corruption):
    """Readers that open without validating first (training's lazy reader) hold the same line."""
    path = tmp_path_factory.mktemp("c") / "x.hdf5"
    shutil.copyfile(base_file, path)
    try:
        corrupt(path, *corruption)
    except (ValueError, TypeError, KeyError, OSError):
        return
    try:
        with open_dataset(path) as ds:
            ds.read_steps(0, "actions", [0, 1])
            ds.trajectory_return(0)
    except LaomError:
        pass
