"""Agent colour distractor.

Every material not used by the scene's static geoms (world body), i.e. the agent's
materials, and agent geoms without a material get an RGB
offset added to its original colour, clipped to [0, 1]. The offset is drawn per episode,
uniform in +-s per channel; with ``dynamic`` it takes a Gaussian step (std 0.03*s) every
step, clipped to +-s. State record (float32, 3): the current offset.
"""
from __future__ import annotations

import numpy as np


class ColorShift:
    def __init__(self, scale: float, *, dynamic: bool, seed: np.random.SeedSequence | int):
        self.scale = float(scale)
        self.dynamic = dynamic
        self._rng = np.random.default_rng(seed)
        self.delta = np.zeros(3)
        self._materials = np.zeros(0, dtype=int)
        self._geoms = np.zeros(0, dtype=int)

    def bind(self, physics) -> None:
        model = physics.model
        agent = [g for g in range(model.ngeom) if model.geom_bodyid[g] != 0]
        # Every material the scene (world geoms) does not use: the agent's own materials and
        # the variants tasks swap in (e.g. "self_highlight").
        scene = {int(model.geom_matid[g]) for g in range(model.ngeom) if model.geom_bodyid[g] == 0}
        mats = [m for m in range(model.nmat) if m not in scene]
        self._materials = np.array(mats, dtype=int)
        self._geoms = np.array([g for g in agent if model.geom_matid[g] < 0], dtype=int)
        self._mat_base = model.mat_rgba[self._materials, :3].copy()
        self._geom_base = model.geom_rgba[self._geoms, :3].copy()

    def reset(self) -> None:
        self.delta = self._rng.uniform(-self.scale, self.scale, 3)

    def advance(self) -> None:
        if not self.dynamic or self.scale == 0:
            return
        step = self._rng.normal(0.0, 0.03 * self.scale, 3)
        self.delta = np.clip(self.delta + step, -self.scale, self.scale)

    def apply(self, physics) -> None:
        model = physics.model
        if len(self._materials):
            model.mat_rgba[self._materials, :3] = np.clip(self._mat_base + self.delta, 0.0, 1.0)
        if len(self._geoms):
            model.geom_rgba[self._geoms, :3] = np.clip(self._geom_base + self.delta, 0.0, 1.0)

    def state(self) -> np.ndarray:
        return self.delta.astype(np.float32)
