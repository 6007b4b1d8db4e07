"""The one-command demo: from an empty workspace to a dashboard full of real results.

``python -m laom_core demo`` (or the Home page's button, through :func:`start_demo`):

1. generate the built-in distractor clips (no DAVIS needed);
2. collect a cheetah-run dataset with distractors using the shipped SAC expert;
3. cut labeled subsets of 2, 8 and 32 trajectory chunks from it;
4. collect an eval set on the eval clips;
5. queue BC, IDM, LAPO, LAOM and LAOM+supervision at the ``cpu-small`` preset, with a sweep
   over labeled budgets for LAOM+supervision and IDM; LAPO, LAOM and LAOM+supervision at
   the largest budget go first so the headline comparison finishes first.

Every step is skipped when its output already exists (datasets are written atomically, so
an existing file is a finished one; runs are queued with a request key, so queueing twice
queues once), which makes the demo resumable: run it again after an interruption.
Progress goes to tqdm (stderr) and to ``<workspace>/demo/status.json``, which
:func:`demo_status` reads for the dashboard.

``smoke=True`` uses tiny sizes and the ``smoke`` preset: the whole pipeline in a couple of
minutes, for tests. The demo never touches files it did not make.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from laom_core import methods, procs, rundir
from laom_core.collect import collect_dataset
from laom_core.data import catalog
from laom_core.envs import builtin_clips
from laom_core.envs.videos import BuiltinSource
from laom_core.errors import LaomError
from laom_core.experts.shipped import shipped_tasks
from laom_core.metrics import has_distractors, is_reference_bc, return_normalizer
from laom_core.runs import launcher
from laom_core.runs.store import RunStore
from laom_core.workspace import atomic_write_json, atomic_write_text, datasets_dir, workspace_root

TASK = "cheetah-run"


@dataclass
class DemoPlan:
    """Sizes of everything the demo makes."""

    smoke: bool = False
    name: str = "demo"  # file and run name prefix (bench/reproduce.py plans its vanilla sets as "repro-vanilla")
    task: str = TASK
    difficulty: str = "scale_easy_video_hard"  # the paper's setting: scale 0.1, all videos
    img_size: int = 64
    train_episodes: int = 20
    eval_episodes: int = 4
    steps: int = 1000
    chunk_size: int = 100  # steps per labeled chunk
    budgets: tuple[int, ...] = (2, 8, 32)  # labeled chunks
    sweep_budgets: tuple[int, ...] = (2, 8, 32)  # budgets swept for IDM and LAOM+supervision
    preset: str = "cpu-small"
    workers: int = 2
    seed: int = 0
    clips_per_split: int | None = None  # None = all built-in clips
    # fast render (no shadows/reflections): ~4x faster collection and evaluation on a CPU;
    # the files record it (attr collect_fast_render) so evaluation renders the same way
    env_overrides: dict = field(default_factory=lambda: {"fast_render": True})
    train_sets: tuple[str, ...] = ()  # extra ``--set`` overrides for every queued run
    policy: str = "expert"  # collection policy: the shipped expert, or a released PPO folder (reproduce.py)

    @property
    def main_budget(self) -> int:
        return max(self.budgets)

    @property
    def prefix(self) -> str:
        return f"{self.name}{'-smoke' if self.smoke else ''}_{self.task}"

    def dataset_path(self, kind: str) -> Path:
        return datasets_dir() / f"{self.prefix}_{kind}.hdf5"

    @property
    def train_path(self) -> Path:
        return self.dataset_path("train")

    @property
    def eval_path(self) -> Path:
        return self.dataset_path("eval")

    def labeled_path(self, budget: int) -> Path:
        """The labeled subset of ``budget`` chunks, named after the train file's content
        (:func:`laom_core.data.catalog.subset_path`)."""
        return catalog.subset_path(self.train_path, budget, self.chunk_size, self.seed)

    @property
    def group(self) -> str:
        return self.prefix


def make_plan(smoke: bool = False) -> DemoPlan:
    if not smoke:
        return DemoPlan()
    return DemoPlan(
        smoke=True, difficulty="easy", train_episodes=4, eval_episodes=1, steps=100, chunk_size=8,
        budgets=(2, 8, 32), sweep_budgets=(2, 32), preset="smoke", workers=2, clips_per_split=4,
        # the smoke preset made smaller still: the demo's smoke test runs seven runs end to end
        train_sets=("lapo.total_updates=6", "lapo.batch_size=8", "bc.total_updates=6", "bc.batch_size=8",
                    "decoder.total_updates=10", "idm.total_updates=6", "idm.batch_size=8",
                    "run.eval_max_steps=20", "run.probe_samples=128", "run.latents_samples=64"),
    )


# ----------------------------------------------------------------------------- status
def demo_dir() -> Path:
    path = workspace_root() / "demo"
    path.mkdir(parents=True, exist_ok=True)
    return path


def status_path() -> Path:
    return demo_dir() / "status.json"


STEP_NAMES = ("clips", "collect-train", "labeled-subsets", "collect-eval", "queue-runs")
STEP_TITLES = {
    "clips": "Generate the built-in distractor clips",
    "collect-train": "Collect the unlabeled cheetah-run dataset with the shipped expert",
    "labeled-subsets": "Cut labeled subsets (2, 8, 32 chunks)",
    "collect-eval": "Collect the eval set on eval clips",
    "queue-runs": "Queue BC, IDM, LAPO, LAOM and LAOM+supervision",
}


def demo_status() -> dict:
    """What the demo has done: steps done/total, current step, message, per-step states.

    Safe to call at any time (returns a "not started" status when no demo ran). ``state`` is
    "not-started", "running", "finished" or "failed"; a "running" demo whose process is
    gone is reported as "failed" with a message.
    """
    path = workspace_root(create=False) / "demo" / "status.json"  # a read: creates nothing
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"state": "not-started", "done": 0, "total": len(STEP_NAMES), "current": None,
                "message": "the demo has not run in this workspace",
                "steps": [{"name": n, "title": STEP_TITLES[n], "state": "pending", "message": ""}
                          for n in STEP_NAMES]}
    if status.get("state") == "running" and not _pid_alive(status.get("pid"), status.get("proc_start")):
        status["state"] = "failed"
        status["message"] = "the demo process ended without finishing; run it again to resume"
    return status


def _pid_alive(pid, proc_start: float | None = None) -> bool:
    """The demo process is running (with ``proc_start``, pid reuse safe)."""
    if not pid:
        return False
    return bool(procs.process_alive(int(pid), proc_start))


class _Status:
    """Writes status.json after every change (atomically)."""

    def __init__(self, plan: DemoPlan) -> None:
        self.data = {
            "state": "running", "smoke": plan.smoke, "pid": os.getpid(),
            "proc_start": procs.process_start_time(os.getpid()), "started": time.time(),
            "finished": None, "done": 0, "total": len(STEP_NAMES), "current": None, "message": "starting",
            "plan": {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(plan).items()},
            "steps": [{"name": n, "title": STEP_TITLES[n], "state": "pending", "message": "", "progress": 0.0}
                      for n in STEP_NAMES],
            "runs": [],
        }
        self._last_write = 0.0
        self.write()

    def step(self, name: str) -> dict:
        return next(s for s in self.data["steps"] if s["name"] == name)

    def update(self, name: str, *, state: str | None = None, message: str | None = None,
               progress: float | None = None, force: bool = True) -> None:
        s = self.step(name)
        if state is not None:
            s["state"] = state
        if message is not None:
            s["message"] = message
            self.data["message"] = f"{STEP_TITLES[name]}: {message}"
        if progress is not None:
            s["progress"] = float(progress)
        if state == "running":
            self.data["current"] = name
        self.data["done"] = sum(st["state"] in ("done", "skipped") for st in self.data["steps"])
        now = time.time()
        if force or now - self._last_write > 1.0:
            self.write()

    def write(self) -> None:
        self._last_write = time.time()
        atomic_write_json(status_path(), self.data)


# ----------------------------------------------------------------------------- steps
def _bar(desc: str, total: int, unit: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True)


def _step_clips(plan: DemoPlan, status: _Status) -> str:
    source = BuiltinSource()
    specs = source.missing()
    if plan.clips_per_split is not None:
        keep = set()
        for split in ("train", "eval"):
            keep |= {s.name for s in [s for s in source.specs if s.split == split][: plan.clips_per_split]}
        specs = [s for s in specs if s.name in keep]
    if not specs:
        return "skipped"
    bar = _bar("clips", len(specs), "clip")

    def progress(done: int, total: int) -> None:
        bar.n = done
        bar.refresh()
        status.update("clips", progress=done / max(total, 1), message=f"{done}/{total} clips", force=False)

    try:
        builtin_clips.generate_many(specs, source.folder, workers=plan.workers, progress=progress)
    finally:
        bar.close()
    return f"{len(specs)} clips generated"


def _collect(plan: DemoPlan, status: _Status, name: str, split: str, episodes: int, out: Path) -> str:
    if out.exists():
        return "skipped"
    total = episodes * plan.steps
    bar = _bar(name, total, "step")

    def progress(done: int, total_: int) -> None:
        bar.n = done
        bar.refresh()
        status.update(name, progress=done / max(total_, 1), message=f"{done}/{total_} steps", force=False)

    try:
        collect_dataset(
            task=plan.task, difficulty=plan.difficulty, split=split, policy_spec=plan.policy,
            episodes=episodes, steps=plan.steps, img_size=plan.img_size, workers=plan.workers,
            seed=plan.seed + (0 if split == "train" else 1), out=out, progress=progress,
            **plan.env_overrides,
        )
    finally:
        bar.close()
    return f"{episodes} episodes x {plan.steps} steps -> {out.name}"


def _step_subsets(plan: DemoPlan, status: _Status) -> str:
    made = []
    for i, budget in enumerate(plan.budgets):
        if not plan.labeled_path(budget).exists():
            catalog.labeled_subset(plan.train_path, budget, plan.chunk_size, plan.seed)
            made.append(budget)
        status.update("labeled-subsets", progress=(i + 1) / len(plan.budgets),
                      message=f"{budget} chunks of {plan.chunk_size} steps")
    return "skipped" if not made else f"subsets of {', '.join(map(str, made))} chunks written"


def run_requests(plan: DemoPlan) -> list[dict]:
    """The training runs the demo queues, headline comparison first.

    Each: name, method, data, labeled_data, eval_data, labeled_budget, preset, group.
    """
    def req(method: str, budget: int | None) -> dict:
        labeled = plan.labeled_path(budget) if budget is not None else None
        name = f"{plan.prefix}_{method}" + (f"_{budget}" if budget is not None else "")
        return {"name": name, "method": method, "task": plan.task, "preset": plan.preset,
                "data": str(plan.train_path), "labeled_data": str(labeled) if labeled else None,
                "eval_data": str(plan.eval_path), "labeled_budget": budget, "group": plan.group,
                "seed": plan.seed, "sets": list(plan.train_sets)}

    main = plan.main_budget
    first = [req("lapo", main), req("laom", main), req("laom-labels", main)]
    rest = [req("bc", None), req("idm", main)]
    for budget in sorted(plan.sweep_budgets, reverse=True):
        if budget != main:
            rest += [req("laom-labels", budget), req("idm", budget)]
    return first + rest


def _use_both_cores() -> None:
    """On a CPU-only machine with no concurrency limit chosen yet, run two at a time.

    Each training run uses one thread; two runs on two cores finish the demo's headline
    comparison in about half the time of one after the other.
    """
    if os.environ.get("LAOM_STUDIO_MAX_RUNS") or launcher.visible_gpus():
        return
    with RunStore() as store:
        if store.get_setting("max_concurrent") is None and (os.cpu_count() or 1) >= 2:
            store.set_setting("max_concurrent", 2)


def _step_queue(plan: DemoPlan, status: _Status) -> str:
    _use_both_cores()
    queued = queue_runs(run_requests(plan))
    status.data["runs"] = queued
    return f"{len(queued)} runs queued: " + ", ".join(r["name"].split("_", 2)[-1] for r in queued)


def queue_runs(requests: list[dict], tag: str = "demo", token_prefix: str = "demo") -> list[dict]:
    """Queue each request through the run launcher (idempotent by request key).

    A request may carry its own ``token`` (the client token; default ``<token_prefix>:<name>``)
    and ``tags``; equal arguments with an equal token give the run queued before.
    """
    try:
        from laom_core.runs import launcher
    except ImportError as exc:
        raise LaomError("the run launcher (laom_core.runs.launcher) is not installed in this checkout; "
                        "the datasets are ready, queue runs with `python -m laom_core train`") from exc
    from laom_core.runs.request import validate_train_request

    out = []
    for r in requests:
        request = validate_train_request(r["method"], preset=r["preset"], sets=r.get("sets", []), data=r["data"],
                                         labeled_data=r["labeled_data"] or None, eval_data=r["eval_data"])
        run_id = launcher.launch(request, name=r["name"], group=r["group"], tags=r.get("tags", [tag]),
                                 client_token=r.get("token", f"{token_prefix}:{r['name']}"),
                                 labeled_budget=r["labeled_budget"], task=r["task"])
        out.append({"name": r["name"], "method": r["method"], "labeled_budget": r["labeled_budget"],
                    "run_id": run_id})
    return out


# ----------------------------------------------------------------------------- main
def run_demo(smoke: bool = False, plan: DemoPlan | None = None) -> dict:
    """Run every step of the demo in this process; returns the final status."""
    plan = plan or make_plan(smoke)
    status = _Status(plan)
    steps: list[tuple[str, Callable[[], str]]] = [
        ("clips", lambda: _step_clips(plan, status)),
        ("collect-train", lambda: _collect(plan, status, "collect-train", "train", plan.train_episodes, plan.train_path)),
        ("labeled-subsets", lambda: _step_subsets(plan, status)),
        ("collect-eval", lambda: _collect(plan, status, "collect-eval", "eval", plan.eval_episodes, plan.eval_path)),
        ("queue-runs", lambda: _step_queue(plan, status)),
    ]
    try:
        if plan.task not in shipped_tasks():
            raise LaomError(f"no shipped expert for {plan.task}: the demo needs assets/experts/{plan.task}")
        for name, fn in steps:
            status.update(name, state="running", message="working")
            print(f"demo: {STEP_TITLES[name]}", file=sys.stderr)
            result = fn()
            if result == "skipped":
                status.update(name, state="skipped", message="already done", progress=1.0)
            else:
                status.update(name, state="done", message=result, progress=1.0)
    except BaseException as exc:
        status.data["state"] = "failed"
        current = status.data.get("current")
        msg = str(exc) if isinstance(exc, LaomError) else f"{type(exc).__name__}: {exc}"
        if current:
            status.update(current, state="failed", message=msg)
        status.data["message"] = f"{STEP_TITLES.get(current, 'demo')} failed: {msg}"
        status.data["finished"] = time.time()
        if not isinstance(exc, (LaomError, KeyboardInterrupt)):
            status.data["traceback"] = traceback.format_exc()
        status.write()
        raise
    status.data.update(state="finished", current=None, finished=time.time(),
                       message="datasets ready and runs queued; results appear as the runs finish")
    status.write()
    return status.data


def start_demo(smoke: bool = False) -> int:
    """Start the demo as a detached background process; returns its pid.

    When a demo is already running in this workspace, returns that process's pid instead
    of starting a second one.
    """
    current = demo_status()
    if current.get("state") == "running" and _pid_alive(current.get("pid"), current.get("proc_start")):
        return int(current["pid"])
    argv = [sys.executable, "-m", "laom_core", "demo"] + (["--smoke"] if smoke else [])
    proc = procs.start(argv, log=demo_dir() / rundir.LOG, cwd=procs.PACKAGE_PARENT,
                       env=procs.child_env(workspace=workspace_root()))
    return proc.pid


# ----------------------------------------------------------------------------- results
README_BEGIN = "<!-- demo results: written by `python -m laom_core demo --results --write-readme README.md` -->"
README_END = "<!-- end of demo results -->"


def demo_results(smoke: bool = False) -> dict:
    """The demo's runs as they stand: one row per planned run, plus the timeline.

    Rows: name, method, labeled_budget, status, probe_mse, chance_probe_mse,
    eval_return_mean, normalized_return, minutes (the run's own wall time). The timeline
    (minutes after the demo started): first metric logged, headline runs (LAPO, LAOM,
    LAOM+supervision at the largest budget) finished, every run finished; None until then.
    """
    plan = make_plan(smoke)
    requests = run_requests(plan)
    status = demo_status()
    started = status.get("started")
    rows, ended, first_metric = [], [], []
    with RunStore() as store:
        by_name = {r["name"]: r for r in store.list_runs()}  # latest run of a name wins
        for i, req in enumerate(requests):
            run = by_name.get(req["name"])
            summary = finished_run_summary(run)
            row = {"name": req["name"], "method": req["method"], "labeled_budget": req["labeled_budget"],
                   "status": run["status"] if run else "not queued", "headline": i < 3}
            for key in ("probe_mse", "chance_probe_mse", "eval_return_mean", "normalized_return"):
                row[key] = summary.get(key)
            row["minutes"] = (round((run["ended_at"] - run["started_at"]) / 60, 1)
                              if run and run.get("ended_at") and run.get("started_at") else None)
            rows.append(row)
            if run:
                ended.append(run.get("ended_at") if run["status"] == "finished" else None)
                metrics = store.metrics(run["id"]) if run.get("started_at") else {}
                walls = [float(series["wall"][0]) for series in metrics.values() if len(series["wall"])]
                if walls:
                    first_metric.append(min(walls))
            else:
                ended.append(None)

    # One divisor for every row, by the one rule (laom_core.metrics): the demo's own BC run when
    # it finished (what the runs saw depends on whether BC had finished when they were
    # evaluated), else the paper's BC; none when that BC is noise.
    norm = return_normalizer(plan.task, has_distractors(plan.difficulty),
                             [r["eval_return_mean"] for r in rows if is_reference_bc(r)])
    for row in rows:
        row["normalized_return"] = norm(row["eval_return_mean"])

    def after(t: float | None) -> float | None:
        return round((t - started) / 60, 1) if (t and started) else None

    head = ended[:3]
    timeline = {
        "demo_started": started,
        "first_metric_min": after(min(first_metric)) if first_metric else None,
        "headline_finished_min": after(max(head)) if head and None not in head else None,
        "all_finished_min": after(max(ended)) if ended and None not in ended else None,
    }
    return {"rows": rows, "timeline": timeline, "preset": plan.preset, "smoke": smoke,
            "normalizer": {"return": norm.divisor, "source": norm.source, "problem": norm.problem}}


def finished_run_summary(run: dict | None) -> dict:
    """A finished run's summary.json ({} for any other run or an unreadable file)."""
    if not run or run.get("status") != "finished" or not run.get("run_dir"):
        return {}
    return rundir.load_summary(run["run_dir"]) or {}


def results_markdown(results: dict) -> str:
    """The demo's results as a markdown table and a timeline sentence."""

    def num(v: float | None, digits: int) -> str:
        return "–" if v is None else f"{v:.{digits}f}"

    lines = ["| method | labeled chunks | status | probe MSE (held-out) | mean-action MSE | return | normalized return | minutes |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results["rows"]:
        lines.append(f"| {methods.label(r['method'])} | {r['labeled_budget'] or 'all (BC)'} | {r['status']} | "
                     f"{num(r['probe_mse'], 4)} | {num(r['chance_probe_mse'], 4)} | {num(r['eval_return_mean'], 1)} | "
                     f"{num(r['normalized_return'], 3)} | {num(r['minutes'], 1)} |")
    t = results["timeline"]
    when = (f"Timeline after the demo started: first curve at {num(t['first_metric_min'], 1)} min, LAPO, LAOM and "
            f"LAOM+supervision finished at {num(t['headline_finished_min'], 1)} min, every run at "
            f"{num(t['all_finished_min'], 1)} min (– = not yet).")
    norm = results.get("normalizer") or {}
    divisor = (f" Normalized return = return / {norm['return']:.1f} ({norm['source']})." if norm.get("return")
               else "")
    return "\n".join(lines) + "\n\n" + when + f" Preset `{results['preset']}`." + divisor


def write_readme_block(path: Path, text: str) -> None:
    """Replace the demo-results block of ``path`` (between the markers) with ``text``."""
    old = Path(path).read_text(encoding="utf-8")
    if README_BEGIN not in old or README_END not in old:
        raise LaomError(f"{path} has no demo-results block: add the two marker lines\n{README_BEGIN}\n{README_END}")
    new = old[: old.index(README_BEGIN) + len(README_BEGIN)] + "\n" + text + "\n" + old[old.index(README_END):]
    atomic_write_text(path, new)
