"""Distractor videos behind one interface.

A :class:`VideoSource` answers ``clips(split)`` with a list of :class:`Clip` for the
``"train"`` or ``"eval"`` split; the two splits never share a clip. The suite does not care
where frames come from:

- :class:`DavisSource`: a DAVIS 2017 folder (``JPEGImages/480p/<video>/*.jpg``) with the
  standard 60 train / 30 val video lists (train -> ``train``, val -> ``eval``);
- :class:`FolderSource`: any folder of videos (mp4/gif/... read with imageio, or sub-folders
  of jpg/png frames); ``train/`` and ``eval/`` sub-folders are used when present, otherwise
  every third clip in name order goes to ``eval``;
- :class:`BuiltinSource`: clips generated on this machine (no download), cached in the
  workspace (see :mod:`laom_core.envs.builtin_clips`).

Clips load lazily: ``clip.frames`` reads (and caches) the frames on first use, so listing a
source with hundreds of videos costs nothing.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from laom_core.errors import EnvError

SPLITS = ("train", "eval")

# DAVIS 2017 (semi-supervised) ImageSets/2017/train.txt and val.txt.
DAVIS17_TRAIN = (
    "bear", "bmx-bumps", "boat", "boxing-fisheye", "breakdance-flare", "bus",
    "car-turn", "cat-girl", "classic-car", "color-run", "crossing", "dance-jump",
    "dancing", "disc-jockey", "dog-agility", "dog-gooses", "dogs-scale", "drift-turn",
    "drone", "elephant", "flamingo", "hike", "hockey", "horsejump-low",
    "kid-football", "kite-walk", "koala", "lady-running", "lindy-hop", "longboard",
    "lucia", "mallard-fly", "mallard-water", "miami-surf", "motocross-bumps", "motorbike",
    "night-race", "paragliding", "planes-water", "rallye", "rhino", "rollerblade",
    "schoolgirls", "scooter-board", "scooter-gray", "sheep", "skate-park", "snowboard",
    "soccerball", "stroller", "stunt", "surf", "swing", "tennis",
    "tractor-sand", "train", "tuk-tuk", "upside-down", "varanus-cage", "walking",
)
DAVIS17_VAL = (
    "bike-packing", "blackswan", "bmx-trees", "breakdance", "camel", "car-roundabout",
    "car-shadow", "cows", "dance-twirl", "dog", "dogs-jump", "drift-chicane",
    "drift-straight", "goat", "gold-fish", "horsejump-high", "india", "judo",
    "kite-surf", "lab-coat", "libby", "loading", "mbike-trick", "motocross-jump",
    "paragliding-launch", "parkour", "pigs", "scooter-black", "shooting", "soapbox",
)

VIDEO_EXTENSIONS = (".mp4", ".gif", ".avi", ".mov", ".webm", ".mkv", ".m4v")
FRAME_EXTENSIONS = (".jpg", ".jpeg", ".png")
# Frames are downscaled on load to at most this size (longest side): the skybox face the
# frame is shown on is small, and 480p DAVIS clips would otherwise cost ~80 MB each.
MAX_LOAD_SIZE = 256


class Clip:
    """One distractor video: a name and uint8 frames (T, H, W, 3), loaded lazily."""

    def __init__(
        self,
        name: str,
        frames: np.ndarray | None = None,
        loader: Callable[[], np.ndarray] | None = None,
    ):
        if frames is None and loader is None:
            raise ValueError("Clip needs frames or a loader")
        self.name = name
        self._frames = None if frames is None else _check_frames(frames, name)
        self._loader = loader

    @property
    def frames(self) -> np.ndarray:
        if self._frames is None:
            self._frames = _check_frames(self._loader(), self.name)
        return self._frames

    @property
    def loaded(self) -> bool:
        return self._frames is not None

    def release(self) -> None:
        """Drop loaded frames (they are reloaded on next use) to bound memory."""
        if self._loader is not None:
            self._frames = None

    def __len__(self) -> int:
        return len(self.frames)

    def __repr__(self) -> str:
        return f"Clip({self.name!r})"


def _check_frames(frames: np.ndarray, name: str) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim == 3:  # grey frames
        frames = np.repeat(frames[..., None], 3, axis=-1)
    if frames.ndim != 4 or frames.shape[-1] not in (3, 4) or len(frames) == 0:
        raise EnvError(f"clip {name!r}: expected frames (T, H, W, 3), got shape {frames.shape}")
    if frames.shape[-1] == 4:
        frames = frames[..., :3]
    if frames.dtype != np.uint8:
        frames = np.clip(frames, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(frames)


class VideoSource:
    """Where distractor clips come from. Subclasses implement :meth:`_clips`."""

    name = "videos"

    def clips(self, split: str) -> list[Clip]:
        if split not in SPLITS:
            raise EnvError(f"unknown video split {split!r}; expected one of {', '.join(SPLITS)}")
        clips = self._clips(split)
        if not clips:
            raise EnvError(f"{self.describe()} has no clips for split {split!r}")
        return clips

    def _clips(self, split: str) -> list[Clip]:
        raise NotImplementedError

    def describe(self) -> str:
        return self.name


# ---------------------------------------------------------------------------------------
# Reading frames from disk.


def _load_image(path: Path, max_size: int):
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.draft("RGB", (max_size, max_size))  # fast JPEG downscale while decoding
            img = img.convert("RGB")
            if max(img.size) > max_size:
                scale = max_size / max(img.size)
                size = (max(1, round(img.size[0] * scale)), max(1, round(img.size[1] * scale)))
                img = img.resize(size, Image.BILINEAR)
            return np.asarray(img, dtype=np.uint8)
    except OSError as exc:
        raise EnvError(f"cannot read image {path}: {exc}") from exc


def _resize_frames(frames: np.ndarray, max_size: int) -> np.ndarray:
    if max(frames.shape[1:3]) <= max_size:
        return frames
    from PIL import Image

    scale = max_size / max(frames.shape[1:3])
    size = (max(1, round(frames.shape[2] * scale)), max(1, round(frames.shape[1] * scale)))
    return np.stack([np.asarray(Image.fromarray(f).resize(size, Image.BILINEAR)) for f in frames])


def load_frame_folder(folder: Path, max_size: int = MAX_LOAD_SIZE) -> np.ndarray:
    """All jpg/png frames of ``folder`` in name order, as (T, H, W, 3) uint8."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in FRAME_EXTENSIONS)
    if not files:
        raise EnvError(f"no jpg/png frames in {folder}")
    frames = [_load_image(p, max_size) for p in files]
    shape = frames[0].shape
    frames = [f if f.shape == shape else _fit(f, shape) for f in frames]
    return np.stack(frames)


def _fit(frame: np.ndarray, shape: tuple) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(frame).resize((shape[1], shape[0]), Image.BILINEAR))


def load_video_file(path: Path, max_size: int = MAX_LOAD_SIZE, max_frames: int = 500) -> np.ndarray:
    """Frames of a video file (mp4, gif, ...) read with imageio, as (T, H, W, 3) uint8."""
    import imageio.v3 as iio

    frames = []
    try:
        for frame in iio.imiter(path):
            frame = np.asarray(frame)
            if frame.ndim == 2:
                frame = np.repeat(frame[..., None], 3, axis=-1)
            frames.append(frame[..., :3])
            if len(frames) >= max_frames:
                break
    except Exception as exc:  # imageio raises many types for broken/foreign files
        raise EnvError(f"cannot read video {path}: {exc}") from exc
    if not frames:
        raise EnvError(f"video {path} has no frames")
    shape = frames[0].shape
    frames = np.stack([f if f.shape == shape else _fit(f, shape) for f in frames])
    return _resize_frames(frames.astype(np.uint8), max_size)


def _checked_dir(root: str | os.PathLike, what: str) -> Path:
    path = Path(root).expanduser().resolve()
    if not path.exists():
        raise EnvError(f"{what} folder {path} does not exist")
    if not path.is_dir():
        raise EnvError(f"{what} path {path} is not a folder")
    return path


# ---------------------------------------------------------------------------------------
# Sources.


class DavisSource(VideoSource):
    """A DAVIS 2017 folder: ``root`` is the DAVIS folder, its ``JPEGImages`` or its ``480p``."""

    name = "davis"

    def __init__(self, root: str | os.PathLike, max_size: int = MAX_LOAD_SIZE):
        base = _checked_dir(root, "DAVIS")
        for candidate in (base / "JPEGImages" / "480p", base / "480p", base):
            if candidate.is_dir() and any((candidate / v).is_dir() for v in DAVIS17_TRAIN + DAVIS17_VAL):
                self.frames_root = candidate
                break
        else:
            raise EnvError(
                f"{base} is not a DAVIS 2017 folder: expected JPEGImages/480p/<video>/*.jpg "
                f"with videos such as {DAVIS17_TRAIN[0]!r}"
            )
        self.max_size = max_size

    def describe(self) -> str:
        return f"DAVIS folder {self.frames_root}"

    def _clips(self, split: str) -> list[Clip]:
        names = DAVIS17_TRAIN if split == "train" else DAVIS17_VAL
        clips = []
        for name in names:
            folder = self.frames_root / name
            if folder.is_dir():
                clips.append(Clip(name, loader=lambda f=folder: load_frame_folder(f, self.max_size)))
        return clips


class FolderSource(VideoSource):
    """Any folder of videos: files (mp4, gif, ...) and/or sub-folders of jpg/png frames."""

    name = "folder"

    def __init__(self, root: str | os.PathLike, max_size: int = MAX_LOAD_SIZE):
        self.root = _checked_dir(root, "video")
        self.max_size = max_size
        split_dirs = {s: self.root / s for s in SPLITS}
        if all(d.is_dir() for d in split_dirs.values()):
            self._split = {s: self._scan(d) for s, d in split_dirs.items()}
        else:
            entries = self._scan(self.root)
            self._split = {
                "train": [e for i, e in enumerate(entries) if i % 3 != 2],
                "eval": [e for i, e in enumerate(entries) if i % 3 == 2],
            }
        if not any(self._split.values()):
            raise EnvError(
                f"video folder {self.root} holds no videos ({', '.join(VIDEO_EXTENSIONS)}) "
                f"and no sub-folders of jpg/png frames"
            )

    def describe(self) -> str:
        return f"video folder {self.root}"

    @staticmethod
    def _scan(folder: Path) -> list[Path]:
        entries = []
        for p in sorted(folder.iterdir()):
            if p.name.startswith("."):
                continue
            if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS:
                entries.append(p)
            elif p.is_dir() and any(q.suffix.lower() in FRAME_EXTENSIONS for q in p.iterdir()):
                entries.append(p)
        return entries

    def _clips(self, split: str) -> list[Clip]:
        clips = []
        for path in self._split[split]:
            if path.is_dir():
                loader = lambda p=path: load_frame_folder(p, self.max_size)  # noqa: E731
            else:
                loader = lambda p=path: load_video_file(p, self.max_size)  # noqa: E731
            clips.append(Clip(path.relative_to(self.root).as_posix(), loader=loader))
        return clips


class BuiltinSource(VideoSource):
    """Clips generated here, no download: see :mod:`laom_core.envs.builtin_clips`.

    Deterministic by ``seed``; each clip is generated on first use and cached as a .npy
    file under ``cache_dir`` (default: the workspace cache). ``python -m laom_core clips
    generate`` builds them all up front.
    """

    name = "builtin"

    def __init__(
        self,
        cache_dir: str | os.PathLike | None = None,
        *,
        num_train: int = 60,
        num_eval: int = 30,
        size: int = 96,
        num_frames: int = 64,
        seed: int = 0,
        families: tuple[str, ...] | None = None,
    ):
        from laom_core.envs import builtin_clips

        families = tuple(families) if families else builtin_clips.DEFAULT_FAMILIES
        if any(f not in builtin_clips.FAMILIES for f in families):
            raise EnvError(f"unknown built-in clip families {families}; choose from {builtin_clips.FAMILIES}")
        self.families = families

        if num_train < 1 or num_eval < 1:
            raise EnvError("built-in video source needs at least one train and one eval clip")
        if size < 8 or num_frames < 2:
            raise EnvError("built-in clips need size >= 8 and num_frames >= 2")
        if cache_dir is None:
            from laom_core.workspace import cache_dir as workspace_cache

            cache_dir = workspace_cache() / "clips"
        self.cache_dir = Path(cache_dir).expanduser().resolve()
        self.specs = builtin_clips.clip_specs(num_train, num_eval, size, num_frames, seed, families)
        self.folder = self.cache_dir / builtin_clips.cache_folder_name(size, num_frames, seed)

    def describe(self) -> str:
        return f"built-in clips ({'+'.join(self.families)}, {self.folder})"

    def _clips(self, split: str) -> list[Clip]:
        from laom_core.envs import builtin_clips

        return [
            Clip(spec.name, loader=lambda s=spec: builtin_clips.load_or_generate(s, self.folder))
            for spec in self.specs
            if spec.split == split
        ]

    def missing(self) -> list:
        """Specs of clips not cached yet."""
        from laom_core.envs import builtin_clips

        return [s for s in self.specs if not builtin_clips.clip_path(s, self.folder).exists()]

    def generate_all(self, workers: int = 1, progress: Callable[[int, int], None] | None = None) -> int:
        """Generate every missing clip (in ``workers`` processes); returns how many were made."""
        from laom_core.envs import builtin_clips

        return builtin_clips.generate_many(self.missing(), self.folder, workers, progress)


def resolve_video_source(spec: "str | os.PathLike | VideoSource | None") -> VideoSource:
    """None/"builtin" -> BuiltinSource (shapes and waves); "builtin+bodies" -> the same
    plus the agent-like MuJoCo bodies ("builtin+bodies:CACHE" / "builtin:CACHE" with a
    cache folder); "davis:PATH" -> DavisSource; "folder:PATH" or a folder path ->
    FolderSource (a DAVIS layout found there is used as DAVIS)."""
    if isinstance(spec, VideoSource):
        return spec
    if spec is None:
        return BuiltinSource()
    text = str(spec).strip()
    if text in ("", "builtin"):
        return BuiltinSource()
    if text == "builtin+bodies" or text.startswith("builtin+bodies:"):
        from laom_core.envs.builtin_clips import FAMILIES

        return BuiltinSource(text[len("builtin+bodies:"):] or None, families=FAMILIES)
    if text.startswith("builtin:"):
        return BuiltinSource(text[len("builtin:"):])
    if text.startswith("davis:"):
        return DavisSource(text[len("davis:"):])
    if text.startswith("folder:"):
        return FolderSource(text[len("folder:"):])
    path = _checked_dir(text, "video")
    if (path / "JPEGImages" / "480p").is_dir():
        return DavisSource(path)
    return FolderSource(path)


def clip_names(source: VideoSource, split: str) -> Sequence[str]:
    return [c.name for c in source.clips(split)]
