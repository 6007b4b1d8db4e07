"""The page benchmarks' workspace: a given one, or a temporary one removed afterwards."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def scratch_workspace(workspace: Path | None, keep: bool, prefix: str) -> Iterator[Path]:
    """``workspace`` (created if missing), or a new temporary one (``prefix``: its folder's
    name start), made this process's LAOM_STUDIO_WORKSPACE. When the block ends, background
    jobs still running there are stopped and a temporary workspace is removed unless ``keep``."""
    root = workspace or Path(tempfile.mkdtemp(prefix=prefix)) / "workspace"
    os.environ["LAOM_STUDIO_WORKSPACE"] = str(root)
    root.mkdir(parents=True, exist_ok=True)
    try:
        yield root
    finally:
        from laom_core import jobs

        for job in jobs.list_jobs():
            if job.state == "running":
                jobs.stop_job(job.id, grace_s=2)
        if workspace is None and not keep:
            shutil.rmtree(root.parent, ignore_errors=True)
