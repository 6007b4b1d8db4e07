"""Supervision budgets: probe MSE and normalized return against labeled steps (chunks x C), per method."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from laom_core.analysis.aggregate import (aggregate, average_over, checked_normalized_returns,
                                          labeled_file_steps, paper_reference)
from laom_core.errors import LaomError
from laom_core.methods import BUDGET_METHODS
from laom_core.rundir import RunDir, load_leakage, load_summary
from laom_core.viz.budgets import budget_figure, short_number
from pages import common

common.page_header("Supervision budgets",
                   "How much do a few action labels help? A labeled budget is K chunks of C consecutive steps "
                   "with their true actions; the x-axis counts labeled steps (K × C). Each point is the mean over "
                   "seeds of finished runs (band: ± std). Methods that use no labels draw a dashed line.")

try:
    runs = common.list_runs(status="finished")
except LaomError as exc:
    st.error(f"Run store: {exc}")
    st.stop()


@st.cache_data(show_spinner=False, max_entries=4096)
def _summary(path: str, mtime: float) -> dict:
    return load_summary(Path(path).parent) or {}


@st.cache_data(show_spinner=False, max_entries=1024)
def _labeled_steps(path: str, mtime: float) -> dict | None:
    return labeled_file_steps(path)


def labeled_steps_of(run: dict) -> dict | None:
    """Chunks, steps and chunk length of the labeled file the run trained with (None: unknown)."""
    path = (run.get("datasets") or {}).get("labeled_data")
    if not path:
        return None
    try:
        return _labeled_steps(str(path), Path(path).stat().st_mtime)
    except OSError:
        return None


rows = []
unplaced: list[str] = []  # runs with a labeled budget whose labeled file (hence its steps) is gone
for r in runs:
    folder = common.run_dir(r)
    if folder is None:
        continue
    path = RunDir(folder).summary
    try:
        s = _summary(str(path), path.stat().st_mtime)
    except OSError:
        continue
    budget = r.get("labeled_budget") if r.get("method") in BUDGET_METHODS else None
    if r.get("method") == "bc" and r.get("labeled_budget"):
        budget = r.get("labeled_budget")
    steps = chunk = None
    if budget:
        found = labeled_steps_of(r)
        if found is None:
            unplaced.append(r.get("name") or r["id"])
            continue
        steps, chunk = found["steps"], found["chunk_steps"]
    difficulty = s.get("eval_difficulty") or s.get("difficulty")
    leakage = ((load_leakage(folder) or {}).get("figures") or {}).get("leakage")
    rows.append({"id": r["id"], "method": r.get("method"), "task": s.get("task") or r.get("task"),
                 "labeled_budget": budget, "labeled_steps": steps, "chunk_steps": chunk,
                 "seed": r.get("seed"), "difficulty": difficulty,
                 "distractors": difficulty not in (None, "vanilla"),
                 "probe_mse": s.get("probe_mse"), "normalized_return": s.get("normalized_return"),
                 "eval_return_mean": s.get("eval_return_mean"), "leakage": leakage})

if not rows:
    st.info("No finished runs with results yet. Launch a sweep over labeled budgets on **Train**, e.g. LAOM, "
            "LAOM+supervision and IDM at 2, 8 and 32 labeled trajectories with 3 seeds.")

ref = paper_reference()
tasks = sorted({str(r["task"]) for r in rows})
c1, c2, c3 = st.columns([2, 2, 2])
scope = c1.selectbox("Task", ["average over tasks"] + tasks, key="bd_task")
setting = c2.radio("Setting", ["with distractors", "without distractors"], horizontal=True, key="bd_setting")
overlay = c3.toggle("Paper reference overlay", value=True, key="bd_overlay")
want = setting == "with distractors"
selected = [r for r in rows if r["distractors"] == want and (scope.startswith("average") or r["task"] == scope)]
# One divisor per task for every run shown, by the one rule (laom_core.metrics): the mean of our
# BC runs in this setting, else the paper's BC (a run's own stored figure depends on whether a BC
# run had finished when it was evaluated). A divisor that is noise normalizes nothing: flagged.
selected, norm_problems = checked_normalized_returns(selected, distractors=want)
X_TITLE = "labeled steps (chunks × steps per chunk, log)"
PAPER_STEPS = ref["normalized_return_at_128"]["labeled_trajectories"] * ref["dataset"]["steps_per_trajectory"]


def entries_for(metric: str) -> list[dict]:
    per_task = aggregate(selected, metric, by=("task", "method", "labeled_steps"))
    if scope.startswith("average"):
        return average_over(per_task, "task", by=("method", "labeled_steps"))
    return per_task


left, right = st.columns(2)
with left:
    probe_entries = entries_for("probe_mse")
    lines = {}
    if overlay:
        key = "distractors" if want else "no_distractors"
        lines = ref["probe_mse_median"].get(key, {})
    fig = budget_figure(probe_entries, metric_label="probe MSE, all held-out trajectories", title="Probe MSE (latent → action)",
                        reference_lines=lines, log_y=True, x_key="labeled_steps", x_title=X_TITLE,
                        x_unit="labeled steps")
    st.plotly_chart(fig, width="stretch", key="bd_probe")
    if overlay:
        st.caption("Dotted: the paper's median probe MSE over its tasks (its scale, not ours: our CPU presets use "
                   "far smaller models and datasets; compare the ordering).")
with right:
    ret_entries = entries_for("normalized_return")
    stars = {}
    if overlay and want:
        stars = {k: v for k, v in ref["normalized_return_at_128"]["distractors_mean_of_4_tasks"].items()}
    fig = budget_figure(ret_entries, metric_label="normalized return", title="Normalized return (return / BC's)",
                        reference=stars, reference_budget=PAPER_STEPS, x_key="labeled_steps", x_title=X_TITLE,
                        x_unit="labeled steps")
    st.plotly_chart(fig, width="stretch", key="bd_return")
    st.caption("Normalized by our own BC run on the full labeled data for the same task and difficulty when there is "
               "one, else by the run's recorded reference (the paper's BC return). Stars: the paper's mean over 4 "
               f"tasks at 128 trajectories × 1000 steps = {PAPER_STEPS:,} labeled steps.")
    for problem in norm_problems.values():
        st.warning(f"Normalized return not plotted for {problem}.", icon=":material/warning:")

if any(r.get("labeled_steps") for r in selected):
    st.caption("Budgets here: " + ", ".join(
        f"{short_number(steps)} labeled steps = {k} chunks × {c} steps"
        for k, c, steps in sorted({(r["labeled_budget"], r["chunk_steps"], r["labeled_steps"])
                                   for r in selected if r.get("labeled_steps")}, key=lambda t: t[2])))
if unplaced:
    st.info(f"{len(unplaced)} finished run(s) with a labeled budget are left out: their labeled file is gone, so "
            f"how many labeled steps they had is unknown ({', '.join(unplaced[:5])}"
            f"{', …' if len(unplaced) > 5 else ''}).")

if selected:
    st.subheader("Numbers")
    by = ("task", "method", "labeled_budget", "labeled_steps")
    probe_agg = {tuple(e[k] for k in by): e for e in aggregate(selected, "probe_mse", by=by)}
    ret_agg = {tuple(e[k] for k in by): e for e in aggregate(selected, "normalized_return", by=by)}
    raw_agg = {tuple(e[k] for k in by): e for e in aggregate(selected, "eval_return_mean", by=by)}
    leak_agg = {tuple(e[k] for k in by): e for e in aggregate(selected, "leakage", by=by)}
    table = []
    for key in sorted(set(probe_agg) | set(ret_agg) | set(raw_agg), key=lambda k: (str(k[0]), str(k[1]), k[3] or 0)):
        p, r, raw = probe_agg.get(key), ret_agg.get(key), raw_agg.get(key)
        chunk = key[3] // key[2] if key[2] and key[3] else None
        table.append({"task": key[0], "method": common.method_label(key[1]),
                      "labeled chunks": str(key[2] or ""), "steps per chunk": str(chunk or ""),
                      "labeled steps": f"{key[3]:,}" if key[3] else "",
                      "probe MSE (all held-out)": f"{p['mean']:.4g} ± {p['std']:.2g}" if p else "–",
                      "normalized return": (f"{r['mean']:.3f} ± {r['std']:.2g}" if r else
                                            "not shown: BC reference is noise" if key[0] in norm_problems else "–"),
                      "return": f"{raw['mean']:.1f} ± {raw['std']:.1f}" if raw else "–",
                      "distractor leakage": (f"{leak_agg[key]['mean']:.2f} ± {leak_agg[key]['std']:.2g}"
                                             if key in leak_agg else "–"),
                      "seeds": max(x["n"] for x in (p, r, raw) if x)})
    st.dataframe(table, hide_index=True, width="stretch")
elif rows:
    st.info(f"No finished runs {setting} for this choice.")
