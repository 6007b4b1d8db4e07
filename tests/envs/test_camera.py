"""Camera shake speed: the per-step motion of the Distracting Control Suite camera.

The reference below is written from the DCS description, in metres and in DCS's own
spherical coordinates (polar angle from +z, azimuth about z), independently of
``laom_core.envs.camera``; the module works on the r0-scaled sphere in the camera's frame.
Both are compared through the angle the camera turns about its look-at point per step.
"""
from __future__ import annotations

import numpy as np
import pytest

from laom_core.envs.camera import STATE_SIZE, CameraShake

EPISODES, STEPS = 300, 100  # module episodes; the (vectorised) reference runs 2000


def _reference_angles(scale: float, episodes: int, steps: int, seed: int, r0: float = 2.5) -> np.ndarray:
    """Per-step turning angles (episodes, steps) of DCS cameras at distance r0 metres.

    All episodes advance together (rows); a step follows the description: velocity plus
    N(0, 1) noise per component times 0.1*s*r0/4, norm clipped to 0.4*s*r0/4, the moved
    position clipped to the spherical bounds, the velocity set to the clipped move.
    """
    rng = np.random.default_rng(seed)
    s = scale
    delta = np.pi / 2 * s
    polar0, azimuth0 = np.pi / 2, 0.7  # any start; the bounds are offsets around it
    r_lo, r_hi = r0 * (1 - 0.5 * s), r0 * (1 + 1.5 * s)
    vel_std, vel_max = 0.1 * s * r0 / 4, 0.4 * s * r0 / 4

    def cart(r, polar, azimuth):
        return r[:, None] * np.stack(
            [np.sin(polar) * np.cos(azimuth), np.sin(polar) * np.sin(azimuth), np.cos(polar)], -1
        )

    r = rng.uniform(r_lo, r_hi, episodes)
    polar = rng.uniform(polar0 - delta, polar0 + delta, episodes)
    azimuth = rng.uniform(azimuth0 - delta, azimuth0 + delta, episodes)
    vel = rng.standard_normal((episodes, 3))
    vel *= (rng.uniform(0, vel_max, episodes) / np.linalg.norm(vel, axis=1))[:, None]
    out = np.empty((episodes, steps))
    for t in range(steps):
        vel = vel + rng.standard_normal((episodes, 3)) * vel_std
        norm = np.linalg.norm(vel, axis=1, keepdims=True)
        vel *= np.minimum(1.0, vel_max / norm)
        old = cart(r, polar, azimuth)
        moved = old + vel
        r = np.clip(np.linalg.norm(moved, axis=1), r_lo, r_hi)
        polar = np.clip(np.arctan2(np.hypot(moved[:, 0], moved[:, 1]), moved[:, 2]), polar0 - delta, polar0 + delta)
        azimuth = np.clip(np.arctan2(moved[:, 1], moved[:, 0]), azimuth0 - delta, azimuth0 + delta)
        new = cart(r, polar, azimuth)
        vel = new - old
        cos = (old * new).sum(1) / (np.linalg.norm(old, axis=1) * np.linalg.norm(new, axis=1))
        out[:, t] = np.arccos(np.clip(cos, -1, 1))
    return out


def _positions(states: np.ndarray) -> np.ndarray:
    """Camera positions (r0 units, camera frame right/up/back) from state records."""
    v, h, r = states[..., 0], states[..., 1], 1 + states[..., 3]
    return r[..., None] * np.stack([np.sin(h) * np.cos(v), -np.sin(v), np.cos(h) * np.cos(v)], -1)


def _turning_angles(states: np.ndarray) -> np.ndarray:
    """Angle (rad) the camera turns about the look-at point between consecutive records."""
    p = _positions(states.astype(np.float64))
    return _angle_between(p[..., :-1, :], p[..., 1:, :])


def _angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle between vectors along the last axis (atan2 form: accurate for small angles)."""
    return np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), (a * b).sum(-1))


def _module_states(scale: float, episodes: int, steps: int, seed: int) -> np.ndarray:
    shake = CameraShake(scale, dynamic=True, seed=seed)
    out = np.empty((episodes, steps + 1, STATE_SIZE))
    for e in range(episodes):
        shake.reset()
        out[e, 0] = shake.state()
        for t in range(steps):
            shake.advance()
            out[e, t + 1] = shake.state()
    return out


@pytest.mark.parametrize("scale", [0.1, 0.3])
def test_turning_speed_is_bounded_and_velocity_is_the_move(scale):
    states = _module_states(scale, 40, STEPS, seed=1)
    p = _positions(states.astype(np.float64))
    r = np.linalg.norm(p, axis=-1)
    # the recorded velocity (columns 4:7) is the move just made, at most 0.4*s/4 r0 per step
    # (clipping to the inner radius may lengthen a move by a second-order amount: < 0.1%)
    tol = 1 + 1e-3
    assert np.allclose(p[:, 1:] - p[:, :-1], states[:, 1:, 4:7], atol=1e-5)
    assert np.linalg.norm(states[..., 4:7], axis=-1).max() <= 0.4 * scale / 4 * tol
    # so the turning angle satisfies sin(angle) * radius <= 0.4*s/4 (angular speed 0.4*s/4
    # on the r0 sphere), the radius being the larger of the two ends
    angles = _turning_angles(states)
    assert np.max(np.sin(angles) * np.maximum(r[:, 1:], r[:, :-1])) <= 0.4 * scale / 4 * tol
    assert np.all(np.abs(states[..., :3]) <= np.pi / 2 * scale + 1e-6)
    assert np.all((states[..., 3] >= -0.5 * scale - 1e-6) & (states[..., 3] <= 1.5 * scale + 1e-6))
    assert np.abs(states[..., 7]).max() <= np.pi / 50 * scale + 1e-6
    assert np.allclose(np.diff(states[..., 2], axis=1), states[:, 1:, 7], atol=1e-6)


def test_easy_scale_turns_at_most_about_a_hundredth_of_a_radian_per_step():
    """s = 0.1: 0.01 rad per step at the starting distance, 0.01/0.95 zoomed fully in.

    The earlier shake moved the angles by up to 0.4*s = 0.04 rad per step.
    """
    states = _module_states(0.1, 60, STEPS, seed=2)
    angles = _turning_angles(states)
    assert angles.max() <= np.arcsin(0.01 / 0.95) + 1e-6  # 0.01053
    assert np.abs(np.diff(states[..., 0], axis=1)).max() <= 0.0106  # vertical
    # horizontal: a longitude step is the turn over cos(vertical) >= cos(pi/20)
    assert np.abs(np.diff(states[..., 1], axis=1)).max() <= 0.0107
    # at the unzoomed distance (r >= 1) the bound is 0.01 rad
    unzoomed = (states[:, 1:, 3] >= 0) & (states[:, :-1, 3] >= 0)
    assert angles[unzoomed].max() <= 0.0101


@pytest.mark.parametrize("scale", [0.1, 0.3])
def test_turning_speed_distribution_matches_the_dcs_reference(scale):
    ours = _turning_angles(_module_states(scale, EPISODES, STEPS, seed=3)).ravel()
    ref = _reference_angles(scale, 2000, STEPS, seed=4).ravel()
    # tolerances about twice the spread seen over module seeds (episodes are correlated)
    for q, tol in ((10, 0.08), (50, 0.05), (90, 0.05), (99, 0.05)):
        a, b = np.percentile(ours, q), np.percentile(ref, q)
        assert abs(a - b) <= tol * b, (q, a, b)
    assert abs(ours.mean() - ref.mean()) <= 0.04 * ref.mean()
    assert abs(ours.max() - ref.max()) <= 0.01 * ref.max()


def test_static_camera_does_not_move():
    shake = CameraShake(0.3, dynamic=False, seed=0)
    shake.reset()
    first = shake.state()
    assert first.shape == (STATE_SIZE,) and not first[4:].any()
    for _ in range(5):
        shake.advance()
    assert np.array_equal(shake.state(), first)


def test_suite_episode_at_scale_easy_turns_about_a_hundredth_of_a_radian_per_step(frame_folder):
    """Through the real suite: the record and the rendered camera turn <= ~0.0105 rad a step."""
    from laom_core.envs import FolderSource, make_env

    states, forwards = [], []
    with make_env("cheetah-run", "scale_easy_video_hard", seed=5, img_size=16, fast_render=True,
                  video_source=FolderSource(frame_folder)) as env:
        assert env.camera.scale == 0.1 and env.camera.dynamic
        rng = np.random.default_rng(0)
        for _ in range(2):
            recs = [env.reset()]
            views = [_view_axis(env)]
            for _ in range(150):
                recs.append(env.step(rng.uniform(env.action_low, env.action_high)))
                views.append(_view_axis(env))
            states.append([r.distractor["camera"] for r in recs])
            forwards.append(views)
    states = np.asarray(states, dtype=np.float64)
    angles = _turning_angles(states)
    assert angles.max() <= np.arcsin(0.01 / 0.95) + 1e-6 and np.median(angles) > 0.001
    assert np.abs(np.diff(states[..., :2], axis=1)).max() <= 0.0107
    # the shaken camera looks at the point it turns about, and cheetah's camera tracks the
    # centre of mass with a fixed orientation, so the angle between the rendered view axes
    # of consecutive frames is the turning angle
    f = np.asarray(forwards)
    rendered = _angle_between(f[:, :-1], f[:, 1:])
    assert np.allclose(rendered, angles, atol=2e-4)


def _view_axis(env) -> np.ndarray:
    """The view axis of the frame just rendered (the scene camera after the shake)."""
    forward = env._renderer.scene.camera[0].forward.astype(np.float64)
    return forward / np.linalg.norm(forward)
