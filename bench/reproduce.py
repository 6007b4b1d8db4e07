"""Reproduce the paper's claims at CPU scale: datasets, runs, results JSON, report, PASS/FAIL.

    python bench/reproduce.py                 # build datasets, queue every run, write the report
    python bench/reproduce.py --wait          # ... then follow the runs until all have ended
    python bench/reproduce.py --report-only   # just re-read the store and rewrite the report
    python bench/reproduce.py --smoke --wait  # the whole thing in minutes (tests)
    python bench/reproduce.py --headline-task walker-run=../shared/experts/walker-run
                                              # + claims 1-2 on walker-run (released PPO expert)

Everything is resumable: datasets are skipped when present, runs are queued with client
tokens (queueing twice queues once; the demo's runs are seed 0 with distractors), and the
runs themselves are background processes of the launcher, which survive this script and
resume with ``python -m laom_core runs resume ID``. Run it again in a later session to
queue what is missing and refresh the report. The engine is
``laom_core.studies.reproduction``; this file only parses arguments and prints.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from laom_core.studies import reproduction as rp  # noqa: E402
from laom_core.errors import LaomError  # noqa: E402
from laom_core.workspace import atomic_write_json  # noqa: E402
from _study_options import add_study_options  # noqa: E402 - bench/, this script's folder


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", nargs="+", default=["cheetah-run"], help="dm_control tasks (domain-task)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--budgets", nargs="+", type=int, default=[2, 8, 32], help="labeled trajectory chunks")
    p.add_argument("--preset", default="cpu-small")
    p.add_argument("--no-ablation", action="store_true", help="skip the stage-1 ablation runs")
    p.add_argument("--headline-task", action="append", default=None, metavar="TASK[=EXPERT]",
                   help="a second task checked on claims 1-2 only (LAPO and LAOM stage 1, with and without "
                        "distractors, first seed); EXPERT: the collection policy, e.g. a released PPO folder. "
                        "Remembered in the workspace, so later calls (--report-only) keep it; 'none' forgets")
    add_study_options(p, json_out=REPO / "bench" / "results" / "reproduce.json", md_out=REPO / "docs" / "results.md")
    p.add_argument("--figures", type=Path, default=None, help="SVG folder (default: <md folder>/results)")
    return p.parse_args(argv)


HEADLINE_SETTING = "reproduce.headline_tasks"


def headline_tasks(args: argparse.Namespace) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """``--headline-task`` values (remembered in the workspace's store) -> (tasks, experts)."""
    from laom_core.runs.store import RunStore

    with RunStore() as store:
        if args.headline_task is None:
            specs = store.get_setting(HEADLINE_SETTING, []) if not args.smoke else []
        else:
            specs = [] if args.headline_task == ["none"] else list(args.headline_task)
            if not args.smoke:
                store.set_setting(HEADLINE_SETTING, specs)
    tasks, experts = [], []
    for spec in specs:
        task, _, expert = spec.partition("=")
        if "-" not in task:
            raise LaomError(f"--headline-task {spec!r}: expected TASK[=EXPERT] with TASK as domain-task, "
                            "e.g. walker-run=/path/to/released/walker-run")
        tasks.append(task)
        if expert:
            folder = Path(expert).expanduser().resolve()
            if not folder.is_dir():
                raise LaomError(f"--headline-task {spec!r}: expert folder {folder} does not exist")
            experts.append((task, str(folder)))
    return tuple(tasks), tuple(experts)


def make_plan(args: argparse.Namespace) -> rp.ReproPlan:
    base = rp.smoke_plan() if args.smoke else rp.ReproPlan()
    overrides = {"tasks": tuple(args.tasks), "ablation": not args.no_ablation}
    if not args.smoke:
        overrides.update(seeds=tuple(args.seeds), budgets=tuple(args.budgets), preset=args.preset)
    overrides["headline_tasks"], overrides["experts"] = headline_tasks(args)
    return dataclasses.replace(base, **overrides)


def report(plan: rp.ReproPlan, requests, args: argparse.Namespace) -> list[dict]:
    result = rp.collect_results(plan, requests)
    claims = rp.check_claims(result)
    result["claims"] = claims
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.json_out, result)
    rp.write_report(result, claims, args.md_out, args.figures or args.md_out.parent / "results")
    return claims


def follow(plan: rp.ReproPlan, requests) -> None:
    from tqdm import tqdm

    total = len(requests)
    bar = tqdm(total=total, desc="runs ended", unit="run", file=sys.stderr, dynamic_ncols=True)
    while True:
        counts = rp.progress(rp.collect_results(plan, requests))
        ended = counts.get("finished", 0) + counts.get("failed", 0) + counts.get("stopped", 0)
        bar.n = ended
        bar.set_postfix({k: v for k, v in counts.items()})
        bar.refresh()
        if ended >= total:
            break
        time.sleep(10)
    bar.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        plan = make_plan(args)
        requests = None
        if not args.report_only:
            print("reproduce: building datasets (skipped when present)", file=sys.stderr)
            rp.build_datasets(plan)
            requests = rp.queue(plan, args.max_runs)
            print(f"reproduce: {len(requests)} runs planned and queued", file=sys.stderr)
            if args.wait:
                follow(plan, requests)
        claims = report(plan, requests, args)
    except LaomError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for c in claims:
        print(f"{c['result']:<7} claim {c['claim']} ({c['task']}): {c['text']}. {c['detail']}")
    print(f"wrote {args.json_out} and {args.md_out}")
    print(json.dumps({"claims": {f"{c['task']}:{c['claim']}": c["result"] for c in claims}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
