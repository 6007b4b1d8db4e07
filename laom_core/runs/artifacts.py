"""A run folder's files for the dashboard's artifacts browser: list them, and resolve a
file the user picked without ever leaving the run folder."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from laom_core.errors import RunError

KINDS = {".pt": "checkpoint", ".pth": "checkpoint", ".ckpt": "checkpoint", ".npz": "latents/arrays",
         ".npy": "array", ".mp4": "video", ".webm": "video", ".gif": "video", ".json": "json",
         ".jsonl": "json", ".txt": "text", ".log": "text", ".yaml": "config", ".yml": "config",
         ".png": "image", ".jpg": "image", ".csv": "table", ".hdf5": "dataset", ".h5": "dataset"}
VIDEO_SUFFIXES = (".mp4", ".webm")
MAX_LISTED = 2000


@dataclass(frozen=True)
class Artifact:
    path: str  # relative to the run folder, '/'-separated
    size: int  # bytes
    kind: str
    mtime: float


def _root(run_dir: str | os.PathLike | None) -> Path:
    if not run_dir:
        raise RunError("this run has no run folder")
    root = Path(run_dir).resolve()
    if not root.is_dir():
        raise RunError(f"the run folder {root} is not there (moved or deleted)")
    return root


def list_artifacts(run_dir: str | os.PathLike | None, limit: int = MAX_LISTED) -> list[Artifact]:
    """Files under the run folder (sorted by path), at most ``limit``; links that lead out of
    the folder are left out."""
    root = _root(run_dir)
    out: list[Artifact] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if _inside(root, Path(dirpath) / d))
        for name in sorted(filenames):
            full = Path(dirpath) / name
            if not _inside(root, full):
                continue
            try:
                st = full.stat()
            except OSError:
                continue
            rel = full.relative_to(root).as_posix()
            out.append(Artifact(rel, st.st_size, KINDS.get(full.suffix.lower(), "file"), st.st_mtime))
            if len(out) >= limit:
                return sorted(out, key=lambda a: a.path)
    return sorted(out, key=lambda a: a.path)


def _inside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root)
        return True
    except (OSError, ValueError):
        return False


def resolve_artifact(run_dir: str | os.PathLike | None, rel: str) -> Path:
    """The file ``rel`` of the run folder; RunError if it is not a file inside it (``..``,
    an absolute path, or a link leading out are refused)."""
    root = _root(run_dir)
    if not rel or Path(rel).is_absolute() or "\x00" in rel:
        raise RunError(f"{rel!r} is not a file of this run")
    path = (root / rel).resolve()
    if not _inside(root, path) or path == root:
        raise RunError(f"{rel!r} is outside the run folder")
    if not path.is_file():
        raise RunError(f"{rel} is not in the run folder (any more)")
    return path


def human_size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"
