"""Labeled subsets: K chunks of C steps sampled from a dataset, like the released
``labeled-1000xK`` files (the same file attributes, per-group ``original_traj_idx``).

Chunks come only from the source's training trajectories, never from its held-out ones
(:mod:`laom_core.data.splits`). Sampling (seeded): when K does not exceed the number of trajectories at least C steps
long, K distinct trajectories are drawn and one chunk at a uniformly random start is cut
from each (with C equal to the trajectory length this is "K whole trajectories", as in the
released files). Otherwise each trajectory is split into non-overlapping chunks (at a
random offset) and K of those are drawn without replacement. Chunks are written in order
of (source trajectory, start). Each group keeps the source's ``traj_return`` and gets
``original_traj_idx`` (and ``original_start``, the chunk's first step in the source).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from laom_core.data.hdf5 import DatasetWriter, open_dataset
from laom_core.data.splits import DEFAULT_HELD_OUT_FRACTION, held_out_split
from laom_core.errors import DatasetError


def sample_chunks(lengths: np.ndarray, trajectories: int, chunk_size: int, seed: int,
                  exclude: "list[int] | tuple[int, ...]" = ()) -> list[tuple[int, int]]:
    """(trajectory, start) of each chunk, sorted; pure function of its arguments.

    Trajectories in ``exclude`` (the source's held-out trajectories) are never cut.
    """
    if trajectories < 1:
        raise DatasetError(f"--trajectories must be >= 1, got {trajectories}")
    if chunk_size < 1:
        raise DatasetError(f"--chunk-size must be >= 1, got {chunk_size}")
    lengths = np.asarray(lengths, dtype=np.int64)
    usable = np.ones(len(lengths), dtype=bool)
    usable[np.asarray(list(exclude), dtype=np.int64)] = False
    eligible = np.flatnonzero((lengths >= chunk_size) & usable)
    if eligible.size == 0:
        longest = int(lengths[usable].max()) if usable.any() else 0
        raise DatasetError(f"no trajectory has {chunk_size} steps outside the held-out ones (longest has {longest})")
    rng = np.random.default_rng(seed)
    if trajectories <= eligible.size:
        chosen = rng.choice(eligible, size=trajectories, replace=False)
        chunks = [(int(t), int(rng.integers(0, lengths[t] - chunk_size + 1))) for t in chosen]
    else:
        candidates = []
        for t in eligible:
            n = int(lengths[t] // chunk_size)
            offset = int(rng.integers(0, lengths[t] - n * chunk_size + 1))
            candidates += [(int(t), offset + j * chunk_size) for j in range(n)]
        if trajectories > len(candidates):
            raise DatasetError(
                f"cannot cut {trajectories} chunks of {chunk_size} steps: the file holds only {len(candidates)} "
                "non-overlapping chunks of that size outside its held-out trajectories"
            )
        picks = rng.choice(len(candidates), size=trajectories, replace=False)
        chunks = [candidates[i] for i in picks]
    return sorted(chunks)


def make_labeled_subset(
    src: str | os.PathLike,
    trajectories: int,
    chunk_size: int,
    seed: int,
    out: str | os.PathLike,
    overwrite: bool = False,
    held_out_fraction: float = DEFAULT_HELD_OUT_FRACTION,
) -> Path:
    """Write a labeled subset of ``src`` to ``out`` (atomically); returns the path.

    Chunks come only from the source's training trajectories: the held-out ones
    (:mod:`laom_core.data.splits`, ``held_out_fraction`` as the runs' ``run.held_out_fraction``)
    are left out, so no run on ``src`` is probed on transitions it saw labeled.
    """
    src_path = Path(src).expanduser().resolve()
    out_path = Path(out).expanduser().resolve()
    if src_path == out_path:
        raise DatasetError("the subset cannot overwrite its source file")
    with open_dataset(src_path) as ds:
        held_out = held_out_split(ds.num_trajectories, held_out_fraction)[1]
        chunks = sample_chunks(ds.lengths, int(trajectories), int(chunk_size), int(seed), exclude=held_out)
        extra_keys = [f"distractor/{s}" for s in ds.distractor_signals]
        with DatasetWriter(out_path, ds.attrs, overwrite=overwrite) as writer:
            for traj, start in chunks:
                stop = start + chunk_size
                extra = {k: ds.read(traj, k, start, stop) for k in extra_keys if ds.has(k, traj)}
                writer.add_trajectory(
                    ds.read(traj, "obs", start, stop),
                    ds.read(traj, "actions", start, stop),
                    ds.read(traj, "states", start, stop),
                    ds.trajectory_return(traj),
                    extra=extra,
                    group_attrs={"original_traj_idx": np.int64(traj), "original_start": np.int64(start)},
                )
    return out_path
