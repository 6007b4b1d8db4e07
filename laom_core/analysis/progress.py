"""Where a run is: its stages (from ``stages.json``) and the current stage's progress and ETA.

Each training stage writes its progress as a record, ``progress.json`` (updates done,
total, ETA; :func:`laom_core.procs.write_progress`). Finished stages come from
``stages.json``. Only where no record exists (runs from before it, the eval loop) the last
tqdm bar in ``log.txt`` (``lam:  45%|####  | 450/1000 [00:10<00:12, ...]``) is read instead.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from laom_core.procs import read_progress, tail
from laom_core.rundir import RunDir, load_stages

_BAR = re.compile(r"(?P<stage>[\w-]+):\s+(?P<pct>\d+)%\|[^|]*\|\s*(?P<n>\d+)/(?P<total>\d+)\s*"
                  r"\[(?P<elapsed>[\d:]+)<(?P<remaining>[\d:?]+)")


def _seconds(text: str) -> float | None:
    if "?" in text:
        return None
    parts = [int(p) for p in text.split(":")]
    total = 0
    for p in parts:
        total = total * 60 + p
    return float(total)


def _tail(path: Path, size: int = 32768) -> str:
    """The last ``size`` bytes of a log (:func:`laom_core.procs.tail`, the one log reader)."""
    return tail(path, lines=None, max_bytes=size)


def last_bars(log_text: str) -> dict[str, dict]:
    """The last tqdm bar printed for each stage name in ``log_text``."""
    out: dict[str, dict] = {}
    for chunk in re.split(r"[\r\n]+", log_text):
        for m in _BAR.finditer(chunk):
            out[m.group("stage")] = {
                "n": int(m.group("n")), "total": int(m.group("total")),
                "elapsed_s": _seconds(m.group("elapsed")), "eta_s": _seconds(m.group("remaining")),
            }
    return out


def stage_progress(run_dir: str | Path | None, status: str | None = None) -> list[dict]:
    """One entry per planned stage: ``stage``, ``state`` (done/running/waiting), ``fraction``,
    ``n``, ``total``, ``eta_s``. Empty when the run has not written ``stages.json`` yet."""
    if not run_dir:
        return []
    info = load_stages(run_dir)
    if info is None:
        return []
    planned = [str(s) for s in info.get("planned", [])]
    finished = info.get("finished", {}) or {}
    folder = RunDir(run_dir)
    bars = last_bars(_tail(folder.log))
    # A stage's own record (Stage writes it) wins over its tqdm bar: the bar is the fallback
    # for runs made before the record existed and for loops that only print a bar (eval).
    record = read_progress(folder.progress)
    if record is not None and record.get("stage") and record.get("total"):
        bars[str(record["stage"])] = {"n": int(record["done"]), "total": int(record["total"]),
                                      "elapsed_s": record.get("elapsed_s"), "eta_s": record.get("eta_s")}
    out = []
    current_found = False
    for stage in planned:
        if stage in finished:
            rec = finished[stage] if isinstance(finished[stage], dict) else {}
            out.append({"stage": stage, "state": "done", "fraction": 1.0, "n": rec.get("updates"),
                        "total": rec.get("updates"), "eta_s": 0.0, "wall_s": rec.get("wall_s")})
            continue
        bar = bars.get(stage)
        state = "waiting"
        if not current_found and status in ("running", None):
            state = "running"
            current_found = True
        elif not current_found:
            state = "interrupted" if status in ("failed", "stopped") else "waiting"
            current_found = True
        frac = (bar["n"] / bar["total"]) if bar and bar["total"] else 0.0
        out.append({"stage": stage, "state": state, "fraction": min(1.0, frac),
                    "n": bar["n"] if bar else None, "total": bar["total"] if bar else None,
                    "eta_s": bar["eta_s"] if bar and state == "running" else None, "wall_s": None})
    return out
