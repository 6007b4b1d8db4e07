"""Reading a run's ``artifacts/latents.npz`` without reading its latents.

A latents file at real size is 50,000 held-out transitions x 8,192 float32 dims: 1.6 GB
in one ``latents`` array beside a few small ones (actions, states, step, trajectory,
distractor signals). ``np.savez`` stores members uncompressed, so the ``latents`` array
is a plain ``.npy`` at a fixed offset inside the zip: :func:`open_latents` memory-maps it
there (nothing read until rows are asked for) and loads only the small columns. A
compressed member (``np.savez_compressed``) cannot be mapped and is read whole.

:func:`write_synthetic_latents` makes a file of the same layout with structure a map can
show (latents driven by the actions), for tests and benchmarks.
"""
from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from laom_core.errors import LaomError
from laom_core.workspace import atomic_path

_LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")  # zip local file header (30 bytes)
_LOCAL_SIGNATURE = 0x04034B50


def npz_member_memmap(path: str | Path, name: str) -> np.ndarray | None:
    """``name`` of an ``.npz`` as a read-only memory map, or None when it cannot be mapped
    (a compressed member, an object array)."""
    path = Path(path)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(f"{name}.npy")
    if info.compress_type != zipfile.ZIP_STORED:
        return None
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        fields = _LOCAL_HEADER.unpack(fh.read(_LOCAL_HEADER.size))
        if fields[0] != _LOCAL_SIGNATURE:
            return None
        name_len, extra_len = fields[9], fields[10]
        fh.seek(info.header_offset + _LOCAL_HEADER.size + name_len + extra_len)
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        offset = fh.tell()
    if dtype.hasobject:
        return None
    if int(np.prod(shape)) == 0:
        return np.zeros(shape, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", shape=shape, order="F" if fortran else "C", offset=offset)


@dataclass
class LatentsFile:
    """``latents`` (N, D), memory-mapped when possible; ``columns``: every other array."""

    path: Path
    latents: np.ndarray
    columns: dict[str, np.ndarray]

    @property
    def n(self) -> int:
        return int(self.latents.shape[0])

    @property
    def dim(self) -> int:
        return int(self.latents.shape[1])

    def rows(self, index: np.ndarray, dtype=np.float32) -> np.ndarray:
        """The latents of ``index`` (sorted rows read faster from a map), as ``dtype``."""
        return np.asarray(self.latents[np.asarray(index)], dtype=dtype)


def open_latents(path: str | Path) -> LatentsFile:
    """Open and check ``latents.npz``; raises :class:`LaomError` naming the problem."""
    path = Path(path)
    if not path.is_file():
        raise LaomError(f"no latents file at {path} (the run has not saved its latent actions yet)")
    try:
        with np.load(path, allow_pickle=False) as data:
            names = list(data.files)
            if "latents" not in names:
                raise LaomError(f"{path} has no 'latents' array (found: {', '.join(sorted(names)) or 'nothing'})")
            columns = {k: np.asarray(data[k]) for k in names if k != "latents"}
            z = npz_member_memmap(path, "latents")
            if z is None:
                z = np.asarray(data["latents"])
    except LaomError:
        raise
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, struct.error) as exc:
        raise LaomError(f"{path} is not a readable latents file: {exc}") from None
    if z.ndim != 2 or len(z) < 5:
        raise LaomError(f"{path}: latents must be (N, D) with N >= 5, got shape {z.shape}")
    for key, value in columns.items():
        if value.ndim >= 1 and len(value) != len(z):
            raise LaomError(f"{path}: '{key}' has {len(value)} rows but latents has {len(z)}")
    return LatentsFile(path=path, latents=z, columns=columns)


def write_synthetic_latents(path: str | Path, n: int, dim: int, *, action_dim: int = 6, state_dim: int = 17,
                            trajectory_length: int = 1000, seed: int = 0, chunk: int = 4096) -> Path:
    """A latents.npz of the training layout (latents, actions, states, step, traj, obs_index,
    clip_id) whose latents are a smooth function of the actions plus noise, written
    atomically. Float32 latents are filled in chunks (one (n, dim) array in memory)."""
    rng = np.random.default_rng(seed)
    traj = (np.arange(n) // trajectory_length).astype(np.int64)
    step = (np.arange(n) % trajectory_length).astype(np.int64)
    t = step[:, None] / 50.0
    actions = np.tanh(np.sin(t * (1 + np.arange(action_dim)) + traj[:, None]) * 2
                      + 0.3 * rng.standard_normal((n, action_dim))).astype(np.float32)
    states = rng.standard_normal((n, state_dim)).astype(np.float32)
    mix = rng.standard_normal((action_dim, 16)).astype(np.float32)
    lift = (rng.standard_normal((16, dim)) / 4.0).astype(np.float32)
    # One block of noise, rolled by a random shift per chunk: cheap at 50,000 x 8192.
    noise = 0.05 * rng.standard_normal((min(chunk, n), dim), dtype=np.float32)
    latents = np.empty((n, dim), dtype=np.float32)
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        np.matmul(np.tanh(actions[s:e] @ mix), lift, out=latents[s:e])
        latents[s:e] += np.roll(noise, int(rng.integers(len(noise))), axis=0)[: e - s]
    arrays = {"latents": latents, "actions": actions, "states": states, "step": step, "traj": traj,
              "obs_index": np.stack([traj, step], axis=1), "clip_id": (traj % 7).astype(np.int64)}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    return path
