"""The held-out trajectories of a dataset file: one split per file, the same for every run.

A run fits its probes on the training trajectories and scores them on the held-out ones;
labeled subsets are cut only from the training trajectories. Both must agree on which
trajectories are held out, whatever the run's seed, or a labeled run would be probed on
transitions it was trained on with labels. So the split depends only on the file's number
of trajectories and the held-out fraction (``run.held_out_fraction``), drawn with one
fixed seed (:data:`HELD_OUT_SPLIT_SEED`).
"""
from __future__ import annotations

import os

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


def check_labeled_disjoint(labeled: str | os.PathLike, held_out: list[int]) -> None:
    """Refuse a labeled file cut (partly) from held-out trajectories: its labels would leak
    into the held-out probe."""
    shared = sorted(set(original_trajectories(labeled)) & set(held_out))
    if shared:
        shown = ", ".join(map(str, shared[:10])) + (" ..." if len(shared) > 10 else "")
        raise DatasetError(
            f"labeled data {labeled} was cut from held-out trajectories ({shown}) of the training data: "
            "its labels would leak into the held-out probe. Cut a new subset with "
            "`python -m laom_core dataset subset` (it leaves the held-out trajectories out)"
        )
