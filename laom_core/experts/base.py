"""The Policy interface shared by collection, evaluation and the dashboard.

Random, released PPO, our own experts and learned BC+decoder policies all implement it,
so ``collect`` and ``evaluate`` take any of them.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from laom_core.envs.types import EnvStep


@runtime_checkable
class Policy(Protocol):
    def reset(self) -> None:
        """Called at the start of every episode (clears frame stacks, RNG per episode...)."""

    def act(self, step: EnvStep) -> np.ndarray:
        """The raw action for this step (float32, before clipping to the action bounds)."""


class RandomPolicy:
    """Uniform random actions in [low, high]; seeded."""

    def __init__(self, low: np.ndarray, high: np.ndarray, seed: int = 0) -> None:
        self.low = np.asarray(low, dtype=np.float32)
        self.high = np.asarray(high, dtype=np.float32)
        self.rng = np.random.default_rng(seed)

    def reset(self) -> None:
        pass

    def act(self, step: EnvStep) -> np.ndarray:
        return self.rng.uniform(self.low, self.high).astype(np.float32)
