"""Camera shake distractor, following the Distracting Control Suite (DCS) camera.

The camera keeps looking at the same point (the tracked body's centre of mass projected on
the view axis, at distance r0 from the camera) but its position moves on a sphere around
that point. Positions are written in the unshaken camera's own frame (right, up, back) in
units of r0: with vertical angle v, horizontal angle h and radius factor r = 1 + zoom,

    position = r * (sin h cos v, -sin v, cos h cos v)

(h swings about the camera's up axis, v about its right axis; v > 0 tilts the view up).
The view is then rolled about its axis. With scale s, per episode:

- v, h and roll drawn uniform in +-pi/2*s; zoom uniform in [-0.5*s, +1.5*s] (distance
  multiplied by 1 + zoom: in up to 0.5*s, out up to 1.5*s);
- dynamic only: an initial cartesian velocity with a random direction and a norm uniform
  in [0, 0.4*s/4], and a roll velocity uniform in +-pi/50*s (static: both zero). (DCS
  draws that norm in metres without the r0/4 scaling and moves once at reset; here the
  scaling is applied throughout and the first move happens at the first step.)

Every step (dynamic only), as DCS does in metres with its velocity scaling r0/4:

- velocity += N(0, 1) noise on each of its three components times 0.1*s/4; its norm
  is clipped to 0.4*s/4;
- the moved position is converted back to (v, h, r), clipped to the bounds above, and
  the velocity becomes the clipped move (new position - old position);
- roll velocity += N(0, 1)*pi/300*s, clipped to +-pi/50*s; roll moves by it, is clipped
  to +-pi/2*s and its velocity becomes the clipped move.

Units: DCS scales its noise and maximum speed (0.1*s and 0.4*s metres per step) by r0/4
with r0 its starting camera distance, so in units of r0 they are 0.1*s/4 and 0.4*s/4,
whatever r0 is. Working on the r0-scaled sphere is therefore exact (for cameras whose
look-at distance stays constant, the tracking cameras of the suite) and simplest: r0
cancels, the state needs no metres, and ``apply`` multiplies by the look-at distance it
computes each frame anyway. The camera moves at most 0.4*s/4 (0.01 at s = 0.1) in r0
units per step (the clip to the inner radius can lengthen a move by a second-order amount,
under 0.1% for s <= 0.3), so the angle it turns about the look-at point per step is at
most asin(0.1*s / r) with r the radius factor: 0.01 rad at r = 1, up to 0.0105 rad when
zoomed in to r = 0.95 (s = 0.1).

The shake is applied to the scene camera after ``mjv_updateScene`` and before drawing, so
physics state is never touched. State record (float32, :data:`STATE_SIZE` = 8 columns):

    0 vertical angle v (rad)      4 velocity along the camera's right axis (r0 per step)
    1 horizontal angle h (rad)    5 velocity along its up axis (r0 per step)
    2 roll (rad)                  6 velocity along its back axis (r0 per step)
    3 zoom (r = 1 + zoom)         7 roll velocity (rad per step)
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
        self.angle_max = np.pi / 2 * s  # bound of v, h and roll
        self.zoom_low, self.zoom_high = -0.5 * s, 1.5 * s
        self.vel_std = 0.1 * s / 4  # r0 units per step (DCS: 0.1*s metres times r0/4)
        self.vel_max = 0.4 * s / 4
        self.roll_std = np.pi / 300 * s
        self.roll_max = np.pi / 50 * s
        self.offset = np.zeros(4)  # vertical, horizontal, roll, zoom
        self.velocity = np.zeros(3)  # cartesian, camera frame (right, up, back), r0 per step
        self.roll_velocity = 0.0
        self._target_body = 0

    def bind(self, physics, camera_id: int) -> None:
        model = physics.model
        target = int(model.cam_targetbodyid[camera_id])
        body = int(model.cam_bodyid[camera_id])
        self._target_body = target if target >= 0 else body

    def reset(self) -> None:
        a = self.angle_max
        self.offset = self._rng.uniform([-a, -a, -a, self.zoom_low], [a, a, a, self.zoom_high])
        self.velocity = np.zeros(3)
        self.roll_velocity = 0.0
        if self.dynamic:
            direction = self._rng.normal(0.0, 1.0, 3)
            self.velocity = direction / np.sqrt(direction @ direction) * self._rng.uniform(0.0, self.vel_max)
            self.roll_velocity = float(self._rng.uniform(-self.roll_max, self.roll_max))

    def advance(self) -> None:
        if not self.dynamic or self.scale == 0:
            return
        velocity = self.velocity + self._rng.normal(0.0, 1.0, 3) * self.vel_std
        roll_velocity = self.roll_velocity + self._rng.normal() * self.roll_std
        norm = math.sqrt(velocity @ velocity)
        if norm > self.vel_max:
            velocity *= self.vel_max / norm
        vertical, horizontal, roll, zoom = self.offset
        old = _sphere_to_cart(vertical, horizontal, 1.0 + zoom)
        vertical, horizontal, radius = _cart_to_sphere(old + velocity)
        a = self.angle_max
        vertical = min(max(vertical, -a), a)
        horizontal = min(max(horizontal, -a), a)
        radius = min(max(radius, 1.0 + self.zoom_low), 1.0 + self.zoom_high)
        self.velocity = _sphere_to_cart(vertical, horizontal, radius) - old
        roll_velocity = min(max(roll_velocity, -self.roll_max), self.roll_max)
        new_roll = min(max(roll + roll_velocity, -a), a)
        self.roll_velocity = new_roll - roll
        self.offset = np.array([vertical, horizontal, new_roll, radius - 1.0])

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
        """The record described in the module docstring (float32, :data:`STATE_SIZE`)."""
        return np.concatenate([self.offset, self.velocity, [self.roll_velocity]]).astype(np.float32)


def _sphere_to_cart(vertical: float, horizontal: float, radius: float) -> np.ndarray:
    """Camera position in the unshaken camera frame (right, up, back), r0 units."""
    cos_v = math.cos(vertical)
    return radius * np.array([math.sin(horizontal) * cos_v, -math.sin(vertical), math.cos(horizontal) * cos_v])


def _cart_to_sphere(position: np.ndarray) -> tuple[float, float, float]:
    """Inverse of :func:`_sphere_to_cart`: (vertical, horizontal, radius)."""
    x, y, z = position.tolist()
    return math.atan2(-y, math.hypot(x, z)), math.atan2(x, z), math.sqrt(x * x + y * y + z * z)


def _rotate(v: tuple, axis: tuple, angle: float) -> tuple:
    """Rotate ``v`` about the unit ``axis`` by ``angle`` (Rodrigues), in plain floats."""
    c, s = math.cos(angle), math.sin(angle)
    ax, ay, az = axis
    vx, vy, vz = v
    cx, cy, cz = ay * vz - az * vy, az * vx - ax * vz, ax * vy - ay * vx
    dot = (ax * vx + ay * vy + az * vz) * (1 - c)
    return (vx * c + cx * s + ax * dot, vy * c + cy * s + ay * dot, vz * c + cz * s + az * dot)
