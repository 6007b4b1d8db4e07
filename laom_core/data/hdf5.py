"""The authors' released HDF5 dataset layout: read lazily, write atomically, validate.

Layout (kept exactly so the released 60 GB files open here and our files open in the
authors' loaders, which iterate the top-level keys and read ``obs``/``actions``/``states``)::

    /                      attrs: domain_name, task_name, difficulty, dynamic, img_hw,
                                  split, dataset_return
    /<i>  (i = 0..N-1)     attrs: traj_return  [, original_traj_idx in labeled subsets]
        obs      uint8   (T, H, W, 3)
        actions  float32 (T, A)   raw policy output, before clipping
        states   float32 (T, S)   proprioceptive observation flattened in sorted key order
        distractor/clip_id      int32   (T,)     optional, LAOM Studio only
        distractor/frame_index  int32   (T,)     optional
        distractor/camera       float32 (T, C)   optional
        distractor/color        float32 (T, K)   optional

Nothing but trajectory groups lives at the top level: the authors' loaders treat every
top-level key as a trajectory.
"""
from __future__ import annotations

import contextlib
import os
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import h5py
import numpy as np

from laom_core.errors import DatasetError, LaomError
from laom_core.workspace import atomic_path

FILE_ATTRS = ("domain_name", "task_name", "difficulty", "dynamic", "img_hw", "split", "dataset_return")
TRAJ_KEYS = ("obs", "actions", "states")
DISTRACTOR_SIGNALS = ("clip_id", "frame_index", "camera", "color")

# Storage layout of obs. Training reads short windows (frame stack 3 + future offset up
# to 10, i.e. ~14 consecutive frames) at random positions. Measured on this machine
# (20 x 1000 frames at 64 px with video distractors, page cache warm, 2000 random reads;
# heavy background load, so compare ratios):
#   contiguous          1 frame 150-165 us   14-frame window 260-275 us   size 1.00x
#   chunks of 16        1 frame 245-440 us   14-frame window 410-740 us   (8: ~same, 32: worse)
#   chunks 16 + lzf     1 frame 4.9 ms       window 9.1 ms                size 1/1.38
#   chunks 16 + gzip 1  1 frame 5.3 ms       window 11.9 ms               size 1/1.67
# So uncompressed obs are stored contiguous (HDF5 then reads any step range with one
# direct I/O at a computed offset, no chunk index or cache copy; it is also h5py's
# default when writing a whole array). Only when compression is asked
# for are obs chunked, by OBS_CHUNK_FRAMES frames: a window touches at most two chunks,
# and each chunk decompressed serves its neighbours from the chunk cache.
OBS_CHUNK_FRAMES = 16
# HDF5 keeps a chunk cache per open dataset, so the reader bounds both: at most
# MAX_OPEN_HANDLES dataset handles stay open (least recently used closed first), each with
# a READ_CACHE_BYTES cache (10 obs chunks at 64 px) -> at most ~256 MiB of cached frames
# even when sampling across all 5000 trajectories of a released file.
READ_CACHE_BYTES = 2 * 1024 * 1024
MAX_OPEN_HANDLES = 128


def _to_python(value: Any) -> Any:
    """h5py attribute values (numpy scalars, bytes) -> plain Python."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray):
        if value.shape == ():
            return _to_python(value[()])
        if value.size == 1:
            return _to_python(value.reshape(-1)[0])
        return [_to_python(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _traj_keys(f: h5py.File) -> tuple[list[str], list[str]]:
    """Trajectory group names sorted numerically, and any other top-level names."""
    traj, other = [], []
    for name in f.keys():
        (traj if name.isdigit() else other).append(name)
    traj.sort(key=int)
    return traj, other


def _refuse_link(path: Path, group: h5py.Group, name: str, what: str) -> None:
    """Raise unless ``group[name]`` is stored in this file (a hard link): a soft link may dangle
    and an external link reads another file, possibly a missing or unrelated one."""
    link = group.get(name, getlink=True)
    if isinstance(link, h5py.SoftLink):
        raise _fail(path, f"{what} is a soft link to {link.path!r}; only data stored in the file is read")
    if isinstance(link, h5py.ExternalLink):
        raise _fail(path, f"{what} is an external link to {link.filename!r} ({link.path!r}); "
                          "only data stored in the file is read")


def _img_hw_value(value: Any) -> int | None:
    value = _to_python(value)
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- reading


class Dataset:
    """A lazily opened dataset file: nothing is read until asked for.

    The h5py handle and per-trajectory dataset handles are opened once and reused (a
    look-up by name costs tens of microseconds, a cached handle nothing). After a fork
    (e.g. DataLoader workers) the child reopens the file on first use instead of sharing
    the parent's HDF5 state; pickling drops the handle too. Files are opened read-only
    with HDF5 file locking off, so any number of processes may read one file at once
    (our writers never modify a file in place, they rename a finished temp file).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._h5: h5py.File | None = None
        self._pid: int | None = None
        self._handles: OrderedDict[tuple[int, str], h5py.Dataset] = OrderedDict()
        self._abandoned: list[h5py.File] = []
        f = self._file()
        try:
            self._keys, _ = _traj_keys(f)
            if not self._keys:
                raise DatasetError(f"{self.path}: no trajectory groups (expected groups named 0..N-1)")
            self.attrs: dict[str, Any] = {k: _to_python(v) for k, v in f.attrs.items()}
            lengths = []
            dims = None
            for k in self._keys:
                T, traj_dims = self._check_trajectory(f, k)
                if dims is None:
                    dims = traj_dims
                elif traj_dims != dims:
                    raise DatasetError(
                        f"{self.path}: trajectory {k}: obs/action/state shapes {traj_dims} differ from "
                        f"trajectory {self._keys[0]}'s {dims}")
                lengths.append(T)
            self.lengths = np.array(lengths, dtype=np.int64)
            first = f[self._keys[0]]
            self.action_dim = int(first["actions"].shape[1])
            self.state_dim = int(first["states"].shape[1])
            obs_shape = first["obs"].shape
            dgroup = first.get("distractor")
            self.distractor_signals: list[str] = sorted(
                k for k in dgroup.keys()
                if isinstance(dgroup.get(k, getlink=True), h5py.HardLink) and isinstance(dgroup[k], h5py.Dataset)
            ) if isinstance(dgroup, h5py.Group) else []
        except DatasetError:
            self.close()
            raise
        except (KeyError, IndexError, TypeError, ValueError, OSError, RuntimeError) as exc:
            self.close()
            detail = " ".join(str(exc).split())[:300]
            raise DatasetError(f"{self.path}: not in the released layout ({detail}); "
                               "run `dataset info` to check it") from exc
        self.img_hw = _img_hw_value(self.attrs.get("img_hw")) or int(obs_shape[1])
        self.obs_shape = tuple(int(s) for s in obs_shape[1:])

    def _check_trajectory(self, f: h5py.File, k: str) -> tuple[int, tuple]:
        """Links, kinds, dtypes and shapes of one trajectory (metadata only, no data read)."""
        _refuse_link(self.path, f, k, f"trajectory {k}")
        g = f[k]
        if not isinstance(g, h5py.Group):
            raise DatasetError(f"{self.path}: top-level entry {k} is not a trajectory group")
        for key in TRAJ_KEYS:
            _refuse_link(self.path, g, key, f"trajectory {k}: {key}")
            if not isinstance(g.get(key), h5py.Dataset):
                raise DatasetError(f"{self.path}: trajectory {k} has no '{key}' dataset")
        obs, act, st = g["obs"], g["actions"], g["states"]
        if (obs.dtype != np.uint8 or obs.ndim != 4 or obs.shape[3] != 3 or act.dtype.kind != "f" or act.ndim != 2
                or st.dtype.kind != "f" or st.ndim != 2):
            raise DatasetError(
                f"{self.path}: trajectory {k}: obs {obs.dtype} {obs.shape}, actions {act.dtype} {act.shape}, "
                f"states {st.dtype} {st.shape}; expected uint8 (T, H, W, 3), float (T, A), float (T, S)")
        T = int(obs.shape[0])
        if act.shape[0] != T or st.shape[0] != T or T < 1:
            raise DatasetError(f"{self.path}: trajectory {k}: obs, actions, states have {T}, {act.shape[0]}, "
                               f"{st.shape[0]} steps (must be equal and >= 1)")
        return T, (tuple(obs.shape[1:]), int(act.shape[1]), int(st.shape[1]))

    # -- handle management
    def _file(self) -> h5py.File:
        pid = os.getpid()
        if self._h5 is None or self._pid != pid:
            if self._h5 is not None:
                # Inherited from the parent: never close it here (that would touch the
                # parent's HDF5 state); just stop using it.
                self._abandoned.append(self._h5)
            self._handles = OrderedDict()
            try:
                self._h5 = h5py.File(self.path, "r", locking=False, rdcc_nbytes=READ_CACHE_BYTES, rdcc_nslots=1009)
            except FileNotFoundError as exc:
                raise DatasetError(f"no such dataset file: {self.path}") from exc
            except OSError as exc:
                raise DatasetError(f"{self.path}: cannot open as HDF5 ({exc})") from exc
            self._pid = pid
        return self._h5

    def _dataset(self, traj: int, key: str) -> h5py.Dataset:
        handle = self._handles.get((traj, key))
        if handle is not None and self._pid == os.getpid():
            self._handles.move_to_end((traj, key))
        else:
            f = self._file()
            if not 0 <= traj < len(self._keys):
                raise DatasetError(f"trajectory {traj} out of range (file has {len(self._keys)})")
            try:
                handle = f[self._keys[traj]][key]
            except KeyError as exc:
                raise DatasetError(f"{self.path}: trajectory {self._keys[traj]} has no '{key}'") from exc
            except (OSError, RuntimeError, ValueError, TypeError) as exc:  # damaged metadata
                raise DatasetError(f"{self.path}: cannot open {key} of trajectory {self._keys[traj]} "
                                   f"(damaged file?): {' '.join(str(exc).split())[:300]}") from exc
            self._handles[(traj, key)] = handle
            if len(self._handles) > MAX_OPEN_HANDLES:
                self._handles.popitem(last=False)  # closes it (and frees its chunk cache)
        return handle

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.update(_h5=None, _pid=None, _handles=OrderedDict(), _abandoned=[])
        return state

    # -- public API
    @property
    def num_trajectories(self) -> int:
        return len(self._keys)

    @property
    def total_steps(self) -> int:
        return int(self.lengths.sum())

    @property
    def group_names(self) -> list[str]:
        return list(self._keys)

    def has(self, key: str, traj: int = 0) -> bool:
        """Whether trajectory ``traj`` holds dataset ``key`` (e.g. "distractor/camera")."""
        return key in self._file()[self._keys[traj]]

    def read(self, traj: int, key: str, start: int | None = None, stop: int | None = None) -> np.ndarray:
        """Steps [start, stop) of ``key`` ("obs", "actions", "states", "distractor/...")."""
        ds = self._dataset(traj, key)
        with self._read_errors(traj, key):
            return ds[start:stop]

    @contextlib.contextmanager
    def _read_errors(self, traj: int, key: str):
        """Damaged data (a flipped byte in a chunk, a file cut short) fails as one DatasetError."""
        try:
            yield
        except (OSError, RuntimeError, ValueError, TypeError) as exc:
            raise DatasetError(f"{self.path}: cannot read {key} of trajectory {self._keys[traj]} "
                               f"(damaged file?): {' '.join(str(exc).split())[:300]}") from exc

    def read_steps(self, traj: int, key: str, steps: Iterable[int] | np.ndarray) -> np.ndarray:
        """Arbitrary steps (any order, repeats allowed) of one trajectory, in that order.

        h5py fancy indexing needs strictly increasing indices, so we read the unique
        sorted steps once and scatter them back.
        """
        steps = np.asarray(steps, dtype=np.int64)
        uniq, inverse = np.unique(steps, return_inverse=True)
        n = int(self.lengths[traj])
        if uniq.size and (uniq[0] < 0 or uniq[-1] >= n):
            raise DatasetError(f"step out of range for trajectory {traj} of length {n}")
        ds = self._dataset(traj, key)
        with self._read_errors(traj, key):
            if uniq.size and uniq[-1] - uniq[0] + 1 <= 4 * uniq.size:
                # Dense: one contiguous slice is cheaper than a point selection.
                block = ds[int(uniq[0]) : int(uniq[-1]) + 1]
                data = block[uniq - uniq[0]]
            else:
                data = ds[uniq]
        return data[inverse]

    def trajectory(self, traj: int, keys: Iterable[str] = TRAJ_KEYS) -> dict[str, np.ndarray]:
        """Whole trajectory as arrays (only for one trajectory at a time)."""
        return {k: self.read(traj, k) for k in keys}

    def trajectory_return(self, traj: int) -> float:
        f = self._file()
        with self._read_errors(traj, "traj_return"):
            value = _to_python(f[self._keys[traj]].attrs.get("traj_return", np.nan))
            try:
                return float(value)
            except (TypeError, ValueError):
                raise DatasetError(f"{self.path}: trajectory {self._keys[traj]}: traj_return is not a number: "
                                   f"{str(value)[:40]!r}") from None

    def trajectory_attrs(self, traj: int) -> dict[str, Any]:
        return {k: _to_python(v) for k, v in self._file()[self._keys[traj]].attrs.items()}

    @property
    def returns(self) -> np.ndarray:
        return np.array([self.trajectory_return(i) for i in range(self.num_trajectories)], dtype=np.float64)

    @property
    def task(self) -> str:
        return f"{self.attrs.get('domain_name', '?')}-{self.attrs.get('task_name', '?')}"

    def close(self) -> None:
        self._handles = OrderedDict()
        if self._h5 is not None and self._pid == os.getpid():
            with contextlib.suppress(Exception):
                self._h5.close()
        self._h5 = None

    def __enter__(self) -> "Dataset":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self.num_trajectories

    def __repr__(self) -> str:
        return f"Dataset({str(self.path)!r}, trajectories={self.num_trajectories}, steps={self.total_steps})"


def _check_hdf5(path: Path) -> None:
    if not path.exists():
        raise DatasetError(f"no such dataset file: {path}")
    if not path.is_file():
        raise DatasetError(f"not a file: {path}")
    if not os.access(path, os.R_OK):
        raise DatasetError(f"cannot read {path} (permission denied)")
    try:
        ok = h5py.is_hdf5(str(path))
    except OSError:
        ok = False
    if not ok:
        raise DatasetError(f"{path} is not an HDF5 file")


def open_dataset(path: str | os.PathLike) -> Dataset:
    """Open a dataset file lazily (checks it is HDF5 with trajectory groups; see validate_dataset)."""
    path = Path(path).expanduser().resolve()
    _check_hdf5(path)
    return Dataset(path)


# --------------------------------------------------------------------------- validation


@dataclass
class DatasetInfo:
    """Summary of a validated dataset file (what `dataset info` prints)."""

    path: str
    task: str
    domain_name: str
    task_name: str
    difficulty: str
    dynamic: bool
    split: str
    img_hw: int
    num_trajectories: int
    total_steps: int
    min_length: int
    max_length: int
    equal_lengths: bool
    action_dim: int
    state_dim: int
    mean_return: float
    dataset_return: float
    distractor_signals: list[str] = field(default_factory=list)
    labeled_subset: bool = False
    size_bytes: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fail(path: Path, msg: str) -> DatasetError:
    return DatasetError(f"{path.name}: {msg}")


def validate_dataset(
    path: str | os.PathLike,
    *,
    require_equal_lengths: bool = False,
    min_length: int = 1,
    check_values: bool = True,
) -> DatasetInfo:
    """Check a file against the released layout and summarise it.

    Raises DatasetError naming the first problem: not HDF5, missing file attributes,
    no or incomplete trajectory groups, wrong dtypes or shapes, trajectories shorter than
    ``min_length`` or (with ``require_equal_lengths``) of different lengths, NaN/inf in
    actions or states (``check_values``; reads actions and states but never ``obs``).
    """
    path = Path(path).expanduser().resolve()
    _check_hdf5(path)
    try:
        f = h5py.File(path, "r", locking=False)
    except OSError as exc:
        raise _fail(path, f"cannot be opened as HDF5 (truncated or corrupt?): {exc}") from exc
    with f:
        try:
            return _validate_open(path, f, require_equal_lengths, min_length, check_values)
        except (KeyError, OSError, RuntimeError, TypeError, ValueError) as exc:  # h5py's errors on odd files
            raise _fail(path, f"cannot be read as a dataset ({type(exc).__name__}: {exc})") from exc


def _validate_open(path: Path, f: h5py.File, require_equal_lengths: bool, min_length: int,
                   check_values: bool) -> DatasetInfo:
    """The checks of :func:`validate_dataset` on an open file."""
    warnings: list[str] = []
    missing = [a for a in FILE_ATTRS if a not in f.attrs]
    if missing:
        raise _fail(path, f"missing file attribute(s): {', '.join(missing)}")
    attrs = {k: _to_python(v) for k, v in f.attrs.items()}
    img_hw = _img_hw_value(attrs["img_hw"])
    if img_hw is None or img_hw <= 0:
        raise _fail(path, f"file attribute img_hw is not a positive integer: {attrs['img_hw']!r}")
    keys, other = _traj_keys(f)
    if other:
        warnings.append(f"ignored non-trajectory top-level entries: {', '.join(sorted(other)[:5])}")
    if not keys:
        raise _fail(path, "no trajectory groups (expected groups named 0..N-1)")
    if keys != [str(i) for i in range(len(keys))]:
        warnings.append("trajectory group names are not exactly 0..N-1")

    lengths: list[int] = []
    returns: list[float] = []
    action_dim = state_dim = None
    signals: set[str] | None = None
    labeled = True
    for name in keys:
        where = f"trajectory {name}"
        _refuse_link(path, f, name, where)
        g = f[name]
        if not isinstance(g, h5py.Group):
            raise _fail(path, f"top-level entry {name} is not a group")
        for key in TRAJ_KEYS:
            _refuse_link(path, g, key, f"{where}: {key}")
            if key not in g or not isinstance(g[key], h5py.Dataset):
                raise _fail(path, f"{where} has no '{key}' dataset")
        obs, act, st = g["obs"], g["actions"], g["states"]
        if obs.dtype != np.uint8:
            raise _fail(path, f"{where}: obs dtype is {obs.dtype}, expected uint8")
        if obs.ndim != 4 or obs.shape[3] != 3:
            raise _fail(path, f"{where}: obs shape is {obs.shape}, expected (T, H, W, 3)")
        if obs.shape[1] != img_hw or obs.shape[2] != img_hw:
            raise _fail(path, f"{where}: obs frames are {obs.shape[1]}x{obs.shape[2]} but img_hw is {img_hw}")
        for key, ds in (("actions", act), ("states", st)):
            if ds.dtype != np.float32:
                raise _fail(path, f"{where}: {key} dtype is {ds.dtype}, expected float32")
            if ds.ndim != 2:
                raise _fail(path, f"{where}: {key} shape is {ds.shape}, expected (T, dim)")
        T = obs.shape[0]
        if act.shape[0] != T or st.shape[0] != T:
            raise _fail(path, f"{where}: obs, actions, states have {T}, {act.shape[0]}, {st.shape[0]} steps (must be equal)")
        if T < min_length:
            raise _fail(path, f"{where} has {T} steps, fewer than {min_length}")
        if action_dim is None:
            action_dim, state_dim = act.shape[1], st.shape[1]
        elif act.shape[1] != action_dim or st.shape[1] != state_dim:
            raise _fail(
                path,
                f"{where}: action/state dims {act.shape[1]}/{st.shape[1]} differ from trajectory 0 ({action_dim}/{state_dim})",
            )
        if "traj_return" not in g.attrs:
            raise _fail(path, f"{where} has no traj_return attribute")
        ret = _to_python(g.attrs["traj_return"])
        try:
            ret = float(ret)
        except (TypeError, ValueError) as exc:
            raise _fail(path, f"{where}: traj_return is not a number: {ret!r}") from exc
        labeled = labeled and "original_traj_idx" in g.attrs
        if check_values:
            for key, ds in (("actions", act), ("states", st)):
                values = ds[()]
                if not np.isfinite(values).all():
                    bad = int(np.argwhere(~np.isfinite(values))[0][0])
                    raise _fail(path, f"{where}: NaN or inf in {key} (first at step {bad})")
        present: set[str] = set()
        _refuse_link(path, g, "distractor", f"{where}: distractor")
        d = g.get("distractor")
        if isinstance(d, h5py.Group):
            for sig in d.keys():
                _refuse_link(path, d, sig, f"{where}: distractor/{sig}")
                ds = d[sig]
                if not isinstance(ds, h5py.Dataset):
                    continue
                if ds.shape[:1] != (T,):
                    raise _fail(path, f"{where}: distractor/{sig} has shape {ds.shape}, expected {T} steps")
                present.add(sig)
        signals = present if signals is None else signals & present
        lengths.append(int(T))
        returns.append(ret)

    lengths_arr = np.asarray(lengths)
    equal = bool((lengths_arr == lengths_arr[0]).all())
    if require_equal_lengths and not equal:
        raise _fail(
            path,
            f"trajectories have unequal lengths ({lengths_arr.min()}..{lengths_arr.max()} steps); this use needs equal lengths",
        )
    dataset_return = _to_python(attrs["dataset_return"])
    try:
        dataset_return = float(dataset_return)
    except (TypeError, ValueError):
        warnings.append(f"dataset_return is not a number: {dataset_return!r}")
        dataset_return = float("nan")
    return DatasetInfo(
        path=str(path),
        task=f"{attrs['domain_name']}-{attrs['task_name']}",
        domain_name=str(attrs["domain_name"]),
        task_name=str(attrs["task_name"]),
        difficulty=str(attrs["difficulty"]),
        dynamic=bool(attrs["dynamic"]),
        split=str(attrs["split"]),
        img_hw=img_hw,
        num_trajectories=len(keys),
        total_steps=int(lengths_arr.sum()),
        min_length=int(lengths_arr.min()),
        max_length=int(lengths_arr.max()),
        equal_lengths=equal,
        action_dim=int(action_dim),
        state_dim=int(state_dim),
        mean_return=float(np.mean(returns)),
        dataset_return=dataset_return,
        distractor_signals=sorted(signals or ()),
        labeled_subset=labeled,
        size_bytes=path.stat().st_size,
        warnings=warnings,
    )


# --------------------------------------------------------------------------- writing


def _flatten_extra(extra: Mapping[str, Any] | None, prefix: str = "") -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for key, value in (extra or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten_extra(value, name + "/"))
        else:
            out[name] = np.asarray(value)
    return out


class DatasetWriter:
    """Write a dataset file atomically: a temp file next to ``path``, renamed on success.

    Use as a context manager. If the block raises (including KeyboardInterrupt) the temp
    file is deleted and ``path`` is never touched; an existing ``path`` is refused unless
    ``overwrite``. ``dataset_return`` defaults to the mean of the trajectory returns.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        attrs: Mapping[str, Any],
        overwrite: bool = False,
        compression: str | None = None,
    ) -> None:
        self.path = Path(path).expanduser().resolve()
        self.attrs = dict(attrs)
        self.overwrite = overwrite
        self.compression = compression
        self._stack: contextlib.ExitStack | None = None
        self._h5: h5py.File | None = None
        self._returns: list[float] = []
        self._dims: tuple[int, int, tuple[int, ...]] | None = None
        self.tmp_path: Path | None = None

    @property
    def num_trajectories(self) -> int:
        return len(self._returns)

    def __enter__(self) -> "DatasetWriter":
        if self.path.exists() and not self.overwrite:
            raise DatasetError(f"{self.path} exists; refusing to overwrite (use --overwrite)")
        if self.path.is_dir():
            raise DatasetError(f"{self.path} is a folder, not a file name")
        self._stack = contextlib.ExitStack()
        try:
            self.tmp_path = self._stack.enter_context(atomic_path(self.path, overwrite=self.overwrite))
            # track_order keeps groups in insertion order for readers that iterate keys()
            self._h5 = h5py.File(self.tmp_path, "w", track_order=True)
        except BaseException:
            self._stack.close()
            raise
        return self

    def add_trajectory(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        states: np.ndarray,
        traj_return: float,
        extra: Mapping[str, Any] | None = None,
        group_attrs: Mapping[str, Any] | None = None,
    ) -> int:
        """Append one trajectory as group str(index); returns the index.

        ``extra`` holds per-step arrays (first dimension T) stored under their names, e.g.
        {"distractor/clip_id": ..., "distractor/camera": ...} or {"distractor": {...}}.
        """
        if self._h5 is None:
            raise RuntimeError("DatasetWriter used outside its `with` block")
        obs = np.asarray(obs)
        if obs.dtype != np.uint8:
            raise DatasetError(f"obs must be uint8, got {obs.dtype}")
        actions = np.asarray(actions, dtype=np.float32)
        states = np.asarray(states, dtype=np.float32)
        if obs.ndim != 4 or obs.shape[3] != 3:
            raise DatasetError(f"obs must be (T, H, W, 3), got {obs.shape}")
        if actions.ndim != 2 or states.ndim != 2:
            raise DatasetError(f"actions and states must be 2-D (T, dim), got {actions.shape} and {states.shape}")
        T = obs.shape[0]
        if T < 1 or actions.shape[0] != T or states.shape[0] != T:
            raise DatasetError(f"obs, actions, states must have the same number of steps >= 1: {T}, {actions.shape[0]}, {states.shape[0]}")
        dims = (actions.shape[1], states.shape[1], obs.shape[1:])
        if self._dims is None:
            self._dims = dims
        elif dims != self._dims:
            raise DatasetError(f"trajectory shapes {dims} differ from the first trajectory's {self._dims}")
        for key, arr in (("actions", actions), ("states", states)):
            if not np.isfinite(arr).all():
                raise DatasetError(f"NaN or inf in {key} of trajectory {self.num_trajectories}; refusing to write it")
        traj_return = float(traj_return)
        extras = _flatten_extra(extra)
        for name, arr in extras.items():
            if arr.shape[:1] != (T,):
                raise DatasetError(f"extra dataset {name} has shape {arr.shape}, expected {T} steps first")
            if name in TRAJ_KEYS:
                raise DatasetError(f"extra dataset name {name} clashes with a standard one")

        index = self.num_trajectories
        g = self._h5.create_group(str(index))
        if self.compression:
            chunk = (min(T, OBS_CHUNK_FRAMES),) + obs.shape[1:]
            g.create_dataset("obs", data=obs, chunks=chunk, compression=self.compression)
        else:
            g.create_dataset("obs", data=obs)  # contiguous: fastest random reads (see above)
        g.create_dataset("actions", data=actions)
        g.create_dataset("states", data=states)
        for name, arr in extras.items():
            if arr.dtype == np.float64:
                arr = arr.astype(np.float32)
            elif arr.dtype == np.int64:
                arr = arr.astype(np.int32)
            g.create_dataset(name, data=arr)
        g.attrs["traj_return"] = np.float64(traj_return)
        for key, value in (group_attrs or {}).items():
            g.attrs[key] = value
        self._returns.append(traj_return)
        return index

    def __exit__(self, exc_type, exc, tb) -> bool:
        assert self._stack is not None
        try:
            if exc_type is None:
                if not self._returns:
                    raise DatasetError(f"no trajectories written; {self.path} not created")
                attrs = dict(self.attrs)
                attrs.setdefault("dataset_return", float(np.mean(self._returns)))
                if "img_hw" not in attrs and self._dims is not None:
                    attrs["img_hw"] = int(self._dims[2][0])
                for key, value in attrs.items():
                    if value is None:
                        continue
                    if isinstance(value, bool):
                        value = np.bool_(value)
                    self._h5.attrs[key] = value
                self._h5.flush()
            self._h5.close()
            self._h5 = None
        except BaseException as inner:
            with contextlib.suppress(Exception):
                if self._h5 is not None:
                    self._h5.close()
            self._stack.__exit__(type(inner), inner, inner.__traceback__)
            raise
        # Renames the temp file on success; deletes it and re-raises on error.
        return bool(self._stack.__exit__(exc_type, exc, tb))


def write_dataset(path: str | os.PathLike, attrs: Mapping[str, Any], trajectories: Iterable[Mapping[str, Any]], overwrite: bool = False) -> Path:
    """Convenience: write dicts with obs/actions/states/traj_return[/extra/group_attrs]."""
    with DatasetWriter(path, attrs, overwrite=overwrite) as w:
        for t in trajectories:
            w.add_trajectory(t["obs"], t["actions"], t["states"], t["traj_return"], t.get("extra"), t.get("group_attrs"))
    return w.path


__all__ = [
    "Dataset",
    "DatasetInfo",
    "DatasetWriter",
    "DISTRACTOR_SIGNALS",
    "FILE_ATTRS",
    "LaomError",
    "open_dataset",
    "validate_dataset",
    "write_dataset",
]
