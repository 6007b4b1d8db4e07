"""The step record every environment in LAOM Studio returns."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class EnvStep:
    """One observation of a (distracting) control environment.

    pixels: uint8 (H, W, 3), the rendered frame with distractors.
    state: float32 (S,), the proprioceptive observation dict flattened in sorted key order.
    observation: the raw dm_control observation dict (what state-based experts read).
    reward: reward of the transition that led here (0.0 after reset).
    first/last: episode boundaries.
    distractor: the distractor state behind this frame, numeric values only:
        clip_id (int, -1 without background), frame_index (int), camera (float32 array:
        offsets and velocities, see laom_core.envs.camera), color (float32 array:
        current colour deltas).
    """

    pixels: np.ndarray
    state: np.ndarray
    observation: dict
    reward: float = 0.0
    first: bool = False
    last: bool = False
    distractor: dict = field(default_factory=dict)
