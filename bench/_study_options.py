"""The options the study scripts (reproduce.py, fidelity_study.py) share, in one place."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_study_options(parser: argparse.ArgumentParser, json_out: Path, md_out: Path) -> None:
    """--smoke, --max-runs, --wait, --report-only, and where the JSON and markdown reports go."""
    parser.add_argument("--smoke", action="store_true", help="tiny datasets and the smoke preset (tests)")
    parser.add_argument("--max-runs", type=int, default=None, help="runs at once (stored as the workspace's limit)")
    parser.add_argument("--wait", action="store_true", help="follow the runs until every one has ended")
    parser.add_argument("--report-only", action="store_true", help="do not build or queue; only read and report")
    parser.add_argument("--json-out", type=Path, default=json_out)
    parser.add_argument("--md-out", type=Path, default=md_out)
