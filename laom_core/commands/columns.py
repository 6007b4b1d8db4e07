"""Plain-text tables for the CLI: one left-aligned column per field, two spaces apart."""
from __future__ import annotations

from typing import Sequence


def print_columns(rows: Sequence[Sequence[str]]) -> None:
    """Print ``rows`` (the first is the header) with every column as wide as its widest cell."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
