"""``python -m laom_core.runs.scheduler``: the detached queue scheduler of a workspace.

Same as ``python -m laom_core runs scheduler`` but without building the whole CLI (whose
sub-commands may import torch), so a launch's scheduler is up in a fraction of a second.
"""
from __future__ import annotations

import sys

from laom_core.errors import LaomError


def main() -> int:
    from laom_core.runs.launcher import run_scheduler

    try:
        return run_scheduler()
    except LaomError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
