"""``python -m laom_core``: every sub-command.

Each area registers its sub-commands from its own module in ``laom_core.commands``
(``register(subparsers)``, setting ``func`` on the parser). This file only wires them and
turns :class:`LaomError` (and an ``OSError``, which comes from a user's path: missing,
unreadable, a folder, a full disk) into a one-line ``error:`` message with exit code 2.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from laom_core.errors import LaomError, describe_os_error

# Order is the order shown in --help.
COMMAND_MODULES = [
    "collect",
    "dataset",
    "clips",
    "train",
    "launch",
    "runs",
    "sweep",
    "expert",
    "demo",
    "ui",
]


def build_parser() -> argparse.ArgumentParser:
    invoked = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    parser = argparse.ArgumentParser(
        prog="laom-studio" if invoked.startswith("laom-studio") else "python -m laom_core",
        description="LAOM Studio: latent action models under visual distractors.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"laom_core.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"laom_core.commands.{name}":
                continue  # that area has not landed yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        result = args.func(args)
        sys.stdout.flush()  # a closed pipe fails here, inside the handler below, not at exit
    except LaomError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except OSError as exc:  # a user's path: missing, unreadable, a folder, a full disk (h5py's too)
        print(f"error: {describe_os_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


def _quiet_broken_pipe() -> int:
    """`... | head` closed the pipe: stop quietly, as Unix tools do."""
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
    except (OSError, ValueError, AttributeError):
        pass
    return 141
