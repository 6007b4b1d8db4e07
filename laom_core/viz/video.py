"""Video encoding shared by training (rollout videos) and the dashboard.

Every video is written twice, as H.264 mp4 (Safari, most players) and VP9 webm
(Chromium builds without proprietary codecs), through imageio's ffmpeg plugin.
Writes are atomic. Frames are uint8 (T, H, W, 3); small frames are upscaled by pixel
repetition so browsers do not blur a 64 px rollout into mush.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from laom_core.errors import LaomError
from laom_core.workspace import atomic_path

# H.264 and VP9 want even sizes; 64 px frames become 256 px.
DEFAULT_MIN_SIZE = 256


def upscale(frames: np.ndarray, min_size: int = DEFAULT_MIN_SIZE) -> np.ndarray:
    """Repeat pixels so the shorter side is at least ``min_size`` (and sizes are even)."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise LaomError(f"video frames must be (T, H, W, 3), got shape {frames.shape}")
    if frames.dtype != np.uint8:
        raise LaomError(f"video frames must be uint8, got {frames.dtype}")
    h, w = frames.shape[1:3]
    factor = max(1, int(np.ceil(min_size / max(1, min(h, w)))))
    if factor > 1:
        frames = frames.repeat(factor, axis=1).repeat(factor, axis=2)
    h, w = frames.shape[1:3]
    return frames[:, : h - h % 2, : w - w % 2]


def write_video(frames: np.ndarray, path: str | os.PathLike, fps: int = 30,
                min_size: int = DEFAULT_MIN_SIZE) -> Path:
    """Encode ``frames`` to ``path`` (.mp4 -> H.264, .webm -> VP9), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    codecs = {".mp4": ("libx264", ["-movflags", "+faststart", "-preset", "veryfast", "-crf", "20"]),
              ".webm": ("libvpx-vp9", ["-b:v", "0", "-crf", "34", "-deadline", "realtime", "-cpu-used", "8"])}
    if suffix not in codecs:
        raise LaomError(f"unsupported video format {suffix!r}; use .mp4 or .webm")
    frames = upscale(frames, min_size)
    codec, params = codecs[suffix]
    import imageio_ffmpeg

    # The temp name keeps the real extension so ffmpeg picks the container from it.
    with atomic_path(path) as tmp:
        out = tmp.with_name(tmp.name + suffix)
        try:
            h, w = frames.shape[1:3]
            writer = imageio_ffmpeg.write_frames(
                str(out), (w, h), fps=fps, codec=codec, output_params=params,
                macro_block_size=1, ffmpeg_log_level="error",
            )
            writer.send(None)
            for frame in frames:
                writer.send(np.ascontiguousarray(frame))
            writer.close()
            os.replace(out, tmp)
        finally:
            if out.exists():
                out.unlink()
    return path


def write_videos(frames: np.ndarray, stem: str | os.PathLike, fps: int = 30,
                 min_size: int = DEFAULT_MIN_SIZE) -> dict[str, Path]:
    """Write ``stem.mp4`` and ``stem.webm``; returns ``{"mp4": path, "webm": path}``."""
    stem = Path(stem)
    return {
        "mp4": write_video(frames, stem.with_suffix(".mp4"), fps, min_size),
        "webm": write_video(frames, stem.with_suffix(".webm"), fps, min_size),
    }


def read_video(path: str | os.PathLike, max_frames: int | None = None) -> np.ndarray:
    """Decode a video file into uint8 (T, H, W, 3)."""
    import imageio.v2 as imageio

    path = Path(path)
    if not path.is_file():
        raise LaomError(f"no such video: {path}")
    try:
        reader = imageio.get_reader(str(path), format="FFMPEG")
    except Exception as exc:  # imageio raises several types for unreadable files
        raise LaomError(f"cannot read video {path}: {exc}") from None
    frames = []
    try:
        for i, frame in enumerate(reader):
            if max_frames is not None and i >= max_frames:
                break
            frames.append(np.asarray(frame)[..., :3])
    finally:
        reader.close()
    if not frames:
        raise LaomError(f"video {path} has no frames")
    return np.stack(frames).astype(np.uint8)


def frame_grid(frames: np.ndarray, columns: int = 8, pad: int = 2) -> np.ndarray:
    """Tile frames (N, H, W, 3) into one image, ``columns`` per row, white padding."""
    frames = np.asarray(frames, dtype=np.uint8)
    if frames.ndim != 4 or len(frames) == 0:
        raise LaomError("frame_grid needs at least one (H, W, 3) frame")
    n, h, w, _ = frames.shape
    columns = max(1, min(columns, n))
    rows = (n + columns - 1) // columns
    grid = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, 3), 255, np.uint8)
    for i, frame in enumerate(frames):
        r, c = divmod(i, columns)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        grid[y:y + h, x:x + w] = frame
    return grid
