"""``clips``: list distractor video clips, build the built-in clip cache.

    python -m laom_core clips list [--source SPEC] [--json]
    python -m laom_core clips generate [--workers N]

SPEC is "builtin" (default), "davis:PATH" or a folder of videos.
"""
from __future__ import annotations

import argparse
import json
import sys

from laom_core.procs import report_progress


def register(subparsers) -> None:
    parser = subparsers.add_parser("clips", help="distractor video clips (list, generate built-in)")
    sub = parser.add_subparsers(dest="clips_command", metavar="ACTION")

    p_list = sub.add_parser("list", help="list the train and eval clips of a video source")
    p_list.add_argument("--source", default="builtin", help='"builtin", "davis:PATH" or a folder of videos')
    p_list.add_argument("--json", action="store_true", help="print one JSON object")
    p_list.set_defaults(func=_list)

    p_gen = sub.add_parser("generate", help="generate and cache the built-in clips")
    p_gen.add_argument("--workers", type=int, default=1, help="processes to generate in (default 1)")
    p_gen.add_argument("--json", action="store_true", help="print one JSON object at the end")
    p_gen.set_defaults(func=_generate)

    parser.set_defaults(func=lambda args: _help(parser))


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _list(args) -> int:
    from laom_core.envs.videos import BuiltinSource, resolve_video_source

    source = resolve_video_source(args.source)
    result = {"source": source.describe(), "splits": {}}
    for split in ("train", "eval"):
        result["splits"][split] = [c.name for c in source.clips(split)]
    if isinstance(source, BuiltinSource):
        result["cached"] = len(source.specs) - len(source.missing())
        result["total"] = len(source.specs)
    if args.json:
        print(json.dumps(result))
        return 0
    print(result["source"])
    if "cached" in result:
        print(f"cached: {result['cached']}/{result['total']} (generate with: python -m laom_core clips generate)")
    for split, names in result["splits"].items():
        print(f"{split} ({len(names)}): {', '.join(names)}")
    return 0


def _generate(args) -> int:
    from tqdm import tqdm

    from laom_core.envs.videos import BuiltinSource
    from laom_core.errors import ConfigError

    if args.workers < 1:
        raise ConfigError("--workers must be at least 1")
    source = BuiltinSource()
    missing = len(source.missing())
    def progress(done: int, total: int) -> None:
        bar.update(1)
        report_progress(done, total, stage="built-in clips")  # for a job's progress.json

    with tqdm(total=missing, desc="built-in clips", unit="clip", file=sys.stderr) as bar:
        made = source.generate_all(workers=args.workers, progress=progress)
    summary = {"folder": str(source.folder), "generated": made, "total": len(source.specs)}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{made} clips generated, {len(source.specs)} cached in {source.folder}")
    return 0
