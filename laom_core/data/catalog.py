"""The workspace's datasets: the one listing, and the one naming of labeled subsets.

**Listing.** :func:`dataset_files` is every ``.hdf5``/``.h5`` file under the workspace's
``datasets/`` folder, subfolders included (sweeps cache their subsets in
``datasets/subsets/``), hidden and temporary files left out. :func:`list_datasets` adds a
structure-only summary per file (no NaN scan, so it stays fast on the released 60 GB
files); an unreadable file is listed with its error. The CLI (``dataset list``), the Home,
Datasets and Train pages all call these.

**Subset names.** A labeled subset is named after its source's *content identity*
(:func:`content_id`), not the source's name or path: ``datasets/subsets/<source stem>-
<content id>-n<K>-c<C>-s<seed>.hdf5``. So a re-collected file, an edited one or another
file of the same name never reuses an old subset, while the same file reached by another
path (a symlink, a moved folder) does. Every subset maker (CLI ``dataset subset``, the
Datasets page, sweeps, the demo and the studies) goes through :func:`labeled_subset`,
which cuts a subset once and reuses it afterwards.

Why this identity: hashing a 60 GB file takes minutes, and the released files carry no
stored id. The key is the file's size, its modification time in nanoseconds, and a SHA-1
of 16 blocks of 4 KiB spread evenly over the file (the first and the last included):
one ``stat`` and 64 KiB of reads, milliseconds on any file. The modification time changes
whenever a file is written (our writers write a temporary file and rename it), and the
sampled bytes tell apart different files that happen to share a size and a time.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from laom_core.data.hdf5 import validate_dataset
from laom_core.data.splits import DEFAULT_HELD_OUT_FRACTION
from laom_core.data.subsets import make_labeled_subset
from laom_core.errors import DatasetError, LaomError
from laom_core.workspace import datasets_dir

SUFFIXES = (".hdf5", ".h5")
SUBSETS = "subsets"  # the folder under datasets/ where labeled subsets are cached
SAMPLE_BLOCKS = 16
BLOCK_BYTES = 4096
SUMMARY_KEYS = ("task", "difficulty", "split", "num_trajectories", "total_steps", "img_hw", "mean_return",
                "labeled_subset", "distractor_signals")


def dataset_files(folder: str | os.PathLike | None = None) -> list[Path]:
    """Every dataset file under ``folder`` (default: the workspace's datasets), sorted."""
    base = Path(folder) if folder is not None else datasets_dir(create=False)
    if not base.is_dir():
        return []
    return sorted(p for p in base.rglob("*")
                  if p.suffix in SUFFIXES and not p.name.startswith(".") and p.is_file())


def list_datasets(folder: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """One row per dataset file: name, path, size_bytes, valid, error and the summary keys."""
    rows = []
    for path in dataset_files(folder):
        row: dict[str, Any] = {"name": path.name, "path": str(path), "size_bytes": path.stat().st_size}
        try:
            info = validate_dataset(path, check_values=False).to_dict()
            row.update(valid=True, error=None, **{k: info[k] for k in SUMMARY_KEYS})
        except LaomError as exc:
            row.update(valid=False, error=str(exc))
        rows.append(row)
    return rows


def content_id(path: str | os.PathLike) -> str:
    """A short key of the file's content identity (see the module docstring for why)."""
    path = Path(path)
    try:
        stat = path.stat()
        digest = hashlib.sha1(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
        with open(path, "rb") as fh:
            last = max(0, stat.st_size - BLOCK_BYTES)
            for i in range(SAMPLE_BLOCKS):
                fh.seek(last * i // (SAMPLE_BLOCKS - 1))
                digest.update(fh.read(BLOCK_BYTES))
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror or exc}") from None
    return digest.hexdigest()[:12]


def subset_path(source: str | os.PathLike, trajectories: int, chunk_size: int, seed: int,
                held_out_fraction: float = DEFAULT_HELD_OUT_FRACTION) -> Path:
    """Where the subset of ``trajectories`` chunks of ``chunk_size`` steps of ``source`` lives.

    A source not collected yet has no content: its subsets are named ``uncollected`` (a plan
    can be shown before its data exist; no subset is ever cut from a missing file).
    """
    source = Path(source)
    ident = content_id(source) if source.exists() else "uncollected"
    held = "" if held_out_fraction == DEFAULT_HELD_OUT_FRACTION else f"-h{held_out_fraction:g}"
    name = f"{source.stem}-{ident}-n{int(trajectories)}-c{int(chunk_size)}-s{int(seed)}{held}.hdf5"
    return datasets_dir() / SUBSETS / name


def labeled_subset(source: str | os.PathLike, trajectories: int, chunk_size: int, seed: int,
                   held_out_fraction: float = DEFAULT_HELD_OUT_FRACTION, out: str | os.PathLike | None = None,
                   overwrite: bool = False) -> Path:
    """The labeled subset of ``source``: cut into :func:`subset_path` the first time, reused after.

    ``out`` names another file instead (no reuse then: it is written, ``overwrite`` decides
    whether an existing one is replaced).
    """
    if out is not None:
        return make_labeled_subset(source, trajectories, chunk_size, seed, out, overwrite=overwrite,
                                   held_out_fraction=held_out_fraction)
    path = subset_path(source, trajectories, chunk_size, seed, held_out_fraction)
    if path.exists() and not overwrite:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    return make_labeled_subset(source, trajectories, chunk_size, seed, path, overwrite=overwrite,
                               held_out_fraction=held_out_fraction)
