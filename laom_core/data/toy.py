"""A tiny synthetic dataset in the released HDF5 layout, for tests, smoke runs and benchmarks.

Coloured discs on a plain background; action dims (2i, 2i+1) move disc i by
``SPEED * action`` (in image-size units), so a_t is readable from frames t and t+1: a
linear probe on latent actions should recover it. States are the disc positions and
velocities. Actions come from a smooth random policy that steers discs away from the
walls, so positions are rarely clipped and the action stays recoverable.

With ``distractors=True`` the frames also carry what the paper's distractors do to
pixels: a moving background pattern taken from one of a few "clips" (sinusoidal
gratings with their own colours and speed, played frame by frame and bouncing at the
ends), a camera-like global shift of the whole image that drifts every step, and a slow
drift of the discs' colour. The per-step distractor state is saved as
``distractor/clip_id``, ``distractor/frame_index``, ``distractor/camera`` (dx, dy in
pixels) and ``distractor/color`` (RGB delta), as collected datasets do.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from laom_core.data.hdf5 import DatasetWriter
from laom_core.errors import ConfigError

SPEED = 0.05  # disc displacement per step for |action| = 1, as a fraction of the image size
RADIUS = 0.09  # disc radius, fraction of the image size
_COLORS = np.array(
    [[240, 80, 60], [60, 200, 90], [70, 110, 250], [240, 210, 60], [200, 80, 220], [60, 220, 220]],
    dtype=np.float32,
)
_BACKGROUND = np.array([30, 30, 36], dtype=np.float32)
NUM_CLIPS = 4
CLIP_FRAMES = 64
MAX_CAMERA_SHIFT = 6  # pixels at 64 px


def _policy(rng: np.random.Generator, steps: int, pos0: np.ndarray, action_dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Smooth random actions with a pull to the centre; returns actions (T,A), positions (T+1,n,2)."""
    n = pos0.shape[0]
    actions = np.zeros((steps, action_dim), dtype=np.float32)
    pos = np.zeros((steps + 1, n, 2), dtype=np.float64)
    pos[0] = pos0
    noise = np.zeros(action_dim)
    lo, hi = RADIUS + 0.02, 1.0 - RADIUS - 0.02
    for t in range(steps):
        noise = 0.5 * noise + 0.5 * rng.uniform(-2.0, 2.0, size=action_dim)
        pull = np.zeros(action_dim)
        flat = (0.5 - pos[t]).reshape(-1)[:action_dim]
        pull[: len(flat)] = 3.0 * flat
        a = np.clip(noise + pull, -1.0, 1.0)
        actions[t] = a
        move = np.zeros(2 * n)
        move[:action_dim] = SPEED * a
        pos[t + 1] = np.clip(pos[t] + move.reshape(n, 2), lo, hi)
    return actions, pos


def _render(pos: np.ndarray, colors: np.ndarray, img_size: int, background: np.ndarray) -> np.ndarray:
    """Anti-aliased discs over ``background`` (T,H,W,3) float -> uint8 (T,H,W,3)."""
    grid = (np.arange(img_size, dtype=np.float32) + 0.5) / img_size
    frames = background.astype(np.float32).copy()
    r = RADIUS * img_size
    for i in range(pos.shape[1]):
        dx = (grid[None, None, :] - pos[:, i, 0, None, None].astype(np.float32)) * img_size
        dy = (grid[None, :, None] - pos[:, i, 1, None, None].astype(np.float32)) * img_size
        alpha = np.clip(r - np.sqrt(dx * dx + dy * dy) + 0.5, 0.0, 1.0)[..., None]
        col = colors[:, i][:, None, None, :]
        frames = frames * (1 - alpha) + col * alpha
    return np.clip(frames + 0.5, 0, 255).astype(np.uint8)


def _clip_frames(clip_id: int, frame_index: np.ndarray, img_size: int) -> np.ndarray:
    """Background of distractor clip ``clip_id`` at the given frame indices: (T,H,W,3) float."""
    crng = np.random.default_rng(1000 + clip_id)
    freq = crng.uniform(1.5, 4.0, size=2)
    angle = crng.uniform(0, np.pi)
    speed = crng.uniform(0.05, 0.15)
    col_a, col_b = crng.uniform(20, 230, size=(2, 3))
    g = np.arange(img_size, dtype=np.float32) / img_size
    proj = np.cos(angle) * g[None, :] + np.sin(angle) * g[:, None]  # (H,W)
    phase = (speed * frame_index).astype(np.float32)[:, None, None]
    wave = 0.5 + 0.25 * np.sin(2 * np.pi * (freq[0] * proj[None] + phase)) + 0.25 * np.sin(
        2 * np.pi * (freq[1] * g[None, :, None] - 0.7 * phase)
    )
    return col_a * wave[..., None] + col_b * (1 - wave[..., None])


def _shift(frames: np.ndarray, dxy: np.ndarray) -> np.ndarray:
    """Shift each frame by integer (dx, dy) pixels, replicating the edge (a camera pan)."""
    t, h, w, _ = frames.shape
    ys = np.clip(np.arange(h)[None, :] - dxy[:, 1, None], 0, h - 1)  # (T,H)
    xs = np.clip(np.arange(w)[None, :] - dxy[:, 0, None], 0, w - 1)  # (T,W)
    return frames[np.arange(t)[:, None, None], ys[:, :, None], xs[:, None, :]]


def make_toy_trajectory(rng: np.random.Generator, steps: int, img_size: int, action_dim: int,
                        distractors: bool) -> dict:
    """One trajectory: obs, actions, states, traj_return and (with distractors) distractor/*."""
    n = (action_dim + 1) // 2
    pos0 = rng.uniform(0.3, 0.7, size=(n, 2))
    actions, pos = _policy(rng, steps, pos0, action_dim)
    pos_t = pos[:steps]
    vel = pos[1 : steps + 1] - pos_t
    states = np.concatenate([pos_t.reshape(steps, -1), vel.reshape(steps, -1)], axis=1).astype(np.float32)
    colors = np.repeat(_COLORS[np.arange(n) % len(_COLORS)][None], steps, axis=0)  # (T,n,3)
    reward = 1.0 - 2.0 * np.linalg.norm(pos_t[:, 0] - 0.5, axis=-1)
    out: dict = {"actions": actions, "states": states, "traj_return": float(reward.sum())}
    if not distractors:
        bg = np.broadcast_to(_BACKGROUND, (steps, img_size, img_size, 3))
        out["obs"] = _render(pos_t, colors, img_size, bg)
        return out
    clip_id = int(rng.integers(NUM_CLIPS))
    start, direction = int(rng.integers(CLIP_FRAMES)), int(rng.choice([-1, 1]))
    raw = start + direction * np.arange(steps)
    period = 2 * (CLIP_FRAMES - 1)
    frame_index = np.abs((raw % period + period) % period)
    frame_index = np.where(frame_index >= CLIP_FRAMES, period - frame_index, frame_index).astype(np.int64)
    max_shift = max(1, round(MAX_CAMERA_SHIFT * img_size / 64))
    cam = np.zeros((steps, 2), dtype=np.float64)
    cam[0] = rng.uniform(-max_shift, max_shift, size=2)
    for t in range(1, steps):
        cam[t] = np.clip(cam[t - 1] + rng.normal(0, 0.6 * max_shift / 6 + 0.4, size=2), -max_shift, max_shift)
    cam_px = np.round(cam).astype(np.int64)
    color_delta = np.cumsum(rng.normal(0, 3.0, size=(steps, 3)), axis=0).clip(-60, 60).astype(np.float32)
    colors = np.clip(colors + color_delta[:, None, :], 0, 255)
    frames = _render(pos_t, colors, img_size, _clip_frames(clip_id, frame_index, img_size))
    out["obs"] = _shift(frames, cam_px)
    out["distractor"] = {
        "clip_id": np.full(steps, clip_id, dtype=np.int64),
        "frame_index": frame_index,
        "camera": cam_px.astype(np.float32),
        "color": color_delta,
    }
    return out


def make_toy_dataset(
    path: str | Path,
    trajectories: int = 20,
    steps: int = 50,
    img_size: int = 64,
    action_dim: int = 2,
    seed: int = 0,
    distractors: bool = False,
    overwrite: bool = True,
) -> Path:
    """Write a toy dataset in the released layout to ``path`` (atomically); returns the resolved path."""
    if trajectories < 1 or steps < 2 or img_size < 8 or action_dim < 1:
        raise ConfigError(
            f"toy dataset needs trajectories >= 1, steps >= 2, img_size >= 8, action_dim >= 1; got "
            f"{trajectories}, {steps}, {img_size}, {action_dim}"
        )
    rng = np.random.default_rng(seed)
    attrs = {
        "domain_name": "toy",
        "task_name": "move",
        "difficulty": "easy" if distractors else "vanilla",
        "dynamic": bool(distractors),
        "img_hw": int(img_size),
        "split": "train",
        "generator": "laom_core.data.toy",
    }
    with DatasetWriter(path, attrs, overwrite=overwrite) as writer:
        for _ in range(trajectories):
            traj = make_toy_trajectory(rng, steps, img_size, action_dim, distractors)
            extra = {"distractor": traj["distractor"]} if "distractor" in traj else None
            writer.add_trajectory(traj["obs"], traj["actions"], traj["states"], traj["traj_return"], extra)
    return writer.path
