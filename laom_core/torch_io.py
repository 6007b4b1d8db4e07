"""Reading ``.pt`` files the user points at: ``torch.load(weights_only=True)`` behind one
error line.

torch explains a refused file in six lines (two options, a documentation link, ANSI bold);
:func:`load_weights` keeps the one fact that matters (which global was refused, or that the
file is damaged) and raises it as a :class:`LaomError` subclass.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from laom_core.errors import LaomError

_MAX_DETAIL = 200


def describe_load_error(exc: BaseException) -> str:
    """One line saying why ``torch.load`` refused a file (no ANSI codes, at most ~200 chars)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    if "Weights only load failed" in text:
        m = re.search(r"WeightsUnpickler error:\s*(.*?)(?:\n\n|$)", text, re.S)
        detail = " ".join((m.group(1) if m else "").split())
        detail = re.split(r"(?<=\.) Please use", detail)[0]
        if len(detail) > _MAX_DETAIL:
            detail = detail[:_MAX_DETAIL] + "..."
        return ("it holds more than weights and tensors" + (f" ({detail})" if detail else "")
                + "; LAOM Studio loads weights-only files")
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return "it is a folder"
    if isinstance(exc, PermissionError):
        return "permission denied"
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    if "central directory" in first or "zip archive" in first:
        return "the file is damaged or truncated (not a complete torch archive)"
    if len(first) > _MAX_DETAIL:
        first = first[:_MAX_DETAIL] + "..."
    return first


def load_weights(path: str | os.PathLike, *, what: str = "checkpoint", map_location: Any = "cpu",
                 error: type[LaomError] = LaomError) -> Any:
    """``torch.load(path, weights_only=True)``; any failure is one ``error`` line naming ``path``."""
    import torch

    try:
        return torch.load(Path(path), map_location=map_location, weights_only=True)
    except Exception as exc:  # pickle errors, truncated zip, forbidden globals, OS errors
        raise error(f"cannot read {what} {path}: {describe_load_error(exc)}") from None
