"""Cached reads the Runs page's panels share: curves, metric keys, summaries."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import streamlit as st

from laom_core.rundir import RunDir
from laom_core.viz.curves import downsample
from pages import common


@st.cache_data(show_spinner=False, max_entries=2048)
def curve(store_path: str, run_id: str, stage: str, key: str, marker: str) -> dict:
    """One run's curve, downsampled to <= 1000 points; ``marker`` changes when it can have grown.

    ``wall`` holds the wall-clock time (seconds since the epoch) of each kept point.
    """
    curves = common.store().metrics(run_id, keys=[key], stage=stage)
    c = curves.get(key)
    if c is None or len(c["step"]) == 0:
        return {"step": np.zeros(0), "value": np.zeros(0), "wall": np.zeros(0)}
    step, value = downsample(c["step"], c["value"], 1000)
    if len(step) == len(c["step"]):
        wall = np.asarray(c["wall"], dtype=np.float64)
    else:  # the wall time of the last point of each bucket, like its step
        wall = np.interp(step, c["step"], c["wall"])
    return {"step": step, "value": value, "wall": wall}


@st.cache_data(show_spinner=False, max_entries=1024)
def keys(store_path: str, run_id: str, marker: str) -> list[str]:
    return [f"{s}/{k}" for s, k in common.store().metric_keys(run_id)]


@st.cache_data(show_spinner=False, max_entries=1024)
def _summary(path: str, mtime: float) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def marker(run: dict) -> str:
    """Cache marker: fixed for ended runs, a 3-second bucket for live ones."""
    if run["status"] in ("queued", "running"):
        return f"live-{int(time.time() // 3)}"
    return f"{run['status']}-{run.get('ended_at')}-{run.get('updated_at')}"


def summary_of(run: dict) -> dict:
    folder = common.run_dir(run)
    if folder is None:
        return {}
    path = RunDir(folder).summary
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return {}
    return _summary(str(path), mtime)
