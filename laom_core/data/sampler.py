"""The one batch sampler every method uses: (o_t, o_{t+1}, o_{t+k}, a_t, s_t) from HDF5.

Observations are frame stacks: ``obs`` at step t holds frames t-stack+1 .. t along the
channel axis, oldest first (3 channels each); at the start of a trajectory the missing
frames repeat frame 0. ``next_obs`` is the stack at t+1 and ``future_obs`` the stack at
t+k with k drawn uniformly from 1..future_obs_offset (limited so t+k stays inside the
trajectory), or k = 1 when ``multi_step=False``. Anchors t are the steps that have a
successor (t <= T-2), so a trajectory of T steps gives T-1 transitions.

Two storage paths, chosen from ``memory_budget_mb``:

* **full**: the selected trajectories fit the budget, so their frames are read once into
  one contiguous uint8 array (N, 3, H, W) (on the training device when it is CUDA) and a
  batch is one fancy index over it. Random batches are uniform over all transitions.
* **chunked**: a dataset larger than the budget (the released sets are ~60 GB) is read
  in chunks of ``chunk_len`` anchors per trajectory (plus the frames before and after a
  chunk that its stacks and futures need) into a fixed :class:`ChunkCache` sized from the
  budget. Random batches are drawn from a *pool* of resident chunks; after every batch
  the ``refresh`` oldest pool chunks are replaced by the next chunks of a shuffled epoch
  order, read ahead by a background thread while the model trains (h5py reads run while
  torch releases the GIL). Trade-off: a batch mixes only the resident chunks (at 64 px a
  1 GB budget holds ~500 chunks of 128 steps, ~64k transitions), neighbouring steps of one
  chunk are correlated, and sampling is uniform over an epoch rather than within a batch:
  each chunk enters the pool once per epoch and, with refresh = batch/chunk_len, every
  transition is drawn about once per epoch. In exchange each step reads only a few MB
  from disk, sequentially, and memory stays flat. The first random batch fills the pool
  (about one budget's worth of reads, seconds for a few GB); the budget also covers the
  batch being assembled and the chunk reads in flight (see ``_ensure_cache``).

Both paths assemble a batch with no per-sample Python loop and return identical tensors
for the same (trajectory, step, offset) requests (:meth:`TrajectorySampler.gather`,
:meth:`TrajectorySampler.iterate`).
"""
from __future__ import annotations

import math
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from laom_core.data.chunk_cache import ChunkCache
from laom_core.errors import ConfigError, DatasetError

_SCRATCH_SLOTS = 2  # unpinned slots kept free for ordered passes / explicit gathers
_READ_BUFFERS = 2  # chunk reads in progress at once: the main thread's and the prefetch thread's


@dataclass
class Batch:
    """One batch; every field is a tensor on the sampler's device.

    obs, next_obs, future_obs: uint8 (B, 3*stack, H, W); offset: long (B,) (the k of
    future_obs); actions: float32 (B, A) and states: float32 (B, S) at t; traj: long (B,)
    (trajectory group id in the file); step: long (B,) (t).
    """

    obs: torch.Tensor
    next_obs: torch.Tensor
    future_obs: torch.Tensor
    offset: torch.Tensor
    actions: torch.Tensor
    states: torch.Tensor
    traj: torch.Tensor
    step: torch.Tensor

    def __len__(self) -> int:
        return int(self.obs.shape[0])

    def to(self, device: str | torch.device) -> "Batch":
        return Batch(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})


def to_float(obs: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> float32 in [-1, 1] (on the tensor's device)."""
    return obs.to(torch.float32).mul_(2.0 / 255.0).sub_(1.0)


def locate_transitions(lengths: np.ndarray, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat transition indices (0 .. sum(len - 1) - 1, trajectory by trajectory) ->
    (index into the trajectories, step), the requests :meth:`TrajectorySampler.gather` takes."""
    cum = np.concatenate([[0], np.cumsum(np.maximum(np.asarray(lengths, dtype=np.int64) - 1, 0))])
    j = np.searchsorted(cum, flat, side="right") - 1
    return j.astype(np.int64), (np.asarray(flat) - cum[j]).astype(np.int64)


def split_trajectories(
    num_trajectories: int, held_out_fraction: float, seed: int = 0
) -> tuple[list[int], list[int]]:
    """Split trajectory ids 0..N-1 into (train, held_out), by trajectory, seeded.

    With at least 2 trajectories both parts get at least one; with a single trajectory it
    is used for training and the held-out part is empty.
    """
    if num_trajectories < 1:
        raise DatasetError("cannot split a dataset with no trajectories")
    if not 0.0 <= held_out_fraction < 1.0:
        raise ConfigError(f"held_out_fraction must be in [0, 1), got {held_out_fraction}")
    perm = np.random.default_rng(seed).permutation(num_trajectories)
    if num_trajectories == 1:
        return [0], []
    n_held = min(max(1, int(round(held_out_fraction * num_trajectories))), num_trajectories - 1)
    return sorted(int(i) for i in perm[n_held:]), sorted(int(i) for i in perm[:n_held])


class TrajectorySampler:
    """Frame-stacked transition batches from a released-layout HDF5 file (see module doc).

    Args:
        path: the HDF5 file (groups "0".."N-1" with obs (T,H,W,3) uint8, actions, states).
        frame_stack: frames per observation stack.
        future_obs_offset: largest k of future_obs.
        traj_ids: trajectory group ids to use (default: all); e.g. from split_trajectories.
        memory_budget_mb: host memory for the data path: the frames, actions and states
            held (whole file or chunk cache) plus the batch being assembled and the
            chunk reads in progress.
        seed: seeds the random batches (same seed, same batches, on both paths).
        device: where batches go.
        chunk_len: anchors per chunk on the chunked path (shrunk if the budget is tiny).
        prefetch: read the next pool chunks in a background thread (chunked path).
        cache_on_device: keep the full-path array on the device (default: when CUDA).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        frame_stack: int = 3,
        future_obs_offset: int = 10,
        traj_ids: Sequence[int] | None = None,
        memory_budget_mb: float = 1024,
        seed: int = 0,
        device: str | torch.device = "cpu",
        chunk_len: int = 128,
        prefetch: bool = True,
        cache_on_device: bool | None = None,
    ) -> None:
        if int(frame_stack) < 1:
            raise ConfigError(f"frame_stack must be >= 1, got {frame_stack}")
        if int(future_obs_offset) < 1:
            raise ConfigError(f"future_obs_offset must be >= 1, got {future_obs_offset}")
        if not memory_budget_mb or not math.isfinite(float(memory_budget_mb)) or float(memory_budget_mb) <= 0:
            raise ConfigError(f"memory_budget_mb must be > 0, got {memory_budget_mb}")
        if int(chunk_len) < 1:
            raise ConfigError(f"chunk_len must be >= 1, got {chunk_len}")
        self.path = Path(path)
        self.frame_stack = int(frame_stack)
        self.future_obs_offset = int(future_obs_offset)
        self.memory_budget_mb = float(memory_budget_mb)
        self.device = torch.device(device)
        self._rng = np.random.default_rng(seed)
        self._file = None
        self._executor: ThreadPoolExecutor | None = None
        self._inflight: list[tuple[Future, int, int]] = []
        self._open(traj_ids)

        budget = int(self.memory_budget_mb * 2**20)
        step_bytes = 3 * self._h * self._w + 4 * (self.action_dim + self.state_dim)
        total_frames = int(self._lengths.sum())
        # full load when the frames fit with room to spare for assembling batches (of 256)
        self.mode = "full" if total_frames * step_bytes + self._batch_nbytes(256) <= budget else "chunked"
        if self.mode == "full":
            if cache_on_device is None:
                cache_on_device = self.device.type == "cuda"
            self._load_full(cache_on_device)
        else:
            self._prefetch = bool(prefetch)
            self._setup_chunks(int(chunk_len), budget)

    # ------------------------------------------------------------------ opening
    def _open(self, traj_ids: Sequence[int] | None) -> None:
        import h5py

        if not self.path.is_file():
            raise DatasetError(f"dataset file not found: {self.path}")
        try:
            self._file = h5py.File(self.path, "r", locking=False)
        except OSError as exc:
            raise DatasetError(f"{self.path} is not a readable HDF5 file ({exc})") from exc
        f = self._file
        available = sorted(int(k) for k in f.keys() if k.isdigit() and isinstance(f[k], h5py.Group))
        if not available:
            self.close()
            raise DatasetError(
                f"{self.path} has no trajectory groups '0'..'N-1': not in the released dataset layout"
            )
        self.num_file_trajectories = len(available)
        if traj_ids is None:
            ids = available
        else:
            ids = [int(i) for i in traj_ids]
            missing = sorted(set(ids) - set(available))
            if missing:
                self.close()
                raise DatasetError(f"{self.path} has no trajectory {missing[0]} (it has {len(available)})")
        if not ids:
            self.close()
            raise DatasetError(f"no trajectories selected from {self.path}")
        lengths, hw, adim, sdim = [], None, None, None
        for i in ids:
            g = f[str(i)]
            for key in ("obs", "actions", "states"):
                if key not in g or not isinstance(g[key], h5py.Dataset):
                    self.close()
                    raise DatasetError(f"{self.path}: trajectory {i} has no '{key}' dataset")
            obs, act, st = g["obs"], g["actions"], g["states"]
            if obs.ndim != 4 or obs.shape[-1] != 3 or obs.dtype != np.uint8:
                self.close()
                raise DatasetError(
                    f"{self.path}: trajectory {i} obs must be uint8 (T,H,W,3), got {obs.dtype} {obs.shape}"
                )
            if act.ndim != 2 or st.ndim != 2:
                self.close()
                raise DatasetError(f"{self.path}: trajectory {i} actions/states must be 2-D (T, dim)")
            if not (obs.shape[0] == act.shape[0] == st.shape[0]):
                self.close()
                raise DatasetError(
                    f"{self.path}: trajectory {i} has {obs.shape[0]} frames but "
                    f"{act.shape[0]} actions and {st.shape[0]} states"
                )
            this = (obs.shape[1], obs.shape[2]), act.shape[1], st.shape[1]
            if hw is None:
                hw, adim, sdim = this
            elif this != (hw, adim, sdim):
                self.close()
                raise DatasetError(
                    f"{self.path}: trajectory {i} has image/action/state shape {this}, "
                    f"trajectory {ids[0]} has {(hw, adim, sdim)}"
                )
            lengths.append(obs.shape[0])
        self._ids = np.asarray(ids, dtype=np.int64)
        self._lengths = np.asarray(lengths, dtype=np.int64)
        self._h, self._w = int(hw[0]), int(hw[1])
        self.action_dim, self.state_dim = int(adim), int(sdim)
        n_trans = np.maximum(self._lengths - 1, 0)
        self._cum_trans = np.concatenate([[0], np.cumsum(n_trans)]).astype(np.int64)
        if self._cum_trans[-1] == 0:
            self.close()
            raise DatasetError(f"{self.path}: no trajectory has two steps, so there is no transition")
        self.attrs = {k: _plain(v) for k, v in f.attrs.items()}

    def _read(self, j: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Steps [lo, hi) of selected trajectory j: obs (n,H,W,3), actions, states."""
        g = self._file[str(int(self._ids[j]))]
        obs = g["obs"][lo:hi]
        act = np.asarray(g["actions"][lo:hi], dtype=np.float32)
        st = np.asarray(g["states"][lo:hi], dtype=np.float32)
        if not (np.isfinite(act).all() and np.isfinite(st).all()):
            raise DatasetError(
                f"{self.path}: trajectory {int(self._ids[j])} has NaN or inf in actions/states "
                f"(steps {lo}..{hi - 1})"
            )
        return obs, act, st

    # ------------------------------------------------------------------ full path
    def _load_full(self, on_device: bool) -> None:
        n = int(self._lengths.sum())
        frames = np.empty((n, 3, self._h, self._w), dtype=np.uint8)
        self._actions = np.empty((n, self.action_dim), dtype=np.float32)
        self._states = np.empty((n, self.state_dim), dtype=np.float32)
        self._frame_base = np.concatenate([[0], np.cumsum(self._lengths)[:-1]]).astype(np.int64)
        for j, (base, length) in enumerate(zip(self._frame_base, self._lengths)):
            obs, act, st = self._read(j, 0, int(length))
            frames[base : base + length] = obs.transpose(0, 3, 1, 2)
            self._actions[base : base + length] = act
            self._states[base : base + length] = st
        self._frames_np = frames
        self._frames_dev = torch.from_numpy(frames).to(self.device) if on_device else None
        if on_device:
            self._frames_np = None  # host copy released; the device holds the frames
        self._full_nbytes = frames.nbytes + self._actions.nbytes + self._states.nbytes

    # ------------------------------------------------------------------ chunked path
    def _setup_chunks(self, chunk_len: int, budget: int) -> None:
        """Chunk index over the selected trajectories; the cache itself is sized at first use.

        The budget covers the cache *and* the transient buffers of the data path: the
        batch being assembled (known at the first request) and one chunk read by the main
        thread plus one by the prefetch thread. Tiny budgets shrink ``chunk_len``.
        """
        s, k = self.frame_stack, self.future_obs_offset
        min_slots = 1 + 1 + _SCRATCH_SLOTS  # one pool chunk, one in flight, scratch
        while True:
            frames_per_slot = chunk_len + k + s - 1
            slot_bytes = ChunkCache.slot_nbytes(frames_per_slot, (self._h, self._w), self.action_dim, self.state_dim)
            # the slots, the two read buffers, and room for a batch of at least one sample
            if budget >= (min_slots + _READ_BUFFERS) * slot_bytes + self._batch_nbytes(1) or chunk_len == 1:
                break
            chunk_len = max(1, chunk_len // 2)
        need = (min_slots + _READ_BUFFERS) * slot_bytes + self._batch_nbytes(1)
        if budget < need:
            raise ConfigError(
                f"memory_budget_mb={self.memory_budget_mb:g} is too small: the chunked sampler needs at "
                f"least {need / 2**20:.2f} MB for {self._h}x{self._w} frames"
            )
        self.chunk_len = chunk_len
        self._budget, self._slot_bytes, self._frames_per_slot = budget, slot_bytes, frames_per_slot
        self._min_slots = min_slots
        self._cache: ChunkCache | None = None
        self.reserve_nbytes = 0
        n_trans = self._cum_trans[1:] - self._cum_trans[:-1]
        n_chunks = (n_trans + chunk_len - 1) // chunk_len
        self._chunk_start = np.concatenate([[0], np.cumsum(n_chunks)]).astype(np.int64)
        total = int(self._chunk_start[-1])
        self._chunk_traj = np.repeat(np.arange(len(self._ids)), n_chunks).astype(np.int64)
        self._chunk_c = np.arange(total, dtype=np.int64) - self._chunk_start[self._chunk_traj]
        anchor_lo = self._chunk_c * chunk_len
        self._chunk_anchor_lo = anchor_lo
        self._chunk_anchor_count = np.minimum(chunk_len, n_trans[self._chunk_traj] - anchor_lo)
        self.num_chunks = total
        self._pool_keys: np.ndarray | None = None

    def _batch_nbytes(self, batch_size: int) -> int:
        """Host bytes of one assembled batch (unique frames, actions, states)."""
        frames = (2 * self.frame_stack + 1) * 3 * self._h * self._w
        return batch_size * (frames + 4 * (self.action_dim + self.state_dim) + 4 * 8)

    def _ensure_cache(self, batch_size: int) -> ChunkCache:
        """Create the slot cache at the first request: budget minus batch and read buffers."""
        if self._cache is None:
            reserve = self._batch_nbytes(batch_size) + _READ_BUFFERS * self._slot_bytes
            num_slots = (self._budget - reserve) // self._slot_bytes
            if num_slots < self._min_slots:
                need = reserve + self._min_slots * self._slot_bytes
                raise ConfigError(
                    f"memory_budget_mb={self.memory_budget_mb:g} is too small for batches of {batch_size} "
                    f"{self._h}x{self._w} frame stacks: the chunked sampler needs at least {need / 2**20:.1f} MB"
                )
            self._cache = ChunkCache(int(num_slots), self._frames_per_slot, (self._h, self._w),
                                     self.action_dim, self.state_dim)
            self.reserve_nbytes = reserve
        return self._cache

    @property
    def cache_nbytes(self) -> int:
        """Bytes the sampler holds for data: the full array, or the chunk cache's slots."""
        if self.mode == "full":
            return self._full_nbytes
        return self._cache.nbytes if self._cache is not None else 0

    def _chunk_window(self, key: int) -> tuple[int, int, int]:
        """(trajectory index j, first step lo, stop hi) of the frames chunk ``key`` stores."""
        j = int(self._chunk_traj[key])
        a0 = int(self._chunk_anchor_lo[key])
        a1 = a0 + int(self._chunk_anchor_count[key])  # exclusive last anchor
        lo = max(a0 - (self.frame_stack - 1), 0)
        hi = min(a1 - 1 + self.future_obs_offset + 1, int(self._lengths[j]))
        return j, lo, hi

    def _fill_slot(self, key: int, slot: int) -> tuple[int, int]:
        j, lo, hi = self._chunk_window(key)
        obs, act, st = self._read(j, lo, hi)
        n = hi - lo
        c = self._cache
        c.obs[slot, :n] = obs.transpose(0, 3, 1, 2)
        c.actions[slot, :n] = act
        c.states[slot, :n] = st
        return key, lo

    def _load_sync(self, key: int) -> int:
        slot = self._cache.acquire()
        _, lo = self._fill_slot(key, slot)
        self._cache.commit(slot, key, lo)
        return slot

    def _next_key(self) -> int:
        while True:
            if self._order_pos >= len(self._order):
                self._order = self._rng.permutation(self.num_chunks)
                self._order_pos = 0
            key = int(self._order[self._order_pos])
            self._order_pos += 1
            if key not in self._busy_keys:
                return key

    def _init_pool(self, batch_size: int) -> None:
        cache = self._cache
        in_flight = max(1, min(round(batch_size / self.chunk_len), (cache.num_slots - _SCRATCH_SLOTS) // 4))
        pool = cache.num_slots - _SCRATCH_SLOTS - in_flight
        pool = min(pool, self.num_chunks)
        self._refresh = min(in_flight, self.num_chunks - pool)
        self._order = self._rng.permutation(self.num_chunks)
        self._order_pos = 0
        self._busy_keys: set[int] = set()
        keys = np.empty(pool, dtype=np.int64)
        slots = np.empty(pool, dtype=np.int64)
        for i in range(pool):
            keys[i] = self._next_key()
            self._busy_keys.add(int(keys[i]))
            slots[i] = self._load_sync(int(keys[i]))
        self._pool_keys, self._pool_slots, self._pool_ptr = keys, slots, 0
        self._submit_refresh()

    def _submit_refresh(self) -> None:
        for _ in range(self._refresh):
            key = self._next_key()
            self._busy_keys.add(key)
            slot = self._cache.acquire()
            if self._prefetch:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="laom-prefetch")
                fut = self._executor.submit(self._fill_slot, key, slot)
            else:
                fut = Future()
                fut.set_result(self._fill_slot(key, slot))
            self._inflight.append((fut, key, slot))

    def _swap_in(self) -> None:
        """Replace the oldest pool chunks by the read-ahead ones (waits for them, in order)."""
        for fut, key, slot in self._inflight:
            _, lo = fut.result()
            self._cache.commit(slot, key, lo)
            p = self._pool_ptr
            old_key, old_slot = int(self._pool_keys[p]), int(self._pool_slots[p])
            self._busy_keys.discard(old_key)
            self._cache.release(old_slot)  # stays cached until its slot is needed
            self._pool_keys[p], self._pool_slots[p] = key, slot
            self._pool_ptr = (p + 1) % len(self._pool_keys)
        self._inflight = []

    # ------------------------------------------------------------------ public API
    @property
    def num_transitions(self) -> int:
        return int(self._cum_trans[-1])

    @property
    def img_hw(self) -> tuple[int, int]:
        return (self._h, self._w)

    @property
    def lengths(self) -> np.ndarray:
        """Frames per trajectory, in ``traj_ids`` order."""
        return self._lengths.copy()

    @property
    def traj_ids(self) -> list[int]:
        return [int(i) for i in self._ids]

    @property
    def obs_channels(self) -> int:
        return 3 * self.frame_stack

    def sample(self, batch_size: int, multi_step: bool = True) -> Batch:
        """A random batch (see the module doc for how the two paths draw it)."""
        batch_size = int(batch_size)
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if self.mode == "full":
            u = self._rng.integers(0, self.num_transitions, size=batch_size)
            j = np.searchsorted(self._cum_trans, u, side="right") - 1
            t = u - self._cum_trans[j]
            k = self._draw_offsets(j, t, multi_step)
            return self._gather_full(j, t, k)
        if self._pool_keys is None:
            self._ensure_cache(batch_size)
            self._init_pool(batch_size)
        else:
            self._swap_in()
            self._submit_refresh()
        counts = self._chunk_anchor_count[self._pool_keys]
        cum = np.concatenate([[0], np.cumsum(counts)])
        u = self._rng.integers(0, int(cum[-1]), size=batch_size)
        p = np.searchsorted(cum, u, side="right") - 1
        keys = self._pool_keys[p]
        j = self._chunk_traj[keys]
        t = self._chunk_anchor_lo[keys] + (u - cum[p])
        k = self._draw_offsets(j, t, multi_step)
        return self._gather_slots(j, t, k, self._pool_slots[p])

    def gather(self, traj_index: np.ndarray, step: np.ndarray, offset: np.ndarray | int = 1) -> Batch:
        """The batch for explicit requests: ``traj_index`` indexes ``traj_ids`` (0..len-1).

        ``step`` must be an anchor (0 <= t <= T-2) and ``offset`` in 1..future_obs_offset
        with t+offset <= T-1.
        """
        j = np.asarray(traj_index, dtype=np.int64).reshape(-1)
        t = np.asarray(step, dtype=np.int64).reshape(-1)
        k = np.broadcast_to(np.asarray(offset, dtype=np.int64), t.shape).copy()
        if j.shape != t.shape:
            raise ValueError("traj_index and step must have the same length")
        if len(j) and (j.min() < 0 or j.max() >= len(self._ids)):
            raise ValueError("traj_index out of range")
        T = self._lengths[j]
        if len(t) and ((t < 0).any() or (t > T - 2).any() or (k < 1).any() or (t + k > T - 1).any()
                       or (k > self.future_obs_offset).any()):
            raise ValueError("step/offset outside the trajectory")
        if self.mode == "full":
            return self._gather_full(j, t, k)
        return self._gather_chunked(j, t, k)

    def iterate(self, batch_size: int) -> Iterator[Batch]:
        """Every transition of ``traj_ids`` once, in order (trajectory, then step), k = 1."""
        batch_size = int(batch_size)
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        for start in range(0, self.num_transitions, batch_size):
            u = np.arange(start, min(start + batch_size, self.num_transitions), dtype=np.int64)
            j = np.searchsorted(self._cum_trans, u, side="right") - 1
            t = u - self._cum_trans[j]
            yield self.gather(j, t, 1)

    def iterate_held_out(self, batch_size: int) -> Iterator[Batch]:
        """Same as :meth:`iterate`; name for a sampler built on held-out ``traj_ids``."""
        return self.iterate(batch_size)

    def close(self) -> None:
        for fut, _, _ in self._inflight:
            fut.cancel()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        if self._file is not None:
            try:
                self._file.close()
            except Exception:  # noqa: BLE001 - closing a half-open file must not mask the real error
                pass
            self._file = None

    def __enter__(self) -> "TrajectorySampler":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass

    # ------------------------------------------------------------------ batch assembly
    def _draw_offsets(self, j: np.ndarray, t: np.ndarray, multi_step: bool) -> np.ndarray:
        if not multi_step or self.future_obs_offset == 1:
            return np.ones_like(t)
        kmax = np.minimum(self.future_obs_offset, self._lengths[j] - 1 - t)
        return 1 + (self._rng.random(len(t)) * kmax).astype(np.int64)

    def _frame_steps(self, j: np.ndarray, t: np.ndarray, k: np.ndarray) -> np.ndarray:
        """(B, 2*stack+1) step indices: stack at t, frame t+1, stack at t+k; start-padded."""
        s = self.frame_stack
        back = np.arange(-s + 1, 1, dtype=np.int64)
        steps = np.concatenate([t[:, None] + back, t[:, None] + 1, (t + k)[:, None] + back], axis=1)
        return np.clip(steps, 0, (self._lengths[j] - 1)[:, None])

    def _gather_full(self, j: np.ndarray, t: np.ndarray, k: np.ndarray) -> Batch:
        flat = self._frame_base[j][:, None] + self._frame_steps(j, t, k)
        rows = self._frame_base[j] + t
        if self._frames_dev is not None:
            window = self._frames_dev[torch.from_numpy(flat).to(self.device)]
        else:
            window = torch.from_numpy(self._frames_np[flat])
        return self._make_batch(window, self._actions[rows], self._states[rows], j, t, k)

    def _gather_slots(self, j: np.ndarray, t: np.ndarray, k: np.ndarray, slots: np.ndarray) -> Batch:
        c = self._cache
        flat_base = slots * c.frames_per_slot - c.lo[slots]
        flat = flat_base[:, None] + self._frame_steps(j, t, k)
        window = c.obs.reshape(-1, 3, self._h, self._w)[flat]
        rows = flat_base + t
        actions = c.actions.reshape(-1, self.action_dim)[rows]
        states = c.states.reshape(-1, self.state_dim)[rows]
        return self._make_batch(torch.from_numpy(window), actions, states, j, t, k)

    def _gather_chunked(self, j: np.ndarray, t: np.ndarray, k: np.ndarray) -> Batch:
        """Explicit requests on the chunked path: load missing chunks (LRU), then gather.

        Requests are grouped by chunk; if they touch more chunks than there are free
        slots, the groups are served in turns (one vectorized gather per turn).
        """
        self._ensure_cache(len(t))
        keys = self._chunk_start[j] + t // self.chunk_len
        uniq, inv = np.unique(keys, return_inverse=True)
        cap = self._cache.num_unpinned
        if cap < 1:
            raise RuntimeError("chunk cache has no free slot")
        slots = np.empty(len(uniq), dtype=np.int64)
        parts = []
        for g in range(0, len(uniq), cap):
            for i in range(g, min(g + cap, len(uniq))):
                slot = self._cache.lookup(int(uniq[i]))
                if slot < 0:
                    slot = self._load_sync(int(uniq[i]))
                    self._cache.release(slot)
                slots[i] = slot
            sel = np.nonzero((inv >= g) & (inv < g + cap))[0]
            parts.append((sel, self._gather_slots(j[sel], t[sel], k[sel], slots[inv[sel]])))
        if len(parts) == 1:
            return parts[0][1]
        order = np.argsort(np.concatenate([sel for sel, _ in parts]))
        idx = torch.from_numpy(order)
        merged = {}
        for f in fields(Batch):
            merged[f.name] = torch.cat([getattr(b, f.name) for _, b in parts])[idx.to(getattr(parts[0][1], f.name).device)]
        return Batch(**merged)

    def _make_batch(self, window: torch.Tensor, actions: np.ndarray, states: np.ndarray,
                    j: np.ndarray, t: np.ndarray, k: np.ndarray) -> Batch:
        s, dev = self.frame_stack, self.device
        if window.device != dev:
            window = window.to(dev)  # one host->device copy of the unique frames
        b = window.shape[0]
        c = 3 * s
        # views, no copies: (B, 2s+1, 3, H, W) -> three (B, 3s, H, W) stacks
        obs = window[:, :s].reshape(b, c, self._h, self._w)
        next_obs = window[:, 1 : s + 1].reshape(b, c, self._h, self._w)
        future_obs = window[:, s + 1 :].reshape(b, c, self._h, self._w)

        def tens(x: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(x)).to(dev)

        return Batch(
            obs=obs,
            next_obs=next_obs,
            future_obs=future_obs,
            offset=tens(k.astype(np.int64)),
            actions=tens(actions),
            states=tens(states),
            traj=tens(self._ids[j]),
            step=tens(t.astype(np.int64)),
        )


def _plain(value):
    """HDF5 attribute -> plain Python value."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
