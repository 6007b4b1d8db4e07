"""LAOM Studio's own expert weights, shipped in ``assets/experts/<task>/``.

Each folder holds ``actor.pt`` (float32 state dict of a SAC actor) and ``expert.json``
(observation layout, action repeat, training steps and time, measured return); see
:mod:`laom_core.experts.sac_policy`. They were trained with ``python -m laom_core expert
train`` and exported with ``expert export``.
"""
from __future__ import annotations

import json
from pathlib import Path

from laom_core.errors import LaomError

ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets" / "experts"


def shipped_tasks() -> list[str]:
    """Tasks with shipped expert weights."""
    if not ASSETS_DIR.is_dir():
        return []
    return sorted(p.name for p in ASSETS_DIR.iterdir()
                  if (p / "actor.pt").is_file() and (p / "expert.json").is_file())


def shipped_expert_info(task: str) -> dict:
    """The ``expert.json`` of the shipped expert for ``task``."""
    _check(task)
    return json.loads((ASSETS_DIR / task / "expert.json").read_text(encoding="utf-8"))


def _check(task: str) -> None:
    if task not in shipped_tasks():
        available = ", ".join(shipped_tasks()) or "none"
        raise LaomError(f"no shipped expert for task {task!r} (shipped: {available}); "
                        f"train one with `python -m laom_core expert train --task {task}` "
                        "or pass a policy folder")


def load_shipped_expert(task: str, action_repeat: int | None = None):
    """The shipped expert for ``task`` as a deterministic :class:`Policy`."""
    from laom_core.experts.sac_policy import load_sac_expert

    _check(task)
    return load_sac_expert(ASSETS_DIR / task, action_repeat=action_repeat)


def shipped_table_markdown() -> str:
    """A Markdown table of the shipped experts (return, training steps and time), for READMEs."""
    rows = ["| task | return (mean ± std, episodes) | env steps | updates | training time | action repeat |",
            "|---|---|---|---|---|---|"]
    for task in shipped_tasks():
        info = shipped_expert_info(task)
        ev, tr = info.get("eval", {}), info.get("training", {})
        minutes = tr.get("train_seconds", 0.0) / 60
        rows.append(f"| {task} | {ev.get('return_mean', float('nan')):.1f} ± {ev.get('return_std', float('nan')):.1f} "
                    f"({ev.get('episodes', '?')}) | {tr.get('env_steps', '?'):,} | {tr.get('updates', '?'):,} | "
                    f"{minutes:.0f} min wall, 1 CPU thread | {info.get('action_repeat', 1)} |")
    return "\n".join(rows)
