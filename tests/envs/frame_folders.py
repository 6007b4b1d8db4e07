"""Test clips as folders of png frames (importable helper; conftest modules are not)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def write_frame_folder(folder: Path, seed: int, frames: int = 5, size: int = 24) -> None:
    """A clip as a folder of png frames with distinct, seeded content."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    for i in range(frames):
        Image.fromarray(np.roll(base, 3 * i, axis=1)).save(folder / f"{i:05d}.png")
