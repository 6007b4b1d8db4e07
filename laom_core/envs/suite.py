"""The Distracting Control Suite: dm_control tasks seen through three distractors.

``make_env("cheetah-run", "scale_easy_video_hard", split="train", seed=0)`` builds a
:class:`DistractingEnv` whose ``reset``/``step`` return :class:`EnvStep` records with
rendered pixels. The distractors, each a small class with its own seeded random state:

- :class:`~laom_core.envs.background.BackgroundVideo`: a video behind the agent;
- :class:`~laom_core.envs.camera.CameraShake`: camera offsets, roll and zoom;
- :class:`~laom_core.envs.color.ColorShift`: the agent's colour.

Difficulty presets follow the paper (scale s, number of videos); every parameter can also
be set on its own through keyword overrides (see :data:`OVERRIDES`).
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
from typing import Any

import numpy as np

from laom_core.envs.camera import STATE_SIZE as CAMERA_STATE_SIZE
from laom_core.envs.gl import import_suite
from laom_core.envs.types import EnvStep
from laom_core.errors import EnvError

class _DropSettotalmassWarning(logging.Filter):
    """Drops MuJoCo's "compiler attribute 'settotalmass' is deprecated" warning, which
    dm_control's own cheetah model triggers on every build (nothing a user can act on);
    every other absl message passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is not ours to judge
            return True
        return not ("'settotalmass' is deprecated" in message)


def quiet_settotalmass_warning() -> None:
    """Install the filter on the 'absl' logger once per process (idempotent)."""
    logger = logging.getLogger("absl")
    if not any(isinstance(f, _DropSettotalmassWarning) for f in logger.filters):
        logger.addFilter(_DropSettotalmassWarning())


quiet_settotalmass_warning()

DIFFICULTIES = ("vanilla", "easy", "medium", "hard", "scale_easy_video_hard")
SPLITS = ("train", "eval")

# difficulty -> (scale, number of videos; None = all clips of the split)
PRESETS: dict[str, tuple[float, int | None]] = {
    "vanilla": (0.0, 0),
    "easy": (0.1, 4),
    "medium": (0.2, 8),
    "hard": (0.3, None),
    "scale_easy_video_hard": (0.1, None),
}
# Domains whose floor stays opaque under a background video (others: alpha 0.3).
OPAQUE_GROUND_DOMAINS = ("walker", "cheetah", "hopper")
TRANSPARENT_GROUND_ALPHA = 0.3
DEFAULT_CAMERA = {"quadruped": 2}

OVERRIDES = {
    "scale": "camera and colour scale s (sets both)",
    "camera_scale": "camera shake scale (0 = off)",
    "color_scale": "agent colour change scale (0 = off)",
    "background": "show a background video (bool)",
    "num_videos": "use the first N clips of the split (None = all)",
    "ground_alpha": "floor opacity under the video (default: 1 for walker/cheetah/hopper, 0.3 otherwise)",
    "max_steps": "episode length (default: dm_control's, 1000)",
    "face_size": "skybox face size in texels (default 2 x img_size, 64..256)",
    "offsamples": "MSAA samples of the offscreen buffer (MuJoCo default 4)",
}



def parse_env_options(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings (the CLI's ``--env``) -> :func:`make_env` keyword arguments:
    numbers, true/false or none; unknown keys are refused."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise EnvError(f"--env expects KEY=VALUE, got {item!r}")
        if key not in OVERRIDES:
            raise EnvError(f"unknown environment option {key!r}; known: {', '.join(OVERRIDES)}")
        low = text.strip().lower()
        if low in ("true", "false"):
            value: Any = low == "true"
        elif low in ("none", "null"):
            value = None
        else:
            try:
                value = int(low)
            except ValueError:
                try:
                    value = float(low)
                except ValueError:
                    raise EnvError(f"--env {key}: expected a number, true/false or none, got {text!r}") from None
        out[key] = value
    return out


SKYBOX_ASSET = "./common/skybox.xml"


@dataclasses.dataclass
class DistractorSettings:
    background: bool
    num_videos: int | None
    camera_scale: float
    color_scale: float
    ground_alpha: float
    dynamic: bool


def parse_task(task: str) -> tuple[str, str]:
    """"cheetah-run" -> ("cheetah", "run"); raises EnvError for unknown tasks."""
    suite = import_suite()

    if not isinstance(task, str) or "-" not in task:
        raise EnvError(f"task must look like 'domain-task' (e.g. cheetah-run), got {task!r}")
    domain, name = task.split("-", 1)
    if (domain, name) not in suite.ALL_TASKS:
        domains = sorted({d for d, _ in suite.ALL_TASKS})
        if domain not in domains:
            raise EnvError(f"unknown domain {domain!r} in task {task!r}; domains: {', '.join(domains)}")
        tasks = sorted(t for d, t in suite.ALL_TASKS if d == domain)
        raise EnvError(f"unknown task {task!r}; {domain} tasks: {', '.join(tasks)}")
    return domain, name


@contextlib.contextmanager
def _small_skybox(face_size: int):
    """Compile suite models with a ``face_size`` skybox (the stock one is 800 x 4800)."""
    from dm_control.suite import common

    original = common.ASSETS[SKYBOX_ASSET]
    common.ASSETS[SKYBOX_ASSET] = (
        "<mujoco><asset>"
        f'<texture name="skybox" type="skybox" builtin="gradient" rgb1=".4 .6 .8" rgb2="0 0 0" '
        f'width="{face_size}" height="{face_size}"/>'
        "</asset></mujoco>"
    ).encode()
    try:
        yield
    finally:
        common.ASSETS[SKYBOX_ASSET] = original


def flatten_observation(observation: dict) -> np.ndarray:
    """The proprioceptive observation dict as float32, keys in sorted order."""
    return np.concatenate(
        [np.asarray(observation[k], dtype=np.float32).ravel() for k in sorted(observation)]
    )


class DistractingEnv:
    """A dm_control task with distractors, rendering pixels every step.

    ``step`` clips the action to the bounds; after the last step of an episode the next
    ``step`` starts a new episode (dm_control's behaviour), so call ``reset`` explicitly.
    """

    def __init__(
        self,
        *,
        domain_name: str,
        task_name: str,
        difficulty: str,
        split: str,
        seed: int,
        img_size: int,
        settings: DistractorSettings,
        fast_render: bool,
        camera_id: int,
        clips: list | None,
        max_steps: int | None,
        face_size: int,
        offsamples: int | None,
        video_source=None,
    ):
        suite = import_suite()  # first: it turns a missing GL backend into an EnvError
        self.domain_name = domain_name
        self.task_name = task_name
        self.difficulty = difficulty
        self.split = split
        self.seed = seed
        self.img_size = img_size
        self.dynamic = settings.dynamic
        self.settings = settings
        self.fast_render = fast_render
        self.camera_id = camera_id
        self.max_steps = max_steps
        self.video_source = video_source
        self.clips = clips or []

        seeds = np.random.SeedSequence(seed).spawn(4)
        task_seed = int(seeds[0].generate_state(1)[0])
        skybox = _small_skybox(face_size) if settings.background else contextlib.nullcontext()
        task_kwargs = {"random": task_seed}
        if max_steps is not None:
            # Our step count ends the episode; dm_control's own limit (1000 steps) would
            # otherwise cut a longer one short without a word.
            task_kwargs["time_limit"] = float("inf")
        with skybox:
            self._env = suite.load(
                domain_name,
                task_name,
                task_kwargs=task_kwargs,
                environment_kwargs={"flat_observation": False},
            )
        self.physics = self._env.physics
        if offsamples is not None:
            self.physics.model.vis.quality.offsamples = int(offsamples)
        ncam = self.physics.model.ncam
        if not 0 <= camera_id < ncam:
            self.close()
            raise EnvError(f"camera id {camera_id} out of range for {domain_name} ({ncam} cameras)")
        try:
            self._bind_distractors(seeds)
        except BaseException:
            self.close()
            raise

        spec = self._env.action_spec()
        self.action_low = np.asarray(spec.minimum, dtype=np.float32)
        self.action_high = np.asarray(spec.maximum, dtype=np.float32)
        self.action_dim = int(np.prod(spec.shape))
        self.state_dim = int(
            sum(int(np.prod(s.shape)) for s in self._env.observation_spec().values())
        )
        self._t = 0
        self._needs_reset = True

    def _bind_distractors(self, seeds: list[np.random.SeedSequence]) -> None:
        """Make the renderer and the distractors, each with its own random stream."""
        from laom_core.envs.background import BackgroundVideo
        from laom_core.envs.camera import CameraShake
        from laom_core.envs.color import ColorShift
        from laom_core.envs.render import Renderer

        settings = self.settings
        self._renderer = Renderer(self.physics, self.img_size, self.camera_id, fast=self.fast_render)
        self.background = None
        if settings.background:
            self.background = BackgroundVideo(
                self.clips, dynamic=settings.dynamic, seed=seeds[1], ground_alpha=settings.ground_alpha
            )
            self.background.bind(self.physics)
        self.camera = None
        if settings.camera_scale > 0:
            self.camera = CameraShake(settings.camera_scale, dynamic=settings.dynamic, seed=seeds[2])
            self.camera.bind(self.physics, self.camera_id)
        self.color = None
        if settings.color_scale > 0:
            self.color = ColorShift(settings.color_scale, dynamic=settings.dynamic, seed=seeds[3])
            self.color.bind(self.physics)

    # -- dm_control-like API ---------------------------------------------------------------

    def reset(self) -> EnvStep:
        timestep = self._env.reset()
        self._t = 0
        self._needs_reset = False
        for distractor in self._distractors():
            distractor.reset()
        return self._record(timestep, reward=0.0, first=True, last=False)

    def step(self, action) -> EnvStep:
        if self._needs_reset:
            return self.reset()
        action = np.asarray(action, dtype=np.float64)
        if action.size != self.action_dim:
            raise EnvError(f"action has {action.size} values; {self.domain_name} expects {self.action_dim}")
        if not np.all(np.isfinite(action)):
            raise EnvError("action contains NaN or inf")
        action = np.clip(action.reshape(self.action_low.shape), self.action_low, self.action_high)
        timestep = self._env.step(action)
        self._t += 1
        for distractor in self._distractors():
            distractor.advance()
        last = timestep.last() or (self.max_steps is not None and self._t >= self.max_steps)
        self._needs_reset = last
        return self._record(timestep, reward=float(timestep.reward or 0.0), first=False, last=last)

    def render(self) -> np.ndarray:
        """The current frame with distractors, (img_size, img_size, 3) uint8."""
        if self.color is not None:
            self.color.apply(self.physics)
        self._renderer.update_scene()
        if self.camera is not None:
            self.camera.apply(self.physics, self._renderer.scene)
        if self.background is not None:
            self.background.apply(self._renderer)
        return self._renderer.draw()

    def distractor_state(self) -> dict[str, Any]:
        bg = self.background.state() if self.background else {"clip_id": -1, "frame_index": -1}
        return {
            "clip_id": int(bg["clip_id"]),
            "frame_index": int(bg["frame_index"]),
            "camera": self.camera.state() if self.camera else np.zeros(CAMERA_STATE_SIZE, dtype=np.float32),
            "color": self.color.state() if self.color else np.zeros(3, dtype=np.float32),
        }

    def close(self) -> None:
        physics = getattr(self, "physics", None)
        if physics is not None:
            self._renderer = None
            physics.free()
            self.physics = None

    def __enter__(self) -> "DistractingEnv":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- helpers ---------------------------------------------------------------------------

    @property
    def task(self) -> str:
        return f"{self.domain_name}-{self.task_name}"

    @property
    def step_count(self) -> int:
        return self._t

    def action_spec(self):
        return self._env.action_spec()

    def observation_spec(self):
        return self._env.observation_spec()

    def _distractors(self):
        return [d for d in (self.background, self.camera, self.color) if d is not None]

    def _record(self, timestep, *, reward: float, first: bool, last: bool) -> EnvStep:
        observation = dict(timestep.observation)
        return EnvStep(
            pixels=self.render(),
            state=flatten_observation(observation),
            observation=observation,
            reward=reward,
            first=first,
            last=last,
            distractor=self.distractor_state(),
        )

    def __repr__(self) -> str:
        return (
            f"DistractingEnv({self.task}, difficulty={self.difficulty}, split={self.split}, "
            f"seed={self.seed}, img_size={self.img_size}, dynamic={self.dynamic})"
        )


def make_env(
    task: str = "cheetah-run",
    difficulty: str = "vanilla",
    split: str = "train",
    seed: int = 0,
    img_size: int = 64,
    dynamic: bool | None = None,
    fast_render: bool = False,
    video_source=None,
    camera_id: int | None = None,
    **overrides,
) -> DistractingEnv:
    """Build a distracting environment; see :data:`PRESETS` and :data:`OVERRIDES`.

    ``dynamic`` None means True for distracting difficulties (as in the paper's datasets)
    and False for vanilla. ``video_source`` is a :class:`~laom_core.envs.videos.VideoSource`
    or a spec for :func:`~laom_core.envs.videos.resolve_video_source` (None = built-in).
    """
    domain, task_name = parse_task(task)
    if difficulty not in PRESETS:
        raise EnvError(f"unknown difficulty {difficulty!r}; expected one of {', '.join(DIFFICULTIES)}")
    if split not in SPLITS:
        raise EnvError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    unknown = sorted(set(overrides) - set(OVERRIDES))
    if unknown:
        raise EnvError(f"unknown environment option(s) {', '.join(unknown)}; known: {', '.join(OVERRIDES)}")
    img_size = _int_option("img_size", img_size, 8, 2048)
    seed = _int_option("seed", seed, 0, 2**63 - 1)

    scale, num_videos = PRESETS[difficulty]
    if "scale" in overrides:
        scale = _float_option("scale", overrides["scale"], 0.0, 1.0)
    camera_scale = _float_option("camera_scale", overrides.get("camera_scale", scale), 0.0, 1.0)
    color_scale = _float_option("color_scale", overrides.get("color_scale", scale), 0.0, 1.0)
    background = bool(overrides.get("background", difficulty != "vanilla"))
    if "num_videos" in overrides:
        num_videos = overrides["num_videos"]
        if num_videos is not None:
            num_videos = _int_option("num_videos", num_videos, 1, 10**6)
    default_alpha = 1.0 if domain in OPAQUE_GROUND_DOMAINS else TRANSPARENT_GROUND_ALPHA
    ground_alpha = _float_option("ground_alpha", overrides.get("ground_alpha", default_alpha), 0.0, 1.0)
    if dynamic is None:
        dynamic = difficulty != "vanilla"
    settings = DistractorSettings(
        background=background,
        num_videos=num_videos,
        camera_scale=camera_scale,
        color_scale=color_scale,
        ground_alpha=ground_alpha,
        dynamic=bool(dynamic),
    )
    max_steps = overrides.get("max_steps")
    if max_steps is not None:
        max_steps = _int_option("max_steps", max_steps, 1, 10**9)
    face_size = overrides.get("face_size") or min(256, max(64, 2 * img_size))
    face_size = _int_option("face_size", face_size, 8, 2048)
    offsamples = overrides.get("offsamples")
    if offsamples is not None:
        offsamples = _int_option("offsamples", offsamples, 0, 16)
    if camera_id is None:
        camera_id = DEFAULT_CAMERA.get(domain, 0)

    clips = None
    source = None
    if background:
        from laom_core.envs.videos import resolve_video_source

        source = resolve_video_source(video_source)
        clips = source.clips(split)
        if num_videos is not None:
            clips = clips[:num_videos]
    return DistractingEnv(
        domain_name=domain,
        task_name=task_name,
        difficulty=difficulty,
        split=split,
        seed=seed,
        img_size=img_size,
        settings=settings,
        fast_render=bool(fast_render),
        camera_id=int(camera_id),
        clips=clips,
        max_steps=max_steps,
        face_size=face_size,
        offsamples=offsamples,
        video_source=source,
    )


def _int_option(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        try:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            value = int(value)
        except (TypeError, ValueError):
            raise EnvError(f"{name} must be an integer, got {value!r}") from None
    if not low <= value <= high:
        raise EnvError(f"{name} must be in [{low}, {high}], got {value}")
    return int(value)


def _float_option(name: str, value, low: float, high: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise EnvError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(value) or not low <= value <= high:
        raise EnvError(f"{name} must be in [{low}, {high}], got {value}")
    return value
