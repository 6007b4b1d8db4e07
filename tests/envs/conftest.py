"""Fixtures for the environment tests: tiny video folders made on the fly."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from frame_folders import write_frame_folder


@pytest.fixture
def frame_folder(tmp_path) -> Path:
    """A folder with six clips (sub-folders of png frames): four train, two eval."""
    root = tmp_path / "videos"
    for i in range(6):
        write_frame_folder(root / f"clip{i}", seed=i)
    return root
