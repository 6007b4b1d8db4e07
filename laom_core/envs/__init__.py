"""Distracting Control Suite on dm_control (background video, camera shake, colour).

``make_env(task, difficulty, split, seed, img_size, ...)`` is the entry point; see
:mod:`laom_core.envs.suite`. Video sources live in :mod:`laom_core.envs.videos`.
"""
from laom_core.envs.suite import DIFFICULTIES, OVERRIDES, PRESETS, DistractingEnv, make_env, parse_task
from laom_core.envs.types import EnvStep
from laom_core.envs.videos import (
    BuiltinSource,
    Clip,
    DavisSource,
    FolderSource,
    VideoSource,
    resolve_video_source,
)

__all__ = [
    "DIFFICULTIES",
    "OVERRIDES",
    "PRESETS",
    "BuiltinSource",
    "Clip",
    "DavisSource",
    "DistractingEnv",
    "EnvStep",
    "FolderSource",
    "VideoSource",
    "make_env",
    "parse_task",
    "resolve_video_source",
]
