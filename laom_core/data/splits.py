"""The held-out trajectories of a dataset file: one split per file, the same for every run.

A run fits its probes on the training trajectories and scores them on the held-out ones;
labeled subsets are cut only from the training trajectories. Both must agree on which
trajectories are held out, whatever the run's seed, or a labeled run would be probed on
transitions it was trained on with labels. So the split depends only on the file's number
of trajectories and the held-out fraction (``run.held_out_fraction``), drawn with one
fixed seed (:data:`HELD_OUT_SPLIT_SEED`). Runs check a labeled file against it by content
(:func:`check_labeled_disjoint`); a run whose labeled set is the training file itself labels
only its training trajectories.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from laom_core.config import RunConfig
from laom_core.data.hdf5 import open_dataset
from laom_core.data.sampler import split_trajectories
from laom_core.errors import DatasetError

HELD_OUT_SPLIT_SEED = 0
DEFAULT_HELD_OUT_FRACTION: float = RunConfig.held_out_fraction


def held_out_split(num_trajectories: int, held_out_fraction: float = DEFAULT_HELD_OUT_FRACTION
                   ) -> tuple[list[int], list[int]]:
    """(train, held-out) trajectory indices of a file with ``num_trajectories`` trajectories."""
    return split_trajectories(num_trajectories, held_out_fraction, HELD_OUT_SPLIT_SEED)


def held_out_trajectories(path: str | os.PathLike, held_out_fraction: float = DEFAULT_HELD_OUT_FRACTION) -> list[int]:
    """The held-out trajectory indices of the dataset file ``path``."""
    with open_dataset(path) as ds:
        return held_out_split(ds.num_trajectories, held_out_fraction)[1]


def original_trajectories(path: str | os.PathLike) -> list[int]:
    """``original_traj_idx`` of every trajectory of a labeled subset (sorted, unique)."""
    with open_dataset(path) as ds:
        found = set()
        for i in range(ds.num_trajectories):
            value = ds.trajectory_attrs(i).get("original_traj_idx")
            if value is not None:
                found.add(int(np.asarray(value).reshape(-1)[0]))
    return sorted(found)


def _transition_keys(ds, traj: int) -> list[bytes]:
    """One key per step of trajectory ``traj``: its state and action, as bytes."""
    rows = np.concatenate([ds.read(traj, "states"), ds.read(traj, "actions")], axis=1)
    return [row.tobytes() for row in np.ascontiguousarray(rows, dtype=np.float32)]


def held_out_overlap(labeled: str | os.PathLike, data: str | os.PathLike, held_out: list[int]) -> dict[int, int]:
    """Held-out trajectory of ``data`` -> how many of its steps ``labeled`` also holds.

    Compared by content (each step's state and action, exactly), not by recorded indices,
    so a subset cut from another file (whose ``original_traj_idx`` mean nothing here) is
    judged by what it holds, and a hand-made labeled file without indices is checked too.
    """
    with open_dataset(labeled) as lab:  # usually far smaller than the held-out trajectories
        labeled_keys = {key for i in range(lab.num_trajectories) for key in _transition_keys(lab, i)}
    shared: dict[int, int] = {}
    with open_dataset(data) as ds:
        for traj in sorted(held_out):
            count = sum(key in labeled_keys for key in _transition_keys(ds, traj))
            if count:
                shared[traj] = count
    return shared


def is_training_file(labeled: str | os.PathLike, data: str | os.PathLike) -> bool:
    """Whether the labeled set is the training file itself: then runs label only its
    training trajectories, and nothing is left to check."""
    return Path(labeled).expanduser().resolve() == Path(data).expanduser().resolve()


def check_no_label_leak(labeled: str | os.PathLike, data: str | os.PathLike,
                        held_out_fraction: float = DEFAULT_HELD_OUT_FRACTION) -> None:
    """:func:`check_labeled_disjoint` against ``data``'s own held-out trajectories (a no-op
    when ``labeled`` is ``data`` itself)."""
    if not is_training_file(labeled, data):
        check_labeled_disjoint(labeled, data, held_out_trajectories(data, held_out_fraction))


def check_labeled_disjoint(labeled: str | os.PathLike, data: str | os.PathLike, held_out: list[int]) -> None:
    """Refuse a labeled file that holds steps of ``data``'s held-out trajectories: its labels
    would leak into the held-out probe."""
    shared = held_out_overlap(labeled, data, held_out)
    if shared:
        shown = ", ".join(map(str, list(shared)[:10])) + (" ..." if len(shared) > 10 else "")
        raise DatasetError(
            f"labeled data {labeled} holds {sum(shared.values())} steps of held-out trajectories ({shown}) "
            "of the training data: its labels would leak into the held-out probe. Cut a new subset with "
            "`python -m laom_core dataset subset` (it leaves the held-out trajectories out), "
            "or leave out --labeled-data to use the training trajectories' own actions"
        )
