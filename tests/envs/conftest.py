"""Fixtures for the environment tests: tiny video folders made on the fly."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def write_frame_folder(folder: Path, seed: int, frames: int = 5, size: int = 24) -> None:
    """A clip as a folder of png frames with distinct, seeded content."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    for i in range(frames):
        Image.fromarray(np.roll(base, 3 * i, axis=1)).save(folder / f"{i:05d}.png")


@pytest.fixture
def frame_folder(tmp_path) -> Path:
    """A folder with six clips (sub-folders of png frames): four train, two eval."""
    root = tmp_path / "videos"
    for i in range(6):
        write_frame_folder(root / f"clip{i}", seed=i)
    return root
