"""Camera shake distractor.

The camera keeps looking at the same point (the tracked body's centre of mass along the
view axis) but is moved on a sphere around it: a vertical and a horizontal angle offset, a
roll about the view axis and a zoom (distance factor). With scale s:

- offsets drawn per episode, uniform in +-pi/2*s (vertical, horizontal, roll);
- zoom in [-0.5*s, +1.5*s] (distance multiplied by 1 + zoom: in up to 0.5*s, out 1.5*s);
- dynamic: every step the velocities get Gaussian noise (std 0.1*s, clipped to 0.4*s;
  roll std pi/300*s, max pi/50*s) and the offsets move by them, bouncing at the limits.

The shake is applied to the scene camera after ``mjv_updateScene`` and before drawing, so
physics state is never touched. State record (float32, 8): vertical, horizontal, roll,
zoom offsets, then their four velocities.
"""
from __future__ import annotations

import math

import numpy as np

STATE_SIZE = 8


class CameraShake:
    def __init__(self, scale: float, *, dynamic: bool, seed: np.random.SeedSequence | int):
        self.scale = float(scale)
        self.dynamic = dynamic
        self._rng = np.random.default_rng(seed)
        s = self.scale
        angle = np.pi / 2 * s
        self.low = np.array([-angle, -angle, -angle, -0.5 * s])
        self.high = np.array([angle, angle, angle, 1.5 * s])
        self.vel_std = np.array([0.1 * s, 0.1 * s, np.pi / 300 * s, 0.1 * s])
        self.vel_max = np.array([0.4 * s, 0.4 * s, np.pi / 50 * s, 0.4 * s])
        self.offset = np.zeros(4)
        self.velocity = np.zeros(4)
        self._target_body = 0

    def bind(self, physics, camera_id: int) -> None:
        model = physics.model
        target = int(model.cam_targetbodyid[camera_id])
        body = int(model.cam_bodyid[camera_id])
        self._target_body = target if target >= 0 else body

    def reset(self) -> None:
        self.offset = self._rng.uniform(self.low, self.high)
        self.velocity = np.zeros(4)

    def advance(self) -> None:
        if not self.dynamic or self.scale == 0:
            return
        self.velocity = np.clip(
            self.velocity + self._rng.normal(0.0, 1.0, 4) * self.vel_std, -self.vel_max, self.vel_max
        )
        offset = self.offset + self.velocity
        out = (offset < self.low) | (offset > self.high)
        self.velocity[out] = -self.velocity[out]
        self.offset = np.clip(offset, self.low, self.high)

    def apply(self, physics, scene) -> None:
        """Move the scene's camera(s) by the current offsets, looking at the same point.

        Computed for the first scene camera and copied to the second (they are the same
        for a mono view); this runs every frame, so it avoids numpy call overhead.
        """
        if self.scale == 0:
            return
        forward_local, up_local = self._local_axes()
        cam = scene.camera[0]
        pos = cam.pos.astype(np.float64)
        forward = cam.forward.astype(np.float64)
        up = cam.up.astype(np.float64)
        forward /= np.sqrt(forward @ forward)
        up /= np.sqrt(up @ up)
        basis = np.empty((3, 3))  # columns: right, up, back (a right-handed camera frame)
        basis[0, 0] = forward[1] * up[2] - forward[2] * up[1]
        basis[1, 0] = forward[2] * up[0] - forward[0] * up[2]
        basis[2, 0] = forward[0] * up[1] - forward[1] * up[0]
        basis[:, 1] = up
        basis[:, 2] = -forward
        distance = max(float((physics.data.subtree_com[self._target_body] - pos) @ forward), 0.5)
        new_forward = basis @ forward_local
        new_pos = pos + distance * forward - distance * (1.0 + self.offset[3]) * new_forward
        new_up = basis @ up_local
        for gl_cam in scene.camera:
            gl_cam.pos[:] = new_pos
            gl_cam.forward[:] = new_forward
            gl_cam.up[:] = new_up

    def _local_axes(self) -> tuple[np.ndarray, np.ndarray]:
        """Shaken forward and up in the camera's own (right, up, back) frame.

        Horizontal swing about the camera's up axis, then vertical about its (swung)
        right axis, then roll about the new view axis. Cached while offsets stay put.
        """
        key = tuple(self.offset[:3].tolist())
        if getattr(self, "_axes_key", None) != key:
            vertical, horizontal, roll = key
            forward, up, right = (0.0, 0.0, -1.0), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0)
            forward, right = _rotate(forward, up, horizontal), _rotate(right, up, horizontal)
            forward, up = _rotate(forward, right, vertical), _rotate(up, right, vertical)
            up = _rotate(up, forward, roll)
            self._axes = (np.array(forward), np.array(up))
            self._axes_key = key
        return self._axes

    def state(self) -> np.ndarray:
        return np.concatenate([self.offset, self.velocity]).astype(np.float32)


def _rotate(v: tuple, axis: tuple, angle: float) -> tuple:
    """Rotate ``v`` about the unit ``axis`` by ``angle`` (Rodrigues), in plain floats."""
    c, s = math.cos(angle), math.sin(angle)
    ax, ay, az = axis
    vx, vy, vz = v
    cx, cy, cz = ay * vz - az * vy, az * vx - ax * vz, ax * vy - ay * vx
    dot = (ax * vx + ay * vy + az * vz) * (1 - c)
    return (vx * c + cx * s + ax * dot, vy * c + cy * s + ay * dot, vz * c + cz * s + az * dot)
