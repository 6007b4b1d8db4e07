"""Sweeps: a named group of runs, methods x labeled budgets x seeds x tasks.

A budget is either a number of labeled trajectories, sampled from the labeled source with
:func:`laom_core.data.subsets.make_labeled_subset` (seeded by the run's seed, cached in
``<workspace>/datasets/subsets``), or ``all``: the labeled file as given (e.g. one of the
released 2..128-trajectory files). Every run is queued through the launcher with the
sweep's name as group and as idempotency token, so repeating the same sweep command adds
nothing. Progress and the seed-aggregated results are read back from the store and the
runs' ``summary.json``.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from laom_core.config import check_seed, load_config
from laom_core.data import catalog
from laom_core.data.hdf5 import open_dataset
from laom_core.errors import ConfigError, LaomError, RunError
from laom_core.methods import METHODS
from laom_core.runs.request import TrainRequest, validate_train_request
from laom_core.rundir import load_summary
from laom_core.runs import launcher
from laom_core.runs.store import RunStore
from laom_core.workspace import datasets_dir, resolve_user_path

# Final metrics aggregated per method and budget, with the summary.json keys they may go by.
RESULT_KEYS: dict[str, tuple[str, ...]] = {
    "held_out_probe_mse": ("held_out_probe_mse", "probe_mse"),
    "eval_return_mean": ("eval_return_mean",),
    "normalized_return": ("normalized_return",),
}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,80}$")


@dataclass
class SweepSpec:
    """What a sweep runs. ``data``/``labeled_data``/``eval_data`` may contain ``{task}``."""

    name: str
    methods: list[str]
    budgets: list[int | str]
    seeds: list[int]
    tasks: list[str]
    data: str
    labeled_data: str | None = None
    eval_data: str | None = None
    preset: str = "cpu-small"
    config: str | None = None
    sets: list[str] = field(default_factory=list)
    device: str | None = None
    chunk_size: int | None = None  # steps per sampled labeled trajectory (default: whole, up to 1000)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def cells(self) -> list[dict[str, Any]]:
        """Every (task, method, budget, seed) of the sweep, in launch order."""
        return [{"task": t, "method": m, "budget": b, "seed": s}
                for t in self.tasks for b in self.budgets for m in self.methods for s in self.seeds]


def parse_budgets(text: str | Sequence) -> list[int | str]:
    """``"2,8,all"`` -> ``[2, 8, "all"]``."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out: list[int | str] = []
    for item in items:
        item = str(item).strip()
        if not item:
            continue
        if item.lower() in ("all", "full", "file"):
            out.append("all")
            continue
        try:
            value = int(item)
        except ValueError as exc:
            raise ConfigError(f"labeled budget {item!r} is not a number of trajectories or 'all'") from exc
        if value < 1:
            raise ConfigError(f"labeled budget must be at least 1 trajectory, got {value}")
        out.append(value)
    if not out:
        raise ConfigError("no labeled budgets given")
    return list(dict.fromkeys(out))


def _int_list(text: str | Sequence, what: str) -> list[int]:
    items = text.split(",") if isinstance(text, str) else list(text)
    try:
        out = [int(str(i).strip()) for i in items if str(i).strip()]
    except ValueError as exc:
        raise ConfigError(f"{what} must be integers separated by commas, got {text!r}") from exc
    if not out:
        raise ConfigError(f"no {what} given")
    return list(dict.fromkeys(out))


def _seed_list(text: str | Sequence) -> list[int]:
    return [check_seed(s, "seeds") for s in _int_list(text, "seeds")]


def _str_list(text: str | Sequence) -> list[str]:
    items = text.split(",") if isinstance(text, str) else list(text)
    return list(dict.fromkeys(str(i).strip() for i in items if str(i).strip()))


def make_spec(name: str, methods, budgets, seeds, tasks, data: str, labeled_data: str | None = None,
              eval_data: str | None = None, preset: str = "cpu-small", config: str | None = None,
              sets: Sequence[str] = (), device: str | None = None, chunk_size: int | None = None) -> SweepSpec:
    """Build and check a :class:`SweepSpec` from CLI/page values (comma lists or sequences)."""
    if not name or not _NAME_RE.match(name):
        raise ConfigError(f"sweep name {name!r}: use letters, digits, '-', '_', '.' (up to 81 characters)")
    methods = _str_list(methods)
    for m in methods:
        if m not in METHODS:
            raise ConfigError(f"unknown method {m!r} (choose from {', '.join(METHODS)})")
    if not methods:
        raise ConfigError("no methods given")
    tasks = _str_list(tasks)
    if not tasks:
        raise ConfigError("no tasks given")
    if len(tasks) > 1 and "{task}" not in data:
        raise ConfigError("several tasks need per-task files: put {task} in --data (and --labeled-data)")
    if chunk_size is not None and int(chunk_size) < 2:
        raise ConfigError("--chunk-size must be at least 2 steps")
    spec = SweepSpec(name=name, methods=methods, budgets=parse_budgets(budgets), seeds=_seed_list(seeds),
                     tasks=tasks, data=data, labeled_data=labeled_data, eval_data=eval_data, preset=preset,
                     config=config, sets=list(sets), device=device,
                     chunk_size=int(chunk_size) if chunk_size else None)
    if any(isinstance(b, int) for b in spec.budgets) and not labeled_data:
        raise ConfigError("numeric labeled budgets are sampled from --labeled-data; give it")
    if "all" in spec.budgets and not labeled_data:
        raise ConfigError("budget 'all' uses the --labeled-data file as is; give it")
    return spec


def _file(template: str | None, task: str) -> Path | None:
    if not template:
        return None
    return resolve_user_path(template.replace("{task}", task), must_exist=True, kind="file", base=datasets_dir())


def check_budget(source: Path, budget: int, chunk_size: int | None = None) -> int:
    """Raise unless ``budget`` trajectories of ``chunk_size`` steps can come from ``source``; the chunk size."""
    with open_dataset(source) as ds:
        n, shortest = ds.num_trajectories, int(min(ds.lengths))
    if budget > n:
        raise ConfigError(f"labeled budget {budget} exceeds the {n} trajectories of {source}")
    chunk = int(chunk_size) if chunk_size else min(1000, shortest)
    if chunk > shortest:
        raise ConfigError(f"--chunk-size {chunk} is longer than the shortest trajectory ({shortest} steps) "
                          f"of {source}")
    return chunk


def labeled_subset(source: Path, budget: int, seed: int, chunk_size: int | None = None) -> tuple[Path, int]:
    """The cached subset file (made if missing, named by :mod:`laom_core.data.catalog`) and its chunk size."""
    chunk = check_budget(source, budget, chunk_size)
    return catalog.labeled_subset(source, budget, chunk, seed), chunk


def _cell_request(spec: SweepSpec, cell: dict[str, Any], labeled: Path | None) -> TrainRequest:
    """One cell's checked training request (``labeled``: the file it trains with, if any)."""
    return validate_train_request(
        cell["method"], preset=spec.preset, config_path=spec.config, sets=[*spec.sets, f"seed={cell['seed']}"],
        data=_file(spec.data, cell["task"]), labeled_data=labeled, eval_data=_file(spec.eval_data, cell["task"]),
        device=spec.device)


def _in_cell(exc: LaomError, where: str) -> LaomError:
    """The same kind of error, naming the sweep cell and saying that nothing was queued."""
    return type(exc)(f"sweep cell {where}: {exc}; nothing was queued")


def plan_sweep(spec: SweepSpec) -> list[dict[str, Any]]:
    """Check every cell of ``spec`` and return each one's launch plan; queues nothing.

    First every cell's files, budget and config are checked without writing anything, then
    the labeled subsets are sampled (a cache) and each cell's ``train`` arguments are
    prepared exactly as the launcher will queue them. Any problem raises before a run is
    queued, so a sweep is queued whole or not at all.
    """
    cells = spec.cells()
    config_path = str(resolve_user_path(spec.config, must_exist=True)) if spec.config else None
    for cell in cells:  # cheap checks of the whole plan first
        where = f"{cell['task']}/{cell['method']}/b{cell['budget']}/s{cell['seed']}"
        try:
            _file(spec.data, cell["task"])
            _file(spec.eval_data, cell["task"])
            labeled_src = _file(spec.labeled_data, cell["task"])
            if labeled_src is not None and cell["budget"] != "all":
                check_budget(labeled_src, int(cell["budget"]), spec.chunk_size)
            load_config(spec.preset, cell["method"], config_path, [*spec.sets, f"seed={cell['seed']}"])
        except LaomError as exc:
            raise _in_cell(exc, where) from exc
    plans = []
    for cell in cells:
        task, budget, seed = cell["task"], cell["budget"], cell["seed"]
        where = f"{task}/{cell['method']}/b{budget}/s{seed}"
        try:
            labeled_src = _file(spec.labeled_data, task)
            labeled, n_labeled = None, None
            if labeled_src is not None:
                if budget == "all":
                    labeled = labeled_src
                    with open_dataset(labeled) as ds:
                        n_labeled = ds.num_trajectories
                else:
                    labeled, _ = labeled_subset(labeled_src, int(budget), seed, spec.chunk_size)
                    n_labeled = int(budget)
            plan = launcher.prepare_launch(_cell_request(spec, cell, labeled), labeled_budget=n_labeled, task=task)
        except LaomError as exc:
            raise _in_cell(exc, where) from exc
        plan["name"] = f"{spec.name}/{task}/{cell['method']}/b{budget}/s{seed}"
        plans.append(plan)
    return plans


def create_sweep(spec: SweepSpec, store: RunStore | None = None, start_scheduler: bool = True,
                 progress: Callable[[int, int], None] | None = None, backend: str | None = None,
                 backend_opts: dict | None = None) -> list[str]:
    """Queue every run of ``spec`` (idempotent: existing cells are returned, not repeated).

    The whole plan is checked (:func:`plan_sweep`) before the sweep is saved or any run is
    queued: a plan whose later cells are wrong leaves nothing behind, and its corrected
    version can use the same name.
    """
    own = store is None
    store = store or RunStore()
    try:
        previous = store.get_sweep(spec.name)
        if previous is not None:
            previous.pop("created_at", None)
            if previous != spec.to_dict():
                raise RunError(f"a sweep named {spec.name!r} exists with a different plan; choose another --name")
        plans = plan_sweep(spec)
        store.save_sweep(spec.name, spec.to_dict())
        ids: list[str] = []
        for i, plan in enumerate(plans):
            plan = dict(plan)
            argv, name = plan.pop("argv"), plan.pop("name")
            run_id = launcher.launch_argv(argv, name=name, group=spec.name, tags=[f"sweep:{spec.name}"],
                                          client_token=f"sweep:{spec.name}", store=store, start_scheduler=False,
                                          backend=backend, backend_opts=backend_opts, **plan)  # backend: cluster hook
            ids.append(run_id)
            if progress is not None:
                progress(i + 1, len(plans))
        if start_scheduler:
            launcher.ensure_scheduler(store)
        return ids
    finally:
        if own:
            store.close()


def launch_sweep(name: str, methods, budgets, seeds, data: str, labeled_source: str | None = None,
                 tasks=None, eval_data: str | None = None, preset: str = "cpu-small", config: str | None = None,
                 overrides: Sequence[str] = (), device: str | None = None, chunk_size: int | None = None,
                 store: RunStore | None = None, start_scheduler: bool = True, backend: str | None = None,
                 backend_opts: dict | None = None) -> dict[str, Any]:
    """One call for pages and scripts: check, queue and return ``{"name", "run_ids", "progress"}``.

    ``tasks`` defaults to the task recorded in the data file's attributes.
    """
    if tasks is None:
        tasks = task_of(data)
    spec = make_spec(name, methods, budgets, seeds, tasks, data, labeled_data=labeled_source, eval_data=eval_data,
                     preset=preset, config=config, sets=list(overrides), device=device, chunk_size=chunk_size)
    backend_kw: dict[str, Any] = {}
    if backend and backend != "local":  # cluster backends hook
        from laom_core.runs.backends import check_backend

        backend_kw = {"backend": backend, "backend_opts": check_backend(backend, backend_opts)}
    with _store(store) as s:
        ids = create_sweep(spec, s, start_scheduler=start_scheduler, **backend_kw)
        return {"name": spec.name, "run_ids": ids, "progress": sweep_progress(spec.name, s)}


def task_of(data: str) -> str:
    """The ``domain-task`` of a dataset file (its attributes)."""
    if "{task}" in data:
        raise ConfigError("the data path contains {task}: name the task(s)")
    path = resolve_user_path(data, must_exist=True, kind="file", base=datasets_dir())
    task = launcher._dataset_summary(str(path)).get("task")
    if not task:
        raise ConfigError(f"cannot tell the task of {path} (no domain_name/task_name attributes); name it")
    return task


def sweep_progress(name: str, store: RunStore | None = None) -> dict[str, Any]:
    """``{"total", "done", "finished", "failed", "stopped", "running", "queued"}`` for a sweep."""
    with _store(store) as s:
        spec = s.get_sweep(name)
        runs = s.list_runs(group=name)
    if spec is None and not runs:
        raise RunError(f"no sweep named {name!r}")
    counts = {k: 0 for k in ("finished", "failed", "stopped", "running", "queued")}
    for run in runs:
        counts[run["status"]] += 1
    total = len(SweepSpec(**{k: v for k, v in spec.items() if k != "created_at"}).cells()) if spec else len(runs)
    return {"name": name, "total": total, "done": counts["finished"] + counts["failed"] + counts["stopped"],
            **counts}


def run_results(run: dict, store: RunStore) -> dict[str, float | None]:
    """Final metrics of one run: its summary.json, else the last logged values."""
    out: dict[str, float | None] = {k: None for k in RESULT_KEYS}
    summary = (load_summary(run["run_dir"]) if run.get("run_dir") else None) or {}
    last = None
    for key, aliases in RESULT_KEYS.items():
        for alias in aliases:
            value = summary.get(alias) if isinstance(summary, dict) else None
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                out[key] = float(value)
                break
        if out[key] is None:
            if last is None:
                last = store.last_metrics(run["id"])
            for alias in aliases:
                value = last.get(alias)
                if value is not None and math.isfinite(value):
                    out[key] = float(value)
                    break
    return out


def aggregate_sweep(name: str, store: RunStore | None = None,
                    statuses: Sequence[str] = ("finished",)) -> list[dict[str, Any]]:
    """Mean and std across seeds of each final metric, per task, method and labeled budget.

    One row per (task, method, labeled_budget) with ``n`` (runs counted), ``seeds`` and for
    each metric ``<key>_mean``, ``<key>_std`` (sample std, 0 for a single seed) and
    ``<key>_n`` (runs that reported it). Only runs in ``statuses`` count.
    """
    import numpy as np

    with _store(store) as s:
        runs = [r for r in s.list_runs(group=name) if r["status"] in statuses]
        groups: dict[tuple, list[tuple[dict, dict]]] = {}
        for run in runs:
            key = (run["task"], run["method"], run["labeled_budget"])
            groups.setdefault(key, []).append((run, run_results(run, s)))
    rows = []
    for (task, method, budget), members in sorted(groups.items(), key=lambda kv: (
            str(kv[0][0]), str(kv[0][1]), kv[0][2] if kv[0][2] is not None else -1)):
        row: dict[str, Any] = {"task": task, "method": method, "labeled_budget": budget, "n": len(members),
                               "seeds": sorted(r["seed"] for r, _ in members),
                               "run_ids": [r["id"] for r, _ in members]}
        for key in RESULT_KEYS:
            values = np.array([res[key] for _, res in members if res[key] is not None], dtype=np.float64)
            row[f"{key}_n"] = int(values.size)
            row[f"{key}_mean"] = float(values.mean()) if values.size else None
            row[f"{key}_std"] = float(values.std(ddof=1)) if values.size > 1 else (0.0 if values.size else None)
        rows.append(row)
    return rows


def _store(store: RunStore | None):
    return launcher._store(store)


__all__ = ["SweepSpec", "make_spec", "create_sweep", "launch_sweep", "task_of", "sweep_progress", "aggregate_sweep", "run_results",
           "labeled_subset", "check_budget", "plan_sweep", "parse_budgets", "RESULT_KEYS"]
