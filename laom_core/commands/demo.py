"""``python -m laom_core demo``: the one-command demo on the built-in distractors."""
from __future__ import annotations

import argparse
import json
import sys
import time


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="generate clips, collect a cheetah-run dataset with the shipped expert, queue every method",
        description="From an empty workspace: built-in distractor clips, a distracted cheetah-run dataset "
                    "collected by the shipped expert, labeled subsets (2, 8, 32 chunks), an eval set, then "
                    "BC, IDM, LAPO, LAOM and LAOM+supervision queued at the cpu-small preset. Resumable: "
                    "finished steps are skipped.",
    )
    p.add_argument("--smoke", action="store_true", help="tiny sizes and the smoke preset (a few minutes)")
    p.add_argument("--background", action="store_true", help="start the demo detached and return at once")
    p.add_argument("--status", action="store_true", help="print the demo's status and exit")
    p.add_argument("--wait", action="store_true", help="after queueing, wait until every demo run has ended")
    p.add_argument("--json", action="store_true", help="print the final status as one JSON line")
    p.add_argument("--results", action="store_true",
                   help="print the demo's results (probe MSE, normalized return, timeline) and exit")
    p.add_argument("--write-readme", metavar="PATH",
                   help="with --results: also write the table into PATH between its demo-results markers")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from laom_core.studies import demo

    if args.results:
        results = demo.demo_results(smoke=args.smoke)
        text = demo.results_markdown(results)
        if args.write_readme:
            from laom_core.workspace import resolve_user_path

            demo.write_readme_block(resolve_user_path(args.write_readme, must_exist=True, kind="file"), text)
        print(json.dumps(results) if args.json else text)
        return 0
    if args.status:
        status = demo.demo_status()
        print(json.dumps(status) if args.json else
              f"{status['state']}: {status['done']}/{status['total']} steps; {status['message']}")
        return 0
    if args.background:
        pid = demo.start_demo(smoke=args.smoke)
        print(json.dumps({"pid": pid}) if args.json else
              f"demo running in the background (pid {pid}); follow it with `python -m laom_core demo --status`")
        return 0
    import signal

    def _interrupt(signum, frame):  # stop from the dashboard: record "failed" (resumable) in the status
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)
    status = demo.run_demo(smoke=args.smoke)
    if args.wait:
        status["runs_final"] = wait_for_runs([r["run_id"] for r in status.get("runs", [])])
    if args.json:
        print(json.dumps({k: v for k, v in status.items() if k != "plan"}))
    else:
        print(f"demo {status['state']}: {status['message']}")
        for r in status.get("runs", []):
            print(f"  {r['run_id']}  {r['name']}")
    return 0


def wait_for_runs(run_ids: list[str], poll_s: float = 2.0) -> dict[str, str]:
    """Block until every run is finished, failed or stopped; tqdm over finished runs."""
    from tqdm import tqdm

    from laom_core.runs.store import RunStore

    done_states = ("finished", "failed", "stopped", "cancelled")
    store = RunStore()
    bar = tqdm(total=len(run_ids), desc="demo runs", unit="run", file=sys.stderr)
    try:
        while True:
            # get_run reconciles liveness: a run whose process died reads as failed
            states = {rid: store.get_run(rid)["status"] for rid in run_ids}
            finished = sum(s in done_states for s in states.values())
            bar.n = finished
            bar.refresh()
            if finished == len(run_ids):
                return states
            time.sleep(poll_s)
    finally:
        bar.close()
        store.close()
