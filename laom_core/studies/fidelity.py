"""The fidelity study: in which distractor setting does the LAPO-vs-LAOM gap show at CPU scale?

Twins of one cheetah-run collection (same expert, same seeds, so the same physical
episodes) in four settings, from no distractor to the paper's:

    V      vanilla: no distractor
    D1     a background video from 4 training clips; no camera shake, no colour change
    D2     D1 plus camera shake at the DCS speed and colour change, scale 0.1 ("easy")
    SEVH   the paper's scale_easy_video_hard: scale 0.1, all 60 training clips (floor reference)

LAPO and LAOM stage 1 run on each (``run.stop_after=lam``, ``updates`` LAM updates, seeds in
order: every setting's seed 0 first, so a first reading comes early), and on the first seed
the :data:`VARIANTS` (LAOM with the authors' augmentation: independent strong views, which
the small preset replaces by one shared mild view, on every distracted setting; LAPO with the
U-Net forward model it had before the fix, on D1; LAPO and LAOM with three times the updates,
on D1) and :data:`SPLITS` (D2's two additions to D1, one at a time). LAOM+supervision and
the IDM baseline then run at the labeled budgets on one distracted setting: the one where the
seed-0 LAPO/LAOM gap is largest once known (``supervision_setting`` to choose it yourself).
The report adds what each first-seed latent carries (the leakage probes) and how much of the
frame-to-frame change is the agent's in each setting (:mod:`laom_core.analysis.frame_change`).

Claims are checked per setting on ``probe_clip_seen`` (ridge fitted on training
trajectories, scored on held-out trajectories whose clips play in training), with
``probe_online`` (the paper's) and ``probe_clip_unseen`` (eval clips) beside it:

1. with distractors, LAOM's probe MSE is at most half of LAPO's;
2. without distractors the LAPO/LAOM gap is much smaller (log ratio at most half);
3. (stage 1) LAOM+supervision's probe beats LAOM's and LAPO's at every budget;
4. (stage 1) IDM's probe worsens more than LAOM+supervision's from the largest budget to
   the smallest. Returns are not part of this study (stages 2-3 are not run).

Everything is resumable: files are skipped when present, runs are queued with client tokens
and resumed when a session's end killed them. ``bench/fidelity_study.py`` is the command.
"""
from __future__ import annotations

import dataclasses
import math
import subprocess
from pathlib import Path
from typing import Any, NamedTuple
from laom_core.runs import launcher
from laom_core.runs.store import RunStore
from laom_core.studies import demo
from laom_core.studies.demo import finished_run_summary
from laom_core.training.methods import NAMED_PROBE_KEYS
from laom_core.studies.reproduction import PROBE_FIELDS as REPRO_PROBE_FIELDS
from laom_core.studies.reproduction import (CLAIM_PROBE, _commit, _NoStatus, matching_values,
                                            resume_interrupted, run_leakage_figures, seed_paired_means,
                                            seeds_note)
from laom_core.studies.reproduction import mean_or_none as _mean

REPO = Path(__file__).resolve().parents[2]

# name -> (difficulty preset, env overrides on top of it, description)
SETTINGS: dict[str, tuple[str, dict, str]] = {
    "V": ("vanilla", {}, "no distractor"),
    "D1": ("easy", {"camera_scale": 0.0, "color_scale": 0.0}, "background video, 4 training clips"),
    "D2": ("easy", {}, "D1 + camera shake (DCS speed) + colour, scale 0.1"),
    "SEVH": ("scale_easy_video_hard", {}, "the paper's setting: scale 0.1, all 60 clips"),
    "D1cam": ("easy", {"color_scale": 0.0}, "D1 + camera shake (DCS speed) only: D2 without colour"),
    "D1col": ("easy", {"camera_scale": 0.0}, "D1 + colour change only: D2 without camera shake"),
}
DISTRACTED = ("D1", "D2", "SEVH")  # the settings the claims are checked on
# D2 taken apart: its two additions to D1 one at a time (LAPO and LAOM, first seed, no claims),
# to say which of them moves the gap. Planned when D1 and D2 both are.
SPLITS = ("D1cam", "D1col")


class Variant(NamedTuple):
    """Stage-1 runs next to the main rows (first seed): does one choice move the gap?"""
    methods: tuple[str, ...]
    sets: list[str]  # --set overrides on the preset
    settings: tuple[str, ...]  # the settings it runs on
    what: str  # what it changes, for the report
    updates_factor: int = 1  # LAM updates: this times the plan's


VARIANTS: dict[str, Variant] = {
    "authors-aug": Variant(("laom",), ["lapo.aug_views=independent", "lapo.aug_shift_pad=14",
                                    "lapo.aug_max_rotation_deg=90", "lapo.aug_perspective_distortion=0.5",
                                    "lapo.aug_perspective_pad=30"], DISTRACTED,
                           "the authors' augmentation (independent strong views) instead of the small preset's "
                           "shared mild view"),
    "unet-fdm": Variant(("lapo",), ["lapo.fdm_arch=unet"], ("D1",),
                        "LAPO's forward model as a U-Net with skips (ours before the fix) instead of the authors' "
                        "encoder-decoder"),
    "3x-updates": Variant(("lapo", "laom"), [], ("D1",),
                          "three times the LAM updates (the same schedule, stretched), to see whether the gap "
                          "grows with training", updates_factor=3),
}
# docs/fidelity.md: the study rewrites the text between these; the analysis around them is hand-written
MD_BEGIN = "<!-- fidelity_study.py: generated, do not edit -->"
MD_END = "<!-- fidelity_study.py: end of generated part -->"
PROBE_FIELDS = (*REPRO_PROBE_FIELDS, "probe_mse", "fdm_z_gain")  # copied into every row
# what the latent action carries (held-out linear probes of artifacts/leakage.json)
LATENT_FIELDS = ("r2_action", "r2_background_step", "r2_camera_delta", "r2_color_delta", "clip_score", "leakage")


@dataclasses.dataclass(frozen=True)
class FidelityPlan:
    task: str = "cheetah-run"
    settings: tuple[str, ...] = ("V", "D1", "D2", "SEVH")
    episodes: int = 160
    steps: int = 250
    eval_episodes: int = 8
    seeds: tuple[int, ...] = (0, 1, 2)
    updates: int = 4000
    budgets: tuple[int, ...] = (2, 8, 32)  # labeled whole trajectories (chunks of ``steps``)
    preset: str = "cpu-small"
    supervision_setting: str | None = None  # None: the distracted setting with the largest seed-0 gap
    workers: int = 2
    smoke: bool = False

    @property
    def splits(self) -> tuple[str, ...]:
        """The :data:`SPLITS` this plan runs: those of D2, when D1 and D2 are both planned."""
        return SPLITS if {"D1", "D2"} <= set(self.settings) else ()

    @property
    def all_settings(self) -> tuple[str, ...]:
        return tuple(self.settings) + self.splits

    def data_plan(self, setting: str):
        """The demo's dataset plan for one setting (own file names, fast render)."""
        difficulty, overrides, _ = SETTINGS[setting]
        return dataclasses.replace(
            demo.make_plan(self.smoke), name=f"fidelity-{setting}", task=self.task, difficulty=difficulty,
            train_episodes=self.episodes, eval_episodes=self.eval_episodes, steps=self.steps,
            chunk_size=self.steps, budgets=tuple(self.budgets), sweep_budgets=tuple(self.budgets),
            preset=self.preset, workers=self.workers, env_overrides={"fast_render": True, **overrides})


def smoke_plan() -> FidelityPlan:
    return FidelityPlan(episodes=6, steps=30, eval_episodes=2, seeds=(0,), updates=8, budgets=(2, 4),
                        preset="smoke", workers=1, smoke=True)


def build_datasets(plan: FidelityPlan) -> list[Path]:
    """Clips, train and eval sets per setting, labeled subsets of the distracted ones."""
    status, made = _NoStatus(), []
    for i, setting in enumerate(plan.all_settings):
        dp = plan.data_plan(setting)
        if i == 0:
            demo._step_clips(dp, status)
        demo._collect(dp, status, "collect-train", "train", dp.train_episodes, dp.train_path)
        demo._collect(dp, status, "collect-eval", "eval", dp.eval_episodes, dp.eval_path)
        made += [dp.train_path, dp.eval_path]
        if setting in DISTRACTED:
            demo._step_subsets(dp, status)
            made += [dp.labeled_path(b) for b in plan.budgets]
    return made


def _request(plan: FidelityPlan, setting: str, method: str, seed: int, budget: int | None = None,
             variant: str | None = None) -> dict:
    dp = plan.data_plan(setting)
    stop = "idm" if method == "idm" else "lam"
    updates = plan.updates * (VARIANTS[variant].updates_factor if variant is not None else 1)
    sets = [f"seed={seed}", f"run.stop_after={stop}"]
    sets.append(f"idm.total_updates={updates}" if method == "idm" else f"lapo.total_updates={updates}")
    if variant is not None:
        sets += VARIANTS[variant].sets
    name = (f"fidelity_{setting}_{method}" + (f"-{variant}" if variant else "")
            + (f"_{budget}" if budget is not None else "") + f"_s{seed}")
    return {"name": name, "method": method, "task": plan.task, "preset": plan.preset, "data": str(dp.train_path),
            "labeled_data": str(dp.labeled_path(budget)) if budget is not None else None,
            "eval_data": str(dp.eval_path), "labeled_budget": budget, "group": f"fidelity_{plan.task}",
            "seed": seed, "sets": sets, "setting": setting, "variant": variant, "token": f"fidelity:{name}",
            "tags": ["fidelity"]}


def run_requests(plan: FidelityPlan, supervision_setting: str | None) -> list[dict]:
    """LAPO and LAOM per setting and seed (seed-major; the variants and D2's splits on the first
    seed), then the supervision runs."""
    out = [_request(plan, s, m, seed) for seed in plan.seeds[:1] for s in plan.settings for m in ("lapo", "laom")]
    out += [_request(plan, s, m, plan.seeds[0], variant=v) for v, spec in VARIANTS.items()
            for s in plan.settings if s in spec.settings for m in spec.methods]
    out += [_request(plan, s, m, plan.seeds[0]) for s in plan.splits for m in ("lapo", "laom")]
    out += [_request(plan, s, m, seed) for seed in plan.seeds[1:] for s in plan.settings for m in ("lapo", "laom")]
    if supervision_setting is not None:
        out += [_request(plan, supervision_setting, m, seed, b) for seed in plan.seeds
                for b in sorted(plan.budgets, reverse=True) for m in ("laom-labels", "idm")]
    return out


def choose_supervision_setting(plan: FidelityPlan, rows: list[dict]) -> str | None:
    """The plan's choice, else the distracted setting with the largest LAPO/LAOM ratio of the
    claim probe (over paired seeds, as claim 1 reads it), once every planned distracted setting
    has both methods finished on a common seed (None until then: choosing on the first
    finished setting would lock the supervision runs in before the others could compete)."""
    if plan.supervision_setting:
        return plan.supervision_setting
    ratios = {}
    for setting in [s for s in plan.settings if s in DISTRACTED]:
        lapo, laom, _ = paired_means(rows, CLAIM_PROBE, setting)
        if lapo is None or not laom:
            return None
        ratios[setting] = lapo / laom
    return max(ratios, key=ratios.get) if ratios else None


def queue(plan: FidelityPlan, max_runs: int | None = None) -> list[dict]:
    """Queue every run that can be planned now (idempotent); resume killed ones."""
    if max_runs is not None:
        launcher.set_max_concurrent(max_runs)
    setting = choose_supervision_setting(plan, collect_rows(plan, run_requests(plan, None)))
    requests = run_requests(plan, setting)
    for r, q in zip(requests, demo.queue_runs(requests, tag="fidelity", token_prefix="fidelity")):
        r["run_id"] = q["run_id"]
    resume_interrupted([r["run_id"] for r in requests])
    return requests


def collect_rows(plan: FidelityPlan, requests: list[dict]) -> list[dict]:
    """One row per request: its setting, method, seed, budget, status and probe figures."""
    with RunStore() as store:
        by_name = {run["name"]: run for run in store.list_runs()}  # the latest run of a name wins
    rows = []
    for r in requests:
        run = by_name.get(r["name"])
        summary = finished_run_summary(run) if run is not None else {}
        row = {"setting": r["setting"], "method": r["method"], "variant": r["variant"], "seed": r["seed"],
               "budget": r["labeled_budget"],
               "name": r["name"], "run_id": run["id"] if run is not None else None,
               "status": run["status"] if run is not None else "not queued"}
        row.update({key: summary.get(key) for key in PROBE_FIELDS})
        row.update(run_leakage_figures(run if summary else None, LATENT_FIELDS))
        rows.append(row)
    return rows


def frame_change(plan: FidelityPlan) -> dict[str, dict[str, float | None]]:
    """Per setting whose training file exists: the frame-change energy and the agent's share of
    it against the V twin (:mod:`laom_core.analysis.frame_change`)."""
    from laom_core.analysis.frame_change import frame_change_energy, twin_agent_share

    vanilla = plan.data_plan("V").train_path
    out = {}
    for setting in plan.all_settings:
        path = plan.data_plan(setting).train_path
        if path.exists():
            out[setting] = {"energy": frame_change_energy(path),
                            "agent_share": twin_agent_share(vanilla, path) if vanilla.exists() else None}
    return out


def _values(rows: list[dict], key: str, **match: Any) -> list[float]:
    """``key`` of the finished rows matching ``match`` (main rows only unless ``variant`` is given)."""
    match.setdefault("variant", None)
    return matching_values(rows, key, **match)


def paired_means(rows: list[dict], key: str, setting: str) -> tuple[float | None, float | None, int]:
    """LAPO's and LAOM's mean ``key`` on ``setting`` over the seeds where both finished (main
    rows), and how many (:func:`~laom_core.studies.reproduction.seed_paired_means`)."""
    means, n = seed_paired_means(rows, [key], {m: dict(setting=setting, method=m, budget=None, variant=None)
                                               for m in ("lapo", "laom")})
    if means is None:
        return None, None, 0
    return means[("lapo", key)], means[("laom", key)], n


def check_claims(rows: list[dict], supervision_setting: str | None) -> list[dict]:
    """PASS / FAIL / PENDING per claim and setting, with the numbers (see the module doc)."""
    claims = []
    v_lapo, v_laom, _ = paired_means(rows, CLAIM_PROBE, "V")
    for setting in [s for s in DISTRACTED if any(r["setting"] == s for r in rows)]:
        lapo, laom, n = paired_means(rows, CLAIM_PROBE, setting)
        if lapo is None or laom is None:
            claims.append(_claim(1, setting, "PENDING", "needs finished LAPO and LAOM runs"))
            claims.append(_claim(2, setting, "PENDING", "needs finished LAPO and LAOM runs"))
            continue
        ratio = lapo / laom if laom > 0 else math.inf
        seeds = seeds_note(n)
        claims.append(_claim(1, setting, "PASS" if laom <= 0.5 * lapo else "FAIL",
                             f"{CLAIM_PROBE} LAPO {lapo:.4f} / LAOM {laom:.4f} = {ratio:.2f}x (needs >= 2x; "
                             f"paper 8x){seeds}"))
        if v_lapo is None or not v_laom:
            claims.append(_claim(2, setting, "PENDING", "needs LAPO and LAOM on V"))
        else:
            r_v = v_lapo / v_laom
            ok = ratio > 1 and math.log(max(r_v, 1e-9)) <= 0.5 * math.log(ratio)
            claims.append(_claim(2, setting, "PASS" if ok else "FAIL",
                                 f"LAPO/LAOM {ratio:.2f}x here, {r_v:.2f}x on V (needs > 1 here and log ratio on V "
                                 "<= half of the log ratio here)"))
    if supervision_setting is None:
        claims.append(_claim(3, "-", "PENDING", "waits for the first LAPO/LAOM results to choose a setting"))
        return claims
    s = supervision_setting
    budgets = sorted({r["budget"] for r in rows if r["budget"] is not None})

    def cell(method: str, budget: int | None = None) -> dict:
        return dict(setting=s, method=method, budget=budget, variant=None)

    details, ok, pending = [], True, False
    for b in budgets:  # each budget over the seeds where LAOM+supervision, LAOM and LAPO all finished
        m, n = seed_paired_means(rows, [CLAIM_PROBE], {"sup": cell("laom-labels", b), "laom": cell("laom"),
                                                       "lapo": cell("lapo")})
        if m is None:
            pending = True
            continue
        sup, laom, lapo = (m[(name, CLAIM_PROBE)] for name in ("sup", "laom", "lapo"))
        good = sup < laom and sup < lapo
        ok &= good
        details.append(f"budget {b}: {sup:.4f} vs LAOM {laom:.4f}, LAPO {lapo:.4f}{seeds_note(n)}"
                       + ("" if good else " (fails)"))
    claims.append(_claim(3, s, "PENDING" if pending and ok else ("PASS" if ok else "FAIL"),
                         "; ".join(details) or "needs LAOM+supervision, LAOM and LAPO runs"))
    if len(budgets) >= 2:
        hi, lo = max(budgets), min(budgets)
        vals, n = seed_paired_means(rows, [CLAIM_PROBE], {(mth, b): cell(mth, b) for mth in ("idm", "laom-labels")
                                                          for b in (hi, lo)})
        if vals is None:
            claims.append(_claim(4, s, "PENDING", f"needs IDM and LAOM+supervision at budgets {hi} and {lo}"))
        else:
            rise_idm = vals[(("idm", lo), CLAIM_PROBE)] - vals[(("idm", hi), CLAIM_PROBE)]
            rise_sup = vals[(("laom-labels", lo), CLAIM_PROBE)] - vals[(("laom-labels", hi), CLAIM_PROBE)]
            claims.append(_claim(4, s, "PASS" if rise_idm > rise_sup else "FAIL",
                                 f"{CLAIM_PROBE} rise from budget {hi} to {lo}: IDM {rise_idm:+.4f}, "
                                 f"LAOM+supervision {rise_sup:+.4f}{seeds_note(n)}"))
    return claims


CLAIM_TEXT = {
    1: "With distractors, LAOM's clip-seen probe MSE is at most half of LAPO's",
    2: "Without distractors the LAPO-LAOM gap is much smaller than with them",
    3: "LAOM+supervision's probe beats LAOM's and LAPO's at every budget (stage 1)",
    4: "IDM's probe worsens more than LAOM+supervision's as the budget shrinks (stage 1)",
}


def _claim(number: int, setting: str, state: str, detail: str) -> dict:
    return {"claim": number, "setting": setting, "text": CLAIM_TEXT[number], "result": state, "detail": detail}


def commit() -> str | None:
    """The commit of the code this study runs (its worktree's HEAD), marked when tracked files differ."""
    head = _commit()
    try:
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        dirty = ""
    return head and head + ("-dirty" if dirty else "")


def report(plan: FidelityPlan) -> dict:
    """Rows, the chosen supervision setting, claims and the code's commit."""
    rows = collect_rows(plan, run_requests(plan, None))
    setting = choose_supervision_setting(plan, rows)
    rows = collect_rows(plan, run_requests(plan, setting))
    return {"plan": dataclasses.asdict(plan), "commit": commit(), "supervision_setting": setting,
            "settings": {k: {"difficulty": SETTINGS[k][0], "overrides": SETTINGS[k][1],
                             "description": SETTINGS[k][2], "split": k in SPLITS} for k in plan.all_settings},
            "frame_change": frame_change(plan),
            "claim_probe": CLAIM_PROBE, "runs": rows, "claims": check_claims(rows, setting),
            "progress": {s: sum(r["status"] == s for r in rows) for s in sorted({r["status"] for r in rows})}}


def markdown(rep: dict) -> str:
    """The study's section for docs: the probe table per setting and the claims."""
    rows = rep["runs"]
    lines = [f"Code: commit `{rep['commit']}`. Claim probe: `{rep['claim_probe']}` (LAPO and LAOM: means over the "
             "seeds where both finished; `probe_online` and `probe_clip_unseen` beside it). Runs: "
             + ", ".join(f"{k} {v}" for k, v in rep["progress"].items()) + ".", "",
             "| setting | what | LAPO clip-seen | LAOM clip-seen | LAPO/LAOM | LAPO online | LAOM online "
             "| LAPO clip-unseen | LAOM clip-unseen | chance | seeds |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for setting, spec in rep["settings"].items():
        cells = {}
        for key in NAMED_PROBE_KEYS:
            cells[("lapo", key)], cells[("laom", key)], _ = paired_means(rows, key, setting)
        n = paired_means(rows, CLAIM_PROBE, setting)[2]
        chance = _mean(_values(rows, "chance_clip_seen", setting=setting, budget=None))
        lapo, laom = cells[("lapo", "probe_clip_seen")], cells[("laom", "probe_clip_seen")]
        ratio = f"{lapo / laom:.2f}x" if lapo is not None and laom else "-"
        fmt = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
        lines.append(f"| {setting} | {spec['description']} | {fmt(lapo)} | {fmt(laom)} | {ratio} | "
                     f"{fmt(cells[('lapo', 'probe_online')])} | {fmt(cells[('laom', 'probe_online')])} | "
                     f"{fmt(cells[('lapo', 'probe_clip_unseen')])} | {fmt(cells[('laom', 'probe_clip_unseen')])} | "
                     f"{fmt(chance)} | {n} |")
    variant_rows = [(v, s, m) for v, spec in VARIANTS.items() for s in rep["settings"] if s in spec.settings
                    for m in spec.methods]
    if variant_rows:
        lines += ["", "Variants (first seed): the main row's method with one choice changed.", ""]
        lines += [f"- `{v}` ({', '.join(spec.methods)}): {spec.what}." for v, spec in VARIANTS.items()]
        lines += ["", "| variant | setting | clip-seen | online | clip-unseen | main row's clip-seen (same seed) |",
                  "|---|---|---|---|---|---|"]
        for v, s, method in variant_rows:
            cell = {k: _mean(_values(rows, k, setting=s, method=method, budget=None, variant=v))
                    for k in ("probe_clip_seen", "probe_online", "probe_clip_unseen")}
            seed = rep["plan"]["seeds"][0]
            main = _mean(_values(rows, "probe_clip_seen", setting=s, method=method, budget=None, seed=seed))
            fmt = lambda x: "-" if x is None else f"{x:.4f}"  # noqa: E731
            lines.append(f"| {method} {v} | {s} | {fmt(cell['probe_clip_seen'])} | {fmt(cell['probe_online'])} | "
                         f"{fmt(cell['probe_clip_unseen'])} | {fmt(main)} |")
    lines += latent_table(rep)
    lines += ["", "| claim | setting | result | detail |", "|---|---|---|---|"]
    lines += [f"| {c['claim']}. {c['text']} | {c['setting']} | {c['result']} | {c['detail']} |" for c in rep["claims"]]
    return "\n".join(lines) + "\n"


def latent_table(rep: dict) -> list[str]:
    """Markdown lines: per setting, the agent's share of frame change and what each first-seed
    stage-1 latent carries (held-out linear probes; no lines before a run has finished)."""
    seed = rep["plan"]["seeds"][0]
    share = {k: v.get("agent_share") for k, v in (rep.get("frame_change") or {}).items()}
    found = [r for r in rep["runs"] if r["seed"] == seed and r["budget"] is None and r["status"] == "finished"
             and r.get("r2_action") is not None]
    if not found:
        return []
    order = list(rep["settings"])
    found.sort(key=lambda r: (order.index(r["setting"]) if r["setting"] in order else len(order),
                              r["variant"] or "", r["method"] != "lapo"))
    fmt = lambda v, d=3: "-" if v is None else f"{v:.{d}f}"  # noqa: E731
    lines = ["", f"What the latent action carries (seed {seed}; held-out linear probes of `artifacts/leakage.json`). "
             "Agent share: the V twin's frame-change energy over this setting's (the part of the change between "
             "two frames that is the agent's; `laom_core/analysis/frame_change.py`).", "",
             "| setting | agent share | run | R2 action | R2 background step | R2 camera change | R2 colour change "
             "| clip score | leakage | FDM z-gain |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in found:
        run = r["method"] + (f" {r['variant']}" if r["variant"] else "")
        lines.append(f"| {r['setting']} | {fmt(share.get(r['setting']), 2)} | {run} | {fmt(r['r2_action'])} | "
                     f"{fmt(r['r2_background_step'])} | {fmt(r['r2_camera_delta'])} | {fmt(r['r2_color_delta'])} | "
                     f"{fmt(r['clip_score'])} | {fmt(r['leakage'])} | {fmt(r['fdm_z_gain'], 2)} |")
    return lines
