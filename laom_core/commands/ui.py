"""``laom-studio ui`` (``python -m laom_core ui``): start the dashboard on localhost.

Runs ``streamlit run <repo>/app.py --server.address localhost`` in place of this process,
from the repository folder (its ``.streamlit/config.toml`` applies), with ``MUJOCO_GL=egl``
unless set. The dashboard's pages live next to the package, so this needs the repository
checkout (``pip install -e .``), not a copy of the package alone.
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from laom_core.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "ui", help="start the dashboard on http://localhost:8501 (localhost only)",
        description="Start the LAOM Studio dashboard (streamlit run app.py) bound to localhost. Extra "
                    "arguments after -- go to streamlit, e.g. `laom-studio ui -- --server.runOnSave true`.")
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8501)), help="port (default 8501)")
    p.add_argument("--print-command", action="store_true", help="print the streamlit command and exit")
    p.add_argument("streamlit_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=handler)


def command(port: int = 8501, extra: list[str] | None = None) -> list[str]:
    """The streamlit command line that serves the dashboard."""
    app = REPO / "app.py"
    if not app.is_file() or not (REPO / "pages").is_dir():
        raise ConfigError(f"the dashboard (app.py, pages/) is not next to the laom_core package in {REPO}; "
                          "`laom-studio ui` needs the repository checkout: install it with `pip install -e <repo>`")
    if not 1 <= int(port) <= 65535:
        raise ConfigError(f"--port must be in 1..65535, got {port}")
    extra = [a for a in (extra or []) if a != "--"]
    return [sys.executable, "-m", "streamlit", "run", str(app), "--server.address", "localhost",
            "--server.port", str(int(port)), "--server.headless", "true", "--browser.gatherUsageStats", "false",
            *extra]


def handler(args: argparse.Namespace) -> int:
    argv = command(args.port, args.streamlit_args)
    if args.print_command:
        print(shlex.join(argv))
        return 0
    env = dict(os.environ)
    env.setdefault("MUJOCO_GL", "egl")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    print(f"LAOM Studio: http://localhost:{args.port}", file=sys.stderr, flush=True)
    os.chdir(REPO)
    os.execve(argv[0], argv, env)
    return 0  # pragma: no cover - execve does not return
