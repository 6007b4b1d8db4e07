"""Where things live.

One workspace folder holds datasets, runs and caches: ``./workspace`` by default,
``LAOM_STUDIO_WORKSPACE`` overrides it. Nothing is written outside it unless the user
names an output path. All writes of finished files are atomic (temp file + rename).
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Iterator

from laom_core.errors import WorkspaceError

WORKSPACE_ENV = "LAOM_STUDIO_WORKSPACE"


def workspace_root(create: bool = True) -> Path:
    """The workspace folder (resolved); created on first use when ``create``."""
    root = Path(os.environ.get(WORKSPACE_ENV, "./workspace")).expanduser().resolve()
    if create:
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(f"cannot create workspace folder {root}: {exc.strerror}") from exc
        if not os.access(root, os.W_OK):
            raise WorkspaceError(f"workspace folder {root} is not writable")
    return root


def _sub(name: str, create: bool) -> Path:
    path = workspace_root(create) / name
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def datasets_dir(create: bool = True) -> Path:
    """Datasets (HDF5 files) collected or imported by the user."""
    return _sub("datasets", create)


def runs_dir(create: bool = True) -> Path:
    """One folder per training run (config, log, checkpoints, artifacts)."""
    return _sub("runs", create)


def cache_dir(create: bool = True) -> Path:
    """Regenerable caches: built-in distractor clips, UMAP embeddings, thumbnails."""
    return _sub("cache", create)


def experts_dir(create: bool = True) -> Path:
    """Expert policies trained by the user."""
    return _sub("experts", create)


def store_path() -> Path:
    """The SQLite run store."""
    return workspace_root() / "runs.sqlite"


def resolve_user_path(
    path: str | os.PathLike,
    *,
    must_exist: bool = False,
    kind: str = "file",
    base: Path | None = None,
) -> Path:
    """Resolve a path given by a user and check it.

    Relative paths are taken relative to ``base`` (the workspace's datasets folder for
    bare file names that do not exist in the current directory). ``kind`` is "file",
    "dir" or "any"; it is checked only when ``must_exist``.
    """
    if path is None or str(path).strip() == "":
        raise WorkspaceError("empty path")
    if "\x00" in str(path):
        raise WorkspaceError("path contains a NUL byte")
    candidate = Path(path).expanduser()
    if not candidate.is_absolute() and not candidate.exists() and base is not None:
        if (base / candidate).exists():
            candidate = base / candidate
    resolved = candidate.resolve()
    if must_exist:
        if not resolved.exists():
            raise WorkspaceError(f"no such {kind if kind != 'any' else 'path'}: {resolved}")
        if kind == "file" and not resolved.is_file():
            raise WorkspaceError(f"not a file: {resolved}")
        if kind == "dir" and not resolved.is_dir():
            raise WorkspaceError(f"not a folder: {resolved}")
    return resolved


def check_inside(path: Path, root: Path) -> Path:
    """Raise unless ``path`` (resolved) lies inside ``root``; used for names from pages."""
    resolved = Path(path).resolve()
    try:
        resolved.relative_to(Path(root).resolve())
    except ValueError as exc:
        raise WorkspaceError(f"{resolved} is outside {root}") from exc
    return resolved


STALE_PARTIAL_S = 60.0  # a temp file of a dead process untouched this long is removed
_PARTIAL = re.compile(r"^\..+\.p(\d+)\.[^.]+\.partial$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def remove_stale_partials(folder: str | os.PathLike, older_than_s: float = STALE_PARTIAL_S) -> list[Path]:
    """Remove temp files of :func:`atomic_path` left in ``folder`` by killed processes.

    Only names of the form ``.<name>.p<pid>.<random>.partial`` are considered, and only when
    that process is gone and the file has not changed for ``older_than_s`` seconds.
    """
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _PARTIAL.match(entry.name)
        if not match or _pid_alive(int(match.group(1))):
            continue
        try:
            if not entry.is_file(follow_symlinks=False) or now - entry.stat(follow_symlinks=False).st_mtime < older_than_s:
                continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to ``final``; rename it onto ``final`` on success.

    On any exception (including KeyboardInterrupt) the temporary file is removed and
    ``final`` is left untouched. The temp name starts with '.' and ends with '.partial'
    so listings can ignore it; it holds the writer's pid, so the next write into the same
    folder removes the temp files of processes that were killed (see remove_stale_partials).
    """
    final = Path(final)
    if final.is_dir():
        raise WorkspaceError(f"{final} is a folder; give a file name")
    if final.exists() and not overwrite:
        raise WorkspaceError(f"{final} exists; refusing to overwrite (use --overwrite)")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkspaceError(f"cannot create folder {final.parent}: {exc.strerror}") from exc
    remove_stale_partials(final.parent)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.p{os.getpid()}.", suffix=".partial", dir=final.parent)
    except OSError as exc:
        raise WorkspaceError(f"cannot write in {final.parent}: {exc.strerror}") from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_text(final: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``final`` atomically."""
    with atomic_path(final) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())


def write_generated_block(final: str | os.PathLike, block: str, begin: str, end: str, new_file: str) -> None:
    """Put ``begin + block + end`` in place of the text between those markers in ``final``,
    keeping the hand-written text around it (atomically). A file without both markers (or
    none yet) becomes ``new_file`` with ``{generated}`` replaced by the marked block."""
    marked = f"{begin}\n{block.rstrip()}\n{end}"
    path = Path(final)
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if begin in old and end in old[old.index(begin):]:
        start = old.index(begin)
        text = old[:start] + marked + old[old.index(end, start) + len(end):]
    else:
        text = new_file.replace("{generated}", marked)
    atomic_write_text(path, text)


def atomic_write_json(final: str | os.PathLike, obj: object) -> None:
    """Write ``obj`` as pretty JSON to ``final`` atomically."""
    atomic_write_text(final, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(obj: object) -> object:
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")
