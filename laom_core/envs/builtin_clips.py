"""Built-in distractor clips: generated on this machine, deterministic by seed.

Three visually different families; the default library alternates ``shapes`` and
``waves`` along each split's clip list, and ``bodies`` joins only on request
(``BuiltinSource(families=ALL_FAMILIES)``, or the video source ``builtin+bodies``):

- ``shapes``: coloured discs, boxes and bars drifting and spinning over a slowly moving
  colour gradient (object-like motion, high contrast);
- ``waves``: procedural interference textures (sums of travelling plane waves through a
  random colour palette), full-frame motion like water or flames;
- ``bodies``: renders of other MuJoCo bodies (cheetahs, walkers, hoppers, humanoids,
  swimmers, fingers, ...) driven by smooth random actions from random viewpoints. These look
  like the agent (some are cheetahs), which mixes another question into the paper's: a
  background that contains the agent's own kind of motion. The paper's DAVIS videos hold
  no such thing, so the default library leaves them out.

Clip content depends only on (seed, split, index, size, num_frames): train and eval clips
come from disjoint seed streams, so the splits never share a clip. Each clip is stored as
``<cache>/builtin-v<version>-s<size>-f<frames>-seed<seed>/<name>.npy`` with an atomic write.
"""
from __future__ import annotations

import dataclasses
from concurrent.futures import ProcessPoolExecutor
import multiprocessing
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from laom_core.envs.gl import import_suite
from laom_core.workspace import atomic_path

FORMAT_VERSION = 2
FAMILIES = ("shapes", "bodies", "waves")  # every family there is
DEFAULT_FAMILIES = ("shapes", "waves")  # nothing agent-like (see the module docstring)
_SPLIT_CODE = {"train": 1, "eval": 2}

# Domains rendered for the "bodies" family: (domain, task, camera ids worth using).
BODY_TASKS = (
    ("cheetah", "run"),
    ("walker", "walk"),
    ("hopper", "hop"),
    ("humanoid", "walk"),
    ("reacher", "easy"),
    ("finger", "spin"),
    ("acrobot", "swingup"),
    ("swimmer", "swimmer6"),
    ("cartpole", "swingup"),
    ("pendulum", "swingup"),
    ("ball_in_cup", "catch"),
    ("fish", "swim"),
)


@dataclasses.dataclass(frozen=True)
class ClipSpec:
    name: str
    split: str
    index: int
    family: str
    size: int
    num_frames: int
    seed: int

    def rng(self) -> np.random.Generator:
        return np.random.default_rng([self.seed, _SPLIT_CODE[self.split], self.index, FORMAT_VERSION])


def clip_specs(num_train: int, num_eval: int, size: int, num_frames: int, seed: int,
               families: tuple[str, ...] = DEFAULT_FAMILIES) -> list[ClipSpec]:
    """Clip i of a split belongs to ``families[i % len(families)]``."""
    unknown = [f for f in families if f not in FAMILIES]
    if not families or unknown:
        raise ValueError(f"unknown clip families {unknown or families!r}; choose from {FAMILIES}")
    specs = []
    for split, count in (("train", num_train), ("eval", num_eval)):
        for i in range(count):
            family = families[i % len(families)]
            specs.append(ClipSpec(f"{split}-{i:03d}-{family}", split, i, family, size, num_frames, seed))
    return specs


def cache_folder_name(size: int, num_frames: int, seed: int) -> str:
    return f"builtin-v{FORMAT_VERSION}-s{size}-f{num_frames}-seed{seed}"


def clip_path(spec: ClipSpec, folder: Path) -> Path:
    return Path(folder) / f"{spec.name}.npy"


def generate(spec: ClipSpec) -> np.ndarray:
    """The frames of one clip, (num_frames, size, size, 3) uint8."""
    maker = {"shapes": _shapes, "waves": _waves, "bodies": _bodies}[spec.family]
    frames = maker(spec, spec.rng())
    assert frames.shape == (spec.num_frames, spec.size, spec.size, 3) and frames.dtype == np.uint8
    return frames


def load_or_generate(spec: ClipSpec, folder: Path) -> np.ndarray:
    path = clip_path(spec, folder)
    if path.exists():
        try:
            frames = np.load(path, allow_pickle=False)
            if frames.shape == (spec.num_frames, spec.size, spec.size, 3) and frames.dtype == np.uint8:
                return frames
        except (OSError, ValueError):
            pass  # a damaged cache file is regenerated below
    frames = generate(spec)
    save(frames, path)
    return frames


def save(frames: np.ndarray, path: Path) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, frames, allow_pickle=False)


def _generate_and_save(args: tuple[ClipSpec, str]) -> str:
    spec, folder = args
    load_or_generate(spec, Path(folder))
    return spec.name


def generate_many(
    specs: Iterable[ClipSpec],
    folder: Path,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Generate and cache ``specs``; ``progress(done, total)`` after each clip."""
    specs = list(specs)
    total = len(specs)
    if total == 0:
        return 0
    jobs = [(s, str(folder)) for s in specs]
    if workers <= 1:
        for done, job in enumerate(jobs, 1):
            _generate_and_save(job)
            if progress:
                progress(done, total)
    else:
        # spawn: a forked child must not inherit the parent's GL context.
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            for done, _ in enumerate(pool.map(_generate_and_save, jobs), 1):
                if progress:
                    progress(done, total)
    return total


# ---------------------------------------------------------------------------------------
# Family: shapes.


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    coords = (np.arange(size, dtype=np.float32) + 0.5) / size
    return np.meshgrid(coords, coords, indexing="xy")


def _shapes(spec: ClipSpec, rng: np.random.Generator) -> np.ndarray:
    n, t = spec.size, spec.num_frames
    x, y = _grid(n)
    c0, c1 = rng.uniform(0, 1, (2, 3)).astype(np.float32)
    angle0, dangle = rng.uniform(0, 2 * np.pi), rng.normal(0, 0.03)
    count = int(rng.integers(3, 8))
    kind = rng.integers(0, 3, count)  # 0 disc, 1 box, 2 bar
    pos = rng.uniform(0.1, 0.9, (count, 2))
    vel = rng.normal(0, 0.015, (count, 2))
    radius = rng.uniform(0.06, 0.2, count)
    aspect = rng.uniform(0.3, 1.0, count)
    rot, spin = rng.uniform(0, np.pi, count), rng.normal(0, 0.08, count)
    colors = rng.uniform(0, 1, (count, 3)).astype(np.float32)
    frames = np.empty((t, n, n, 3), dtype=np.uint8)
    for f in range(t):
        a = angle0 + dangle * f
        g = np.clip(0.5 + (x - 0.5) * np.cos(a) + (y - 0.5) * np.sin(a), 0, 1)[..., None]
        img = c0 * (1 - g) + c1 * g
        for k in range(count):
            dx, dy = x - pos[k, 0], y - pos[k, 1]
            c, s = np.cos(rot[k]), np.sin(rot[k])
            u, v = c * dx + s * dy, -s * dx + c * dy
            if kind[k] == 0:
                mask = u**2 + (v / aspect[k]) ** 2 < radius[k] ** 2
            elif kind[k] == 1:
                mask = (np.abs(u) < radius[k]) & (np.abs(v) < radius[k] * aspect[k])
            else:
                mask = (np.abs(u) < radius[k] * 1.8) & (np.abs(v) < radius[k] * 0.25)
            img[mask] = colors[k]
        frames[f] = (img * 255).astype(np.uint8)
        pos += vel
        for d in range(2):  # bounce off the frame edges
            out = (pos[:, d] < 0.05) | (pos[:, d] > 0.95)
            vel[out, d] *= -1
        pos = np.clip(pos, 0.05, 0.95)
        rot += spin
    return frames


# ---------------------------------------------------------------------------------------
# Family: waves.


def _waves(spec: ClipSpec, rng: np.random.Generator) -> np.ndarray:
    n, t = spec.size, spec.num_frames
    x, y = _grid(n)
    count = int(rng.integers(3, 6))
    direction = rng.uniform(0, 2 * np.pi, count)
    freq = rng.uniform(1.0, 5.0, count)
    speed = rng.normal(0, 0.25, count)
    phase = rng.uniform(0, 2 * np.pi, count)
    palette_phase = rng.uniform(0, 2 * np.pi, 3)
    palette_freq = rng.uniform(0.3, 1.0, 3)
    frames = np.empty((t, n, n, 3), dtype=np.uint8)
    for f in range(t):
        field = np.zeros((n, n), dtype=np.float32)
        for k in range(count):
            proj = x * np.cos(direction[k]) + y * np.sin(direction[k])
            field += np.sin(2 * np.pi * freq[k] * proj + phase[k] + speed[k] * f)
        field /= count
        rgb = 0.5 + 0.5 * np.sin(np.pi * palette_freq * field[..., None] * 2 + palette_phase)
        frames[f] = (rgb * 255).astype(np.uint8)
    return frames


# ---------------------------------------------------------------------------------------
# Family: bodies (renders of other MuJoCo agents).


def _bodies(spec: ClipSpec, rng: np.random.Generator) -> np.ndarray:
    suite = import_suite()  # a missing GL backend becomes an EnvError with a hint
    import mujoco
    from dm_control.mujoco import engine

    domain, task = BODY_TASKS[int(rng.integers(len(BODY_TASKS)))]
    env = suite.load(domain, task, task_kwargs={"random": int(rng.integers(2**31))})
    physics = env.physics
    try:
        spec_a = env.action_spec()
        low, high = spec_a.minimum, spec_a.maximum
        # Random tint of the body's materials, so bodies differ from the agent's colours.
        if rng.uniform() < 0.5:
            physics.model.mat_rgba[:, :3] = np.clip(
                physics.model.mat_rgba[:, :3] * rng.uniform(0.5, 1.5, 3), 0, 1
            )
        camera = engine.MovableCamera(physics, spec.size, spec.size)
        azimuth = rng.uniform(0, 360)
        elevation = rng.uniform(-35, -5)
        distance_scale = rng.uniform(0.6, 1.4)
        spin = rng.normal(0, 0.5)
        env.reset()
        action = rng.uniform(low, high)
        for _ in range(int(rng.integers(0, 40))):  # random start pose
            action = _smooth_action(action, rng, low, high)
            env.step(action)
        frame_skip = 2
        flags = {mujoco.mjtRndFlag.mjRND_SHADOW: False, mujoco.mjtRndFlag.mjRND_REFLECTION: False}
        frames = np.empty((spec.num_frames, spec.size, spec.size, 3), dtype=np.uint8)
        distance = physics.model.stat.extent * 1.1 * distance_scale
        for f in range(spec.num_frames):
            lookat = physics.data.subtree_com[1].copy() if physics.model.nbody > 1 else np.zeros(3)
            camera.set_pose(lookat, distance, azimuth + spin * f, elevation)
            frames[f] = camera.render(render_flag_overrides=flags)
            for _ in range(frame_skip):
                action = _smooth_action(action, rng, low, high)
                if env.step(action).last():
                    env.reset()
        return frames
    finally:
        physics.free()


def _smooth_action(action: np.ndarray, rng: np.random.Generator, low, high) -> np.ndarray:
    """Ornstein-Uhlenbeck-like random actions: jerky uniform noise looks like vibration."""
    return np.clip(0.85 * action + 0.15 * rng.uniform(low, high) * 3.0, low, high)
