"""Reproduction of the paper's claims at CPU scale (the engine behind ``bench/reproduce.py``).

What it plans, per task and seed:

- with distractors (the demo's datasets, ``scale_easy_video_hard``): BC, IDM and
  LAOM+supervision at every labeled budget, LAPO and LAOM (their action decoder trains on
  the largest budget);
- without distractors (``vanilla`` datasets of the same size): LAPO and LAOM;
- for seed 0 and distractors only, the paper's ablation chain as stage-1-only runs
  (``run.stop_after=lam``): LAPO with a small latent; + multi-step IDM; + large latent;
  + latent FDM (LAOM without augmentation); + augmentations (the LAOM run itself);
  a scale study (k x the LAM updates) and a latent-size study (the paper's 8192-d latent);
- for each *headline task* (a second task, e.g. walker-run with the authors' released
  expert): LAPO and LAOM stage 1, with and without distractors, first seed only: claims 1
  and 2 (probe MSE) on another embodiment at a fraction of the compute.

Seed 0 with distractors *is* the demo (same datasets, names and client tokens), so a
finished demo counts and queueing here never duplicates it. Runs go through the launcher:
they live in the background, survive the session, and are resumed by the launcher.

Budgets count labeled trajectory chunks (``chunk_size`` steps each), as the released
labeled subsets do. Normalized return = eval return / the mean eval return of our own BC
runs on the same task and distractor setting (the paper's BC divisor when none finished).

The claims (:func:`check_claims`) are evaluated on seed means and say PASS, FAIL or
PENDING (not enough finished runs yet). They read the clip-seen probe (:data:`CLAIM_PROBE`),
the paper's question; on a dataset where no held-out trajectory shares a background clip
with training (few trajectories, many clips) that probe does not exist, and the claims read
the held-out probe over all held-out trajectories instead (:func:`claim_probe`), saying so.
:func:`write_report` turns the JSON into the
markdown report; text outside its generated block (the investigation) is kept.
"""
from __future__ import annotations

import dataclasses
import math
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from laom_core.analysis.reprobe import ProbeSplit, reprobe_run, run_training_ids, unseen_split
from laom_core.config import load_config
from laom_core.data.hdf5 import open_dataset
from laom_core.data.splits import held_out_split
from laom_core.errors import LaomError
from laom_core.methods import BUDGET_METHODS, LABELS as METHOD_TITLES, LAM_METHODS, METHODS
from laom_core.metrics import is_reference_bc, normalize_rows
from laom_core.runs import launcher
from laom_core.rundir import load_leakage
from laom_core.runs.store import RunStore
from laom_core.studies import demo
from laom_core.studies.demo import finished_run_summary
from laom_core.training.methods import NAMED_PROBE_KEYS
from laom_core.viz.svg import bar_chart, line_chart
from laom_core.workspace import atomic_write_text, write_generated_block

REPO = Path(__file__).resolve().parents[2]
BEGIN, END = "<!-- reproduce.py: generated, do not edit -->", "<!-- reproduce.py: end of generated part -->"

# The probes each LAM run reports (issue 19), copied into every row: the paper's online probe,
# and closed-form ridge probes scored on held-out trajectories whose background clips also
# appear in training (clip-seen) or on the eval split's clips (clip-unseen); with their chances.
PROBE_FIELDS = (*NAMED_PROBE_KEYS, "chance_clip_seen", "chance_clip_unseen")
# The probe the claims read (the paper's question: clips seen in training) ...
CLAIM_PROBE = "probe_clip_seen"
# ... and the one they fall back to where a dataset has no clip-seen held-out trajectory.
FALLBACK_PROBE = "probe_mse"
PROBE_TITLES = {
    "probe_clip_seen": "clip-seen probe (held-out trajectories whose clips appear in training)",
    "probe_mse": "held-out probe (all held-out trajectories; no held-out trajectory shares a clip with training)",
}
CHANCE_OF = {"probe_clip_seen": "chance_clip_seen", "probe_mse": "chance_probe_mse"}

# The ablation chain (paper Table 3 in spirit): each row adds one change to the row above.
ABLATION_SMALL_LATENT = {"cpu-small": 32, "smoke": 8, "paper": 128}


@dataclass(frozen=True)
class ReproPlan:
    """What to run. ``smoke`` shrinks everything to seconds (tests)."""

    tasks: tuple[str, ...] = ("cheetah-run",)
    seeds: tuple[int, ...] = (0, 1, 2)
    budgets: tuple[int, ...] = (2, 8, 32)
    preset: str = "cpu-small"
    smoke: bool = False
    ablation: bool = True
    vanilla_methods: tuple[str, ...] = ("lapo", "laom")
    # Stage-1-only LAPO and LAOM runs with this many times the preset's LAM updates (seed 0,
    # distractors): does the LAPO-LAOM gap open with compute? Empty: no scale runs.
    scale_factors: tuple[int, ...] = (3,)
    # Stage-1-only LAPO and LAOM runs with these latent action sizes (seed 0, distractors;
    # the paper's is 8192): is the preset's small latent what holds LAOM back? Empty: none.
    latent_dims: tuple[int, ...] = (8192,)
    # Stage-1-only LAPO and LAOM runs on a train set this many times larger, with as many times
    # the LAM updates (seed 0, distractors): does the gap open with data? Empty: none.
    data_factors: tuple[int, ...] = (2, 4)
    # Tasks checked on claims 1-2 only (LAPO and LAOM stage 1, both settings, first seed).
    headline_tasks: tuple[str, ...] = ()
    # (task, collection policy) for tasks without a shipped expert: a released PPO folder.
    experts: tuple[tuple[str, str], ...] = ()

    @property
    def all_tasks(self) -> tuple[str, ...]:
        return tuple(self.tasks) + tuple(t for t in self.headline_tasks if t not in self.tasks)

    def data_plan(self, task: str, distractors: bool):
        """The demo's dataset plan for ``task`` (distractors) or its vanilla twin."""
        base = demo.make_plan(self.smoke)
        plan = dataclasses.replace(base, task=task, budgets=tuple(self.budgets), sweep_budgets=tuple(self.budgets),
                                   preset=self.preset if not self.smoke else base.preset,
                                   policy=dict(self.experts).get(task, base.policy))
        if not distractors:
            plan = dataclasses.replace(plan, name="repro-vanilla", difficulty="vanilla")
        return plan

    def scaled_data_plan(self, task: str, factor: int):
        """The distracted plan with ``factor`` x the training trajectories (own file names).

        Its labeled subset is cut from its own train file, at the main budget only: the
        held-out trajectories depend on the file, so the 1x file's subset could share some.
        """
        base = self.data_plan(task, True)
        return dataclasses.replace(base, name=f"repro-data{factor}x", train_episodes=base.train_episodes * factor,
                                   budgets=(base.main_budget,), sweep_budgets=(base.main_budget,))


def smoke_plan() -> ReproPlan:
    return ReproPlan(seeds=(0,), budgets=(2, 8), preset="smoke", smoke=True, latent_dims=(128,), data_factors=())


# ----------------------------------------------------------------------------- datasets
class _NoStatus:
    """Stands in for the demo's status file: reproduce.py reports through tqdm only."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {"runs": []}

    def update(self, *args: Any, **kwargs: Any) -> None:
        pass

    def write(self) -> None:
        pass


def build_datasets(plan: ReproPlan) -> list[Path]:
    """Clips, train sets, labeled subsets and eval sets for every task, with and without
    distractors; each step is skipped when its file exists (files are written atomically)."""
    status = _NoStatus()
    made: list[Path] = []
    first = True
    for task in plan.all_tasks:
        for distractors in (True, False):
            dp = plan.data_plan(task, distractors)
            if first:
                demo._step_clips(dp, status)
                first = False
            demo._collect(dp, status, "collect-train", "train", dp.train_episodes, dp.train_path)
            demo._step_subsets(dp, status)
            demo._collect(dp, status, "collect-eval", "eval", dp.eval_episodes, dp.eval_path)
            made += [dp.train_path, dp.eval_path] + [dp.labeled_path(b) for b in dp.budgets]
        if task in plan.tasks:
            for factor in plan.data_factors:  # the data study needs only a larger train set
                big = plan.scaled_data_plan(task, factor)
                demo._collect(big, status, "collect-train", "train", big.train_episodes, big.train_path)
                demo._step_subsets(big, status)
                made += [big.train_path, big.labeled_path(big.main_budget)]
    return made


# ----------------------------------------------------------------------------- requests
def run_requests(plan: ReproPlan) -> list[dict]:
    """Every run, in the order it should start: seed by seed, headline comparison first.

    Each request is the demo's request dict plus ``distractors``, ``seed``, ``token``,
    ``tags`` and ``ablation`` (the ablation row's title, or None).
    """
    out: list[dict] = []
    for seed in plan.seeds:
        for task in plan.tasks:
            dist, van = plan.data_plan(task, True), plan.data_plan(task, False)
            main = max(plan.budgets)
            dist_reqs = demo.run_requests(dist)
            van_reqs = [r for r in demo.run_requests(van)
                        if r["method"] in plan.vanilla_methods and r["labeled_budget"] in (None, main)]
            head, rest = dist_reqs[:3], dist_reqs[3:]
            ordered = [(r, True) for r in head] + [(r, False) for r in van_reqs] + [(r, True) for r in rest]
            for r, distractors in ordered:
                out.append(_for_seed(r, seed, distractors, token_prefix="demo" if distractors else "repro"))
            if plan.ablation and seed == plan.seeds[0]:
                out += ablation_requests(plan, dist, dist_reqs, seed)
            if seed == plan.seeds[0]:
                out += scale_requests(plan, dist, dist_reqs, seed)
                out += latent_requests(plan, dist, dist_reqs, seed)
                out += data_requests(plan, task, dist, dist_reqs, seed)
    for task in plan.all_tasks:
        if task not in plan.tasks:
            out += headline_requests(plan, task, plan.seeds[0])
    return out


def headline_requests(plan: ReproPlan, task: str, seed: int) -> list[dict]:
    """LAPO and LAOM stage 1 with and without distractors: what claims 1 and 2 need."""
    main = max(plan.budgets)
    out = []
    for distractors in (True, False):
        for r in demo.run_requests(plan.data_plan(task, distractors)):
            if r["method"] in ("lapo", "laom") and r["labeled_budget"] == main:
                r = _for_seed(r, seed, distractors, token_prefix="repro")
                r["name"] = f"{r['name']}_stage1"
                r["token"] = f"repro:{r['name']}"
                r["sets"] = r["sets"] + ["run.stop_after=lam"]
                r["tags"] = ["reproduce", "headline"]
                out.append(r)
    return out


def is_side_study(row: dict) -> bool:
    """Ablation, scale and latent-size runs: stage-1-only variants kept out of the claims."""
    return row.get("ablation") is not None or any(row.get(k) for k in STUDY_KEYS)


STUDY_KEYS = ("scale", "latent_dim", "data_factor")


def _stage1_variant(template: dict, name: str, sets: list[str], seed: int, **study: Any) -> dict:
    r = dict(template)
    r["name"] = name
    r["sets"] = list(template.get("sets", [])) + sets + ["run.stop_after=lam"]
    r.update(seed=seed, distractors=True, token=f"repro:{name}", ablation=None, **dict.fromkeys(STUDY_KEYS))
    r.update(study, tags=["reproduce", next(k for k in STUDY_KEYS if study.get(k))])
    return r


def scale_requests(plan: ReproPlan, dist_plan, dist_reqs: list[dict], seed: int) -> list[dict]:
    """LAPO and LAOM stage 1 with ``factor`` x the preset's LAM updates."""
    out = []
    for factor in plan.scale_factors:
        for method in ("lapo", "laom"):
            cfg = load_config(dist_plan.preset, method)[0].lapo
            updates = (cfg.total_updates or 1000) * factor
            template = next(r for r in dist_reqs if r["method"] == method)
            out.append(_stage1_variant(template, f"{dist_plan.prefix}_scale{factor}x_{method}",
                                       [f"lapo.total_updates={updates}"], seed, scale=factor))
    return out


def data_requests(plan: ReproPlan, task: str, dist_plan, dist_reqs: list[dict], seed: int) -> list[dict]:
    """LAPO and LAOM stage 1 on ``factor`` x the training data with ``factor`` x the LAM updates
    (the same number of passes over the data as the preset; the eval set unchanged, the labeled
    subset cut from the larger file so that it leaves that file's held-out trajectories out)."""
    out = []
    for factor in plan.data_factors:
        big = plan.scaled_data_plan(task, factor)
        for method in ("lapo", "laom"):
            updates = (load_config(dist_plan.preset, method)[0].lapo.total_updates or 1000) * factor
            template = dict(next(r for r in dist_reqs if r["method"] == method), data=str(big.train_path),
                            labeled_data=str(big.labeled_path(big.main_budget)))
            out.append(_stage1_variant(template, f"{dist_plan.prefix}_data{factor}x_{method}",
                                       [f"lapo.total_updates={updates}"], seed, data_factor=factor))
    return out


def latent_requests(plan: ReproPlan, dist_plan, dist_reqs: list[dict], seed: int) -> list[dict]:
    """LAPO and LAOM stage 1 with a latent action of ``dim`` dimensions (the preset's updates)."""
    out = []
    for dim in plan.latent_dims:
        for method in ("lapo", "laom"):
            template = next(r for r in dist_reqs if r["method"] == method)
            out.append(_stage1_variant(template, f"{dist_plan.prefix}_latent{dim}_{method}",
                                       [f"lapo.latent_action_dim={dim}"], seed, latent_dim=dim))
    return out


def _for_seed(req: dict, seed: int, distractors: bool, token_prefix: str) -> dict:
    r = dict(req)
    r["sets"] = list(r.get("sets", []))
    if seed != 0:
        r["name"] = f"{r['name']}_s{seed}"
        r["sets"].append(f"seed={seed}")
        token_prefix = "repro"
    r.update(seed=seed, distractors=distractors, token=f"{token_prefix}:{r['name']}", ablation=None, scale=None,
             latent_dim=None, tags=["demo"] if token_prefix == "demo" else ["reproduce"])
    return r


def ablation_requests(plan: ReproPlan, dist_plan, dist_reqs: list[dict], seed: int) -> list[dict]:
    """Stage-1-only runs for the rows the main runs do not already give."""
    lam_cfg = load_config(dist_plan.preset, "laom")[0].lapo
    small = ABLATION_SMALL_LATENT.get(dist_plan.preset, max(2, lam_cfg.latent_action_dim // 8))
    base = next(r for r in dist_reqs if r["method"] == "lapo")
    laom = next(r for r in dist_reqs if r["method"] == "laom")
    rows = [
        ("LAPO", base, [f"lapo.latent_action_dim={small}"]),
        ("+ multi-step IDM", base, [f"lapo.latent_action_dim={small}",
                                    f"lapo.future_obs_offset={lam_cfg.future_obs_offset}"]),
        ("+ large latent", base, [f"lapo.future_obs_offset={lam_cfg.future_obs_offset}"]),
        ("+ latent FDM", laom, ["lapo.use_aug=false"]),
    ]
    out = []
    for title, template, sets in rows:
        r = dict(template)
        slug = title.lstrip("+ ").replace(" ", "-").lower()
        r["name"] = f"{dist_plan.prefix}_ablation_{slug}"
        r["sets"] = list(template.get("sets", [])) + sets + ["run.stop_after=lam"]
        r.update(seed=seed, distractors=True, token=f"repro:{r['name']}", ablation=title, scale=None,
                 latent_dim=None, tags=["reproduce", "ablation"])
        out.append(r)
    return out


def queue(plan: ReproPlan, max_runs: int | None = None) -> list[dict]:
    """Queue every request (idempotent); returns the requests with their ``run_id``."""
    if max_runs is not None:
        launcher.set_max_concurrent(max_runs)
    requests = run_requests(plan)
    for r in requests:
        own = not r["distractors"] or is_side_study(r) or r["seed"] or "headline" in r.get("tags", [])
        r["group"] = f"reproduce_{r['task']}" if own else r["group"]
    queued = demo.queue_runs(requests, tag="reproduce", token_prefix="repro")
    for r, q in zip(requests, queued):
        r["run_id"] = q["run_id"]
    resume_interrupted([r["run_id"] for r in requests])
    return requests


def resume_interrupted(run_ids: Sequence[str]) -> list[str]:
    """Re-queue (with ``--resume``) the runs among ``run_ids`` that were stopped or failed,
    e.g. killed when a session ended; their finished stages are kept. Returns their ids."""
    resumed = []
    with RunStore() as store:
        for run_id in run_ids:
            if store.get_run(run_id)["status"] in ("stopped", "failed"):
                launcher.resume(run_id, store=store)
                resumed.append(run_id)
    return resumed


# ----------------------------------------------------------------------------- results
def collect_results(plan: ReproPlan, requests: list[dict] | None = None) -> dict:
    """The JSON report: one row per planned run (finished or not) plus context."""
    requests = requests if requests is not None else run_requests(plan)
    with RunStore() as store:
        runs = store.list_runs()
    by_id = {r["id"]: r for r in runs}
    by_name: dict[str, dict] = {}
    for r in runs:  # latest run of a name wins
        by_name[r["name"]] = r
    rows = []
    sizes_cache: dict[str, dict] = {}

    def sizes(path: str | None) -> dict | None:
        if not path:
            return None
        if path not in sizes_cache:
            try:
                with open_dataset(path) as ds:
                    sizes_cache[path] = {"trajectories": ds.num_trajectories, "steps": ds.total_steps}
            except Exception:  # noqa: BLE001 - a missing file reads as unknown size
                sizes_cache[path] = {"trajectories": None, "steps": None}
        return sizes_cache[path]

    settings: dict[tuple[str, bool], str] = {}
    for req in requests:
        where = (req["task"], bool(req["distractors"]))
        if where not in settings:
            settings[where] = plan.data_plan(*where).difficulty
        run = by_id.get(req.get("run_id", "")) or by_name.get(req["name"])
        summary = finished_run_summary(run)
        status = run["status"] if run else "not-queued"
        rows.append({
            "name": req["name"], "run_id": run["id"] if run else None, "status": status,
            "method": req["method"], "task": req["task"], "distractors": bool(req["distractors"]),
            "setting": settings[where],
            "budget": req["labeled_budget"] if req["method"] != "bc" else None,
            "seed": int(req["seed"]), "ablation": req.get("ablation"), "scale": req.get("scale"),
            "latent_dim": req.get("latent_dim"), "data_factor": req.get("data_factor"),
            "probe_mse": summary.get("probe_mse"), "chance_probe_mse": summary.get("chance_probe_mse"),
            **{key: summary.get(key) for key in PROBE_FIELDS},
            "fdm_z_gain": summary.get("fdm_z_gain"),
            **run_leakage_figures(run if summary else None),
            "eval_return_mean": summary.get("eval_return_mean"),
            "eval_return_std": summary.get("eval_return_std"),
            "normalized_return": None,
            "normalized_return_run": summary.get("normalized_return"),
            "wall_s": summary.get("wall_s"),
            "dataset": {"train": sizes(req["data"]), "labeled": sizes(req.get("labeled_data")),
                        "eval": sizes(req.get("eval_data"))},
        })
    normalizers = _normalize(rows)
    run_dirs = {r["id"]: r.get("run_dir") for r in runs}
    return {
        "commit": _commit(), "created": time.strftime("%Y-%m-%d %H:%M:%S"), "preset": plan.preset,
        "plan": {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(plan).items()},
        "normalizers": normalizers, "runs": rows,
        "data_probe": add_common_data_probe(plan, requests, rows, run_dirs),
    }


COMMON_FIELDS = ("probe_mse", "chance_probe_mse", "r2_action", "r2_state")


def add_common_data_probe(plan: ReproPlan, requests: list[dict], rows: list[dict],
                          run_dirs: dict[str, str | None]) -> dict[str, dict]:
    """Score the data study's LAMs (and their 1x twins) on one common split, in place.

    Each run's own probe is scored on its own held-out trajectories (2 of 20 at 1x, 8 of 80
    at 4x) and its leakage figures pool training trajectories in when fewer than 6 are held
    out, so neither compares across dataset sizes. The train files are nested (the k x file
    starts with the 1x file's trajectories), so every run is re-probed
    (:mod:`laom_core.analysis.reprobe`, cached per run) fitting on trajectories all of them
    trained on and testing on trajectories none of them saw. Adds ``common_<field>`` to
    the rows; returns the split per task (or why there is none).
    """
    out: dict[str, dict] = {}
    for task in sorted({r["task"] for r in rows if r.get("data_factor")}):
        seed0 = min(r["seed"] for r in rows if r["task"] == task)
        members = [(req, row) for req, row in zip(requests, rows)
                   if row["task"] == task and row["method"] in ("lapo", "laom") and row["distractors"]
                   and row["seed"] == seed0 and row.get("ablation") is None
                   and not any(row.get(k) for k in STUDY_KEYS if k != "data_factor")]
        try:
            specs = []
            for req, row in members:
                n = (row["dataset"]["train"] or {}).get("trajectories")
                if not n:
                    continue
                run_dir = run_dirs.get(row["run_id"]) if row["status"] == "finished" else None
                if run_dir:
                    specs.append((Path(req["data"]), n, run_training_ids(run_dir, n)))
                else:  # not finished: the split it will use (fixed per file)
                    held_out = load_config(plan.preset, row["method"])[0].run.held_out_fraction
                    specs.append((Path(req["data"]), n, held_out_split(n, held_out)[0]))
            split: ProbeSplit = unseen_split(specs)
        except LaomError as exc:
            out[task] = {"error": str(exc)}
            continue
        out[task] = {"data": str(split.data), "fit": list(split.fit), "test": list(split.test)}
        for _req, row in members:
            run_dir = run_dirs.get(row["run_id"]) if row["status"] == "finished" else None
            try:
                figures = reprobe_run(run_dir, split) if run_dir else {}
            except LaomError as exc:
                figures = {}
                out[task].setdefault("errors", {})[row["name"]] = str(exc)
            row.update({f"common_{k}": figures.get(k) for k in COMMON_FIELDS})
    return out


LEAKAGE_FIELDS = ("r2_action", "obs_r2_state", "leakage")  # of artifacts/leakage.json, copied per row


def run_leakage_figures(run: dict | None, fields: tuple[str, ...] = LEAKAGE_FIELDS) -> dict[str, float | None]:
    """The held-out leakage figures ``fields`` (None each for a run without them); by default the
    ones this report uses: how much of the true action the latent action explains, of the state
    the encoder's embedding does."""
    found = load_leakage(run["run_dir"]) if run and run.get("run_dir") else None
    figures = (found or {}).get("figures") or {}
    return {k: (float(figures[k]) if _num(figures.get(k)) else None) for k in fields}


def _normalize(rows: list[dict]) -> dict[str, dict]:
    """Fill ``normalized_return`` (and ``normalization_problem``) in place by the one rule
    (:mod:`laom_core.metrics`), our reference being the BC runs of the main study (not the side
    studies) per (task, distractors); returns the divisors as ``{"task|setting": ...}``."""
    normalized, normalizers = normalize_rows(
        rows, counts_as_reference=lambda r: is_reference_bc(r) and not is_side_study(r))
    for row, new in zip(rows, normalized):
        row["normalized_return"] = new["normalized_return"]
        if "normalization_problem" in new:
            row["normalization_problem"] = new["normalization_problem"]
    return {f"{task}|{'distractors' if d else 'vanilla'}": n.as_dict()
            for (task, d), n in sorted(normalizers.items())}


def _num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


# ----------------------------------------------------------------------------- claims
def matching_values(rows: Iterable[dict], key: str, keep: Callable[[dict], bool] = lambda r: True,
                    **match: Any) -> list[float]:
    """The finite numbers under ``key`` of the rows that ``keep`` and whose fields equal ``match``
    (the studies' one row filter)."""
    return [float(r[key]) for r in rows
            if keep(r) and all(r.get(k) == v for k, v in match.items()) and _num(r.get(key))]


def _values(rows: Iterable[dict], key: str, **match: Any) -> list[float]:
    return matching_values(rows, key, keep=lambda r: not is_side_study(r), **match)


def seed_paired_means(rows: Iterable[dict], keys: Sequence[str], cells: dict[Any, dict]
                      ) -> tuple[dict[tuple[Any, str], float] | None, int]:
    """Each cell's mean of each of ``keys`` over the seeds where every cell has all of them
    (main rows; ``cells``: name -> the fields a row must match, one row per seed as the studies
    plan them), and how many seeds.

    A comparison of means over different seeds would mix seed noise into it: while a study is
    partial, one method's mean over three seeds against another's over two can tie or flip
    for no other reason. None and 0 when no seed has every cell.
    """
    rows = [r for r in rows if not is_side_study(r)]
    by_cell = {name: {r["seed"]: r for r in rows if all(r.get(k) == v for k, v in match.items())
                      and all(_num(r.get(key)) for key in keys)} for name, match in cells.items()}
    seeds = sorted(set.intersection(*(set(found) for found in by_cell.values()))) if by_cell else []
    if not seeds:
        return None, 0
    return ({(name, key): statistics.mean(float(by_cell[name][s][key]) for s in seeds)
             for name in cells for key in keys}, len(seeds))


def seeds_note(n: int) -> str:
    """' (n paired seeds)': how many seeds a claim's comparison read."""
    return f" ({n} paired seed{'s' if n != 1 else ''})"


def mean_or_none(values: Sequence[float]) -> float | None:
    return statistics.mean(values) if values else None


_mean = mean_or_none


def claim_probe(rows: list[dict], task: str) -> str:
    """The probe field the task's claims and tables read: :data:`CLAIM_PROBE` when some main-grid
    run on the task's distracted data reports it, else :data:`FALLBACK_PROBE`. Whether a held-out
    trajectory shares a clip with training is a property of the dataset, not of a run, so only
    the main grid's dataset decides: the data study's larger files may have clip-seen held-out
    trajectories where the main file has none, and the tables compare them on one probe."""
    seen = any(_num(r.get(CLAIM_PROBE)) for r in rows
               if r["task"] == task and r["distractors"] and not is_side_study(r))
    return CLAIM_PROBE if seen else FALLBACK_PROBE


def _setting(rows: list[dict], task: str, distractors: bool = True) -> str | None:
    return next((r.get("setting") for r in rows if r["task"] == task and r["distractors"] == distractors
                 and r.get("setting")), None)


def check_claims(report: dict) -> list[dict]:
    """The paper's four claims on the report's rows: PASS, FAIL or PENDING, with numbers. Each
    claim names its distracted ``setting`` and the ``probe`` it read (:func:`claim_probe`)."""
    rows, claims = report["runs"], []
    tasks = sorted({r["task"] for r in rows})
    headline_only = headline_only_tasks(report)
    budgets = sorted({r["budget"] for r in rows if r["method"] == "laom-labels" and r["budget"] is not None})
    for task in tasks:
        key = claim_probe(rows, task)
        first = len(claims)
        # LAPO and LAOM over the seeds where both finished, with and without distractors
        pairs = {d: seed_paired_means(rows, [key], {m: dict(method=m, task=task, distractors=d)
                                                    for m in ("lapo", "laom")}) for d in (True, False)}

        def probe(method: str, distractors: bool) -> float | None:
            means = pairs[distractors][0]
            return means[(method, key)] if means else None

        # 1. with distractors, LAOM's probe MSE is at most half of LAPO's
        lapo, laom = probe("lapo", True), probe("laom", True)
        if lapo is None or laom is None:
            claims.append(_claim(1, task, "PENDING", "needs finished LAPO and LAOM runs with distractors"))
        else:
            ratio = lapo / laom if laom > 0 else math.inf
            claims.append(_claim(1, task, "PASS" if laom <= 0.5 * lapo else "FAIL",
                                 f"{key} LAPO {lapo:.4f} / LAOM {laom:.4f} = {ratio:.2f}x (needs >= 2x; paper 8x)"
                                 + seeds_note(pairs[True][1])))

        # 2. without distractors the LAPO/LAOM gap is much smaller (in log ratio: at most half)
        vl, vo = probe("lapo", False), probe("laom", False)
        if None in (lapo, laom, vl, vo):
            claims.append(_claim(2, task, "PENDING", "needs LAPO and LAOM with and without distractors"))
        else:
            r_d, r_v = lapo / laom, vl / vo
            ok = r_d > 1 and math.log(max(r_v, 1e-9)) <= 0.5 * math.log(r_d)
            claims.append(_claim(2, task, "PASS" if ok else "FAIL",
                                 f"LAPO/LAOM probe ratio {r_d:.2f}x with distractors, {r_v:.2f}x without "
                                 f"(needs a ratio > 1 with, and log ratio without <= half of log ratio with; "
                                 f"{pairs[True][1]} and {pairs[False][1]} paired seeds)"
                                 + _gap_caveat(rows, task, key)))

        if task not in headline_only:  # headline tasks: stage-1 LAPO and LAOM only, no claims 3-4
            claims += _supervision_claims(rows, task, budgets, key)
        for claim in claims[first:]:
            claim.update(setting=_setting(rows, task), probe=key)
    return claims


def _supervision_claims(rows: list[dict], task: str, budgets: list[int], key: str) -> list[dict]:
    """Claims 3 and 4 on the task's distracted rows, each comparison over the seeds where all
    its runs finished (:func:`seed_paired_means`)."""
    claims = []
    # 3. LAOM+supervision: best return at every budget and lowest probe MSE. When the task's
    # BC reference is noise (no normalized returns), the raw returns are compared: one divisor
    # per task would not change their order.
    caveat = _returns_caveat(rows, task)
    ret_key = "eval_return_mean" if caveat else "normalized_return"
    details, ok, pending = [], True, False
    for b in budgets:
        m, n = seed_paired_means(rows, [ret_key, key], {
            "sup": dict(method="laom-labels", task=task, distractors=True, budget=b),
            "laom": dict(method="laom", task=task, distractors=True),
            "lapo": dict(method="lapo", task=task, distractors=True)})
        if m is None:
            pending = True
            continue
        good = (m[("sup", ret_key)] > max(m[("laom", ret_key)], m[("lapo", ret_key)])
                and m[("sup", key)] < min(m[("laom", key)], m[("lapo", key)]))
        ok &= good
        details.append(f"budget {b}: return {m[('sup', ret_key)]:.3f} vs LAOM {m[('laom', ret_key)]:.3f}, "
                       f"LAPO {m[('lapo', ret_key)]:.3f}; {key} {m[('sup', key)]:.4f} vs LAOM "
                       f"{m[('laom', key)]:.4f}, LAPO {m[('lapo', key)]:.4f}{seeds_note(n)}"
                       + ("" if good else " (fails)"))
    state = "PENDING" if pending and ok else ("PASS" if ok else "FAIL")
    claims.append(_claim(3, task, state, "; ".join(details) or "needs LAOM+supervision, LAOM and LAPO runs"))

    if caveat:
        claims[-1]["detail"] += caveat

    # 4. IDM's return falls faster than LAOM+supervision's as the budget shrinks
    if len(budgets) < 2:
        claims.append(_claim(4, task, "PENDING", "needs at least two budgets"))
    else:
        hi, lo = max(budgets), min(budgets)
        vals, n = seed_paired_means(rows, [ret_key], {
            (mth, b): dict(method=mth, task=task, distractors=True, budget=b)
            for mth in ("idm", "laom-labels") for b in (hi, lo)})
        if vals is None:
            claims.append(_claim(4, task, "PENDING", f"needs IDM and LAOM+supervision at budgets {hi} and {lo}"))
        else:
            drop_idm = vals[(("idm", hi), ret_key)] - vals[(("idm", lo), ret_key)]
            drop_sup = vals[(("laom-labels", hi), ret_key)] - vals[(("laom-labels", lo), ret_key)]
            claims.append(_claim(4, task, "PASS" if drop_idm > drop_sup else "FAIL",
                                 f"{'raw' if caveat else 'normalized'} return drop from budget {hi} to {lo}: "
                                 f"IDM {drop_idm:+.3f}, LAOM+supervision {drop_sup:+.3f}{seeds_note(n)}" + caveat))
    return claims


def headline_only_tasks(report: dict) -> set[str]:
    """Tasks the report's plan checks on claims 1-2 only (no returns, no budgets)."""
    plan = report.get("plan") or {}
    return set(plan.get("headline_tasks") or []) - set(plan.get("tasks") or [])


def _gap_caveat(rows: list[dict], task: str, key: str = FALLBACK_PROBE) -> str:
    """A note when LAPO and LAOM differ (in probe ``key``) by less than their spread over seeds
    with distractors: then the gap claim 2 compares against is noise. The verdict is not changed."""
    vals = {m: _values(rows, key, method=m, task=task, distractors=True) for m in ("lapo", "laom")}
    if min(len(v) for v in vals.values()) < 2:
        return ""
    spread = max(statistics.stdev(v) for v in vals.values())
    gap = statistics.mean(vals["lapo"]) - statistics.mean(vals["laom"])
    if gap >= spread:
        return ""
    return (f" (caution: with distractors LAPO and LAOM differ by {gap:.4f}, less than one seed standard deviation "
            f"({spread:.4f}): the gap this claim compares against is noise)")


def _returns_caveat(rows: list[dict], task: str) -> str:
    """A note when the task's BC reference (with distractors) is noise by the one rule
    (:mod:`laom_core.metrics`): then no normalized return is shown and claims 3-4 compare raw
    returns. The verdict is not changed by it."""
    problem = next((r.get("normalization_problem") for r in rows
                    if r["task"] == task and r["distractors"] and r.get("normalization_problem")), None)
    if not problem:
        return ""
    return (f" (caution: {problem}; at this scale no policy controls the agent and normalized returns would be "
            "ratios of noise, so raw returns are compared)")


CLAIM_TEXT = {
    1: "With distractors, LAOM's held-out probe MSE is at most half of LAPO's",
    2: "Without distractors, the LAPO-LAOM gap is much smaller than with them",
    3: "With distractors, LAOM+supervision has the best normalized return at every budget and the lowest probe MSE",
    4: "IDM's return falls faster than LAOM+supervision's as the budget shrinks",
}


def _claim(number: int, task: str, state: str, detail: str) -> dict:
    return {"claim": number, "task": task, "text": CLAIM_TEXT[number], "result": state, "detail": detail}


# ----------------------------------------------------------------------------- tables
def _fmt(mean: float | None, values: Sequence[float], digits: int = 4) -> str:
    if mean is None:
        return "–"
    if len(values) > 1:
        return f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f} (n={len(values)})"
    return f"{mean:.{digits}f} (n=1)"


def probe_table(report: dict) -> list[list[str]]:
    """Per task and method: the claims' probe (:func:`claim_probe`) with and without distractors
    and its chance, then the other two named probes with distractors, then the FDM's use of z."""
    rows = report["runs"]
    out = [["task", "method", "probe MSE, distractors", "probe MSE, no distractors", "chance (mean action)",
            "online probe, distractors", "clip-unseen probe, distractors", "FDM z gain, distractors"]]
    for task in sorted({r["task"] for r in rows}):
        key = claim_probe(rows, task)
        for m in (m for m in METHODS if m != "bc"):
            budgets = sorted({r["budget"] for r in rows if r["method"] == m and r["task"] == task and r["budget"]})
            for b in budgets if m in BUDGET_METHODS else [None]:
                match = {"method": m, "task": task} | ({"budget": b} if b else {})
                d = _values(rows, key, distractors=True, **match)
                v = _values(rows, key, distractors=False, **match)
                c = _values(rows, CHANCE_OF[key], distractors=True, **match)
                online = _values(rows, "probe_online", distractors=True, **match)
                unseen = _values(rows, "probe_clip_unseen", distractors=True, **match)
                g = _values(rows, "fdm_z_gain", distractors=True, **match)
                if not (d or v):
                    continue
                title = METHOD_TITLES[m] + (f" ({b} chunks)" if b else "")
                out.append([task, title, _fmt(_mean(d), d), _fmt(_mean(v), v), _fmt(_mean(c), c),
                            _fmt(_mean(online), online), _fmt(_mean(unseen), unseen),
                            _fmt(_mean(g), g, 3) if m != "idm" else ""])
    return out


def return_table(report: dict) -> list[list[str]]:
    rows = report["runs"]
    budgets = sorted({r["budget"] for r in rows if r["budget"] is not None})
    out = [["task", "method"] + [f"{b} chunks" for b in budgets] + ["no labels needed / full labels"]]
    for task in sorted({r["task"] for r in rows}):
        for m in METHODS:
            line = [task, METHOD_TITLES[m]]
            any_value = False
            for b in budgets:
                vals = _values(rows, "normalized_return", method=m, task=task, distractors=True, budget=b)
                any_value |= bool(vals)
                line.append(_fmt(_mean(vals), vals, 3))
            vals = _values(rows, "normalized_return", method=m, task=task, distractors=True, budget=None)
            any_value |= bool(vals)
            line.append(_fmt(_mean(vals), vals, 3) if m == "bc" else "")
            if any_value:
                out.append(line)
    return out


def ablation_table(report: dict) -> list[list[str]]:
    rows = report["runs"]
    out = [["task", "variant (each row adds one change)", "probe MSE, distractors", "paper (median, 4 tasks)"]]
    paper = {"LAPO": "22.1", "+ multi-step IDM": "9.5", "+ large latent": "3.9", "+ latent FDM": "5.2",
             "+ augmentations": "2.7"}
    for task in sorted({r["task"] for r in rows}):
        seed0 = min((r["seed"] for r in rows if r["task"] == task), default=0)
        key = claim_probe(rows, task)
        entries = [(r["ablation"], r.get(key)) for r in rows
                   if r["task"] == task and r.get("ablation") is not None]
        laom = [r.get(key) for r in rows if r["task"] == task and r["method"] == "laom" and r["distractors"]
                and r["seed"] == seed0 and not is_side_study(r)]
        entries.append(("+ augmentations", laom[0] if laom else None))
        for title, value in entries:
            out.append([task, title, f"{value:.4f}" if _num(value) else "–", paper.get(title, "")])
    return out


def _lapo_laom_cells(rows: list[dict], task: str, key: str, value: Any, default: Any,
                     extra: tuple[str, ...] = ()) -> list[str]:
    """[LAPO probe MSE, LAOM probe MSE, LAPO / LAOM, then LAPO / LAOM of each ``extra`` field as
    "a / b"] of the task's first-seed distracted runs whose study ``key`` equals ``value`` (runs
    without that study count as ``default``) and no other study."""
    seed0 = min((r["seed"] for r in rows if r["task"] == task), default=0)
    others = [k for k in STUDY_KEYS if k != key]
    runs = {}
    for m in ("lapo", "laom"):
        hit = [r for r in rows if r["task"] == task and r["method"] == m and r["distractors"]
               and r["seed"] == seed0 and r.get("ablation") is None and not any(r.get(k) for k in others)
               and (r.get(key) or default) == value]
        runs[m] = hit[0] if hit else {}

    def num(m: str, field: str) -> float | None:
        v = runs[m].get(field)
        return v if _num(v) else None

    vals = {m: num(m, claim_probe(rows, task)) for m in ("lapo", "laom")}
    ratio = f"{vals['lapo'] / vals['laom']:.2f}x" if vals["lapo"] and vals["laom"] else "–"
    cells = [*(f"{vals[m]:.4f}" if vals[m] is not None else "–" for m in ("lapo", "laom")), ratio]
    for field in extra:
        cells.append(" / ".join(f"{v:.3f}" if v is not None else "–" for v in (num("lapo", field), num("laom", field))))
    return cells


def scale_table(report: dict) -> list[list[str]]:
    """Probe MSE of LAPO and LAOM (distractors, seed 0) at 1x and k x the preset's LAM updates."""
    rows = report["runs"]
    out = [["task", "LAM updates", "LAPO probe MSE", "LAOM probe MSE", "LAPO / LAOM"]]
    try:
        updates = load_config(report["preset"], "laom")[0].lapo.total_updates
    except Exception:  # noqa: BLE001 - an unknown preset only loses the label
        updates = None
    for task in sorted({r["task"] for r in rows}):
        factors = [1] + sorted({r["scale"] for r in rows if r.get("scale") and r["task"] == task})
        for f in factors:
            label = f"{f}x ({f * updates} updates)" if updates else f"{f}x preset"
            out.append([task, label, *_lapo_laom_cells(rows, task, "scale", f, 1)])
    return out


def latent_table(report: dict) -> list[list[str]]:
    """Probe MSE of LAPO and LAOM (distractors, seed 0) at the preset's latent size and the study's."""
    rows = report["runs"]
    out = [["task", "latent action dim", "LAPO probe MSE", "LAOM probe MSE", "LAPO / LAOM"]]
    try:
        preset_dim = load_config(report["preset"], "laom")[0].lapo.latent_action_dim
    except Exception:  # noqa: BLE001 - an unknown preset only loses the preset's row
        preset_dim = None
    for task in sorted({r["task"] for r in rows}):
        dims = sorted({r["latent_dim"] for r in rows if r.get("latent_dim") and r["task"] == task})
        if not dims:
            continue
        for dim in ([preset_dim] if preset_dim else []) + dims:
            label = f"{dim} (preset)" if dim == preset_dim and dim not in dims else str(dim)
            out.append([task, label, *_lapo_laom_cells(rows, task, "latent_dim", dim, preset_dim)])
    return out


def data_table(report: dict) -> list[list[str]]:
    """Probe MSE of LAPO and LAOM (distractors, seed 0) on 1x and k x the training data."""
    rows = report["runs"]
    out = [["task", "training data (and LAM updates)", "LAPO probe MSE", "LAOM probe MSE", "LAPO / LAOM",
            "common split: probe MSE (LAPO / LAOM)", "chance", "latent -> action R²", "encoder -> state R²"]]
    for task in sorted({r["task"] for r in rows}):
        factors = sorted({r["data_factor"] for r in rows if r.get("data_factor") and r["task"] == task})
        # one fit set and one test set per task: every run's chance (mean-action) MSE is the same
        chance = sorted({f"{r['common_chance_probe_mse']:.3f}" for r in rows
                         if r["task"] == task and _num(r.get("common_chance_probe_mse"))})
        for f in ([1] + factors) if factors else []:
            cells = _lapo_laom_cells(rows, task, "data_factor", f, 1,
                                     extra=("common_probe_mse", "common_r2_action", "common_r2_state"))
            out.append([task, f"{f}x", *cells[:4], " / ".join(chance) or "–", *cells[4:]])
    return out


def data_probe_note(report: dict) -> str:
    """One line per task on the data table's common split (see :func:`add_common_data_probe`)."""
    lines = []
    for task, split in sorted((report.get("data_probe") or {}).items()):
        if "error" in split:
            lines.append(f"{task}: no common split ({split['error']}).")
            continue
        lines.append(f"{task}, common split: ridge probes fitted on {len(split['fit'])} trajectories every run above "
                     f"trained on, scored on trajectories {', '.join(map(str, split['test']))} of "
                     f"`{Path(split['data']).name}`, which none of them saw (`python -m laom_core runs probe`)."
                     + "".join(f" {name}: {err}" for name, err in sorted(split.get("errors", {}).items())))
    return "\n".join(lines)


def probe_note(report: dict) -> str:
    """Which probe the claims and the probe columns read, per task (see :func:`claim_probe`)."""
    rows, lines = report["runs"], []
    for task in sorted({r["task"] for r in rows}):
        where = f"- {task} ({_setting(rows, task) or 'distractors'}): "
        if not any(_num(r.get(FALLBACK_PROBE)) for r in rows if r["task"] == task and r["distractors"]):
            lines.append(where + "no run with distractors has finished yet.")
            continue
        key = claim_probe(rows, task)
        lines.append(where + f"`{key}`, the {PROBE_TITLES[key]}.")
    return "\n".join(lines + ["", "The online probe is the paper's (a linear probe fitted on training batches "
                                   "during training); the clip-unseen probe scores the eval split's clips."])


def markdown_table(table: list[list[str]]) -> str:
    head, *body = table
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- report
def write_report(report: dict, claims: list[dict], out_md: Path, figures_dir: Path) -> None:
    """Write the generated block of ``out_md`` (keeping text outside it) and its SVG figures."""
    figures_dir.mkdir(parents=True, exist_ok=True)
    rows = report["runs"]
    figures = []
    for task in sorted({r["task"] for r in rows}):
        key, groups = claim_probe(rows, task), []
        for m in LAM_METHODS:
            main = max([r["budget"] for r in rows if r["method"] == m and r["budget"]] or [None])
            match = {"method": m, "task": task} | ({"budget": main} if m == "laom-labels" and main else {})
            groups.append((METHOD_TITLES[m], [_mean(_values(rows, key, distractors=True, **match)),
                                              _mean(_values(rows, key, distractors=False, **match))]))
        svg = bar_chart(groups, series=["distractors", "no distractors"], title=f"{task}: {key} MSE",
                        y_label="probe MSE (lower is better)")
        name = f"probe_{task}.svg"
        atomic_write_text(figures_dir / name, svg)
        figures.append((f"{task}: probe MSE", name))
        if task in headline_only_tasks(report):
            continue  # stage-1 runs only: no returns to draw

        budgets = sorted({r["budget"] for r in rows if r["budget"] is not None and r["task"] == task})
        lines = []
        for m in BUDGET_METHODS:
            pts = [(b, _mean(_values(rows, "normalized_return", method=m, task=task, distractors=True, budget=b)))
                   for b in budgets]
            lines.append((METHOD_TITLES[m], [(b, v) for b, v in pts if v is not None]))
        refs = []
        for m in ("bc", "lapo", "laom"):
            v = _mean(_values(rows, "normalized_return", method=m, task=task, distractors=True))
            if v is not None:
                refs.append((METHOD_TITLES[m] + ("" if m == "bc" else f" ({max(budgets) if budgets else '?'} chunks)"), v))
        svg = line_chart(lines, refs, title=f"{task} with distractors: normalized return vs labeled budget",
                         x_label="labeled trajectory chunks (log scale)", y_label="normalized return")
        name = f"returns_{task}.svg"
        atomic_write_text(figures_dir / name, svg)
        figures.append((f"{task}: normalized return vs budget", name))

    rel = figures_dir.relative_to(out_md.parent) if figures_dir.is_relative_to(out_md.parent) else figures_dir
    finished = sum(r["status"] == "finished" for r in rows)
    norm = "; ".join(f"{k.replace('|', ', ')}: {v['divisor']:.1f} ({v['source']})"
                     for k, v in report["normalizers"].items() if v["divisor"])
    train_sizes = sorted({(r["dataset"]["train"] or {}).get("steps") for r in rows} - {None})
    parts = [
        f"Generated by `python bench/reproduce.py` from `bench/results/reproduce.json` on {report['created']} "
        f"(commit `{(report.get('commit') or 'unknown')[:10]}`, preset `{report['preset']}`). "
        f"{finished} of {len(rows)} planned runs finished; numbers are means ± std over the seeds that finished.",
        "",
        f"Datasets: {', '.join(map(str, train_sizes))} unlabeled training steps per setting; labeled budgets in "
        f"chunks of {report['plan'].get('smoke') and 10 or 100} steps. Normalized return divisors: {norm or 'none yet'}.",
        "",
        "## Claims",
        "",
        markdown_table([["#", "task", "setting", "claim", "result", "numbers"]]
                       + [[str(c["claim"]), c["task"], c.get("setting") or "", c["text"], f"**{c['result']}**",
                           c["detail"]] for c in claims]),
        "",
        "## Probe MSE (held-out linear probe from the latent action to the true action)",
        "",
        probe_note(report),
        "",
        markdown_table(probe_table(report)),
        "",
        "## Normalized return with distractors",
        "",
        markdown_table(return_table(report)),
        "",
        "## Ablation: from LAPO to LAOM, probe MSE with distractors (seed 0)",
        "",
        markdown_table(ablation_table(report)),
        "",
        "## Scale: LAPO and LAOM with more LAM updates (distractors, seed 0, stage 1 only)",
        "",
        markdown_table(scale_table(report)),
        "",
        "## Latent size: LAPO and LAOM with the paper's latent action dimension (distractors, seed 0, stage 1 only)",
        "",
        markdown_table(latent_table(report)),
        "",
        "## Data: LAPO and LAOM on a larger training set, same passes over it (distractors, seed 0, stage 1 only)",
        "",
        markdown_table(data_table(report)),
        "",
        data_probe_note(report),
        "",
        "## Figures",
        "",
    ] + [f"![{title}]({rel / name})\n" for title, name in figures]
    write_generated_block(out_md, "\n".join(parts), BEGIN, END,
                          "# Reproducing the paper at CPU scale\n\n{generated}\n\n## Investigation\n\n"
                          "(written by hand, kept when the script regenerates the part above)\n")


def progress(report: dict) -> dict[str, int]:
    """Counts of planned runs per status."""
    counts: dict[str, int] = {}
    for r in report["runs"]:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return counts
