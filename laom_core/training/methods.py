"""Methods as lists of stages, and the run that executes them (resumable, stage by stage).

    lapo, laom, laom-labels:  lam -> bc (latent) -> decoder -> eval
    bc:                       bc (true actions) -> eval
    idm:                      idm (labeled) -> bc (pseudo-labels) -> eval

A stage listed in ``stages.json`` as finished is never redone: its ``final.pt`` weights
are loaded for the stages after it. An interrupted stage restarts from its ``last.pt``
under ``--resume``.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import json

from laom_core import rundir
from laom_core.data.hdf5 import open_dataset
from laom_core.data.splits import check_labeled_disjoint, held_out_split, is_training_file
from laom_core.errors import DatasetError
from laom_core.methods import LAM_METHODS, USES_LABELED
from laom_core.training import artifacts
from laom_core.training.bc import build_policy, train_bc, true_actions
from laom_core.training.common import effective_switches, load_final, RunContext, write_stages
from laom_core.training.decoder import build_decoder, train_decoder
from laom_core.training.evaluate import evaluate, LearnedPolicy, reference_return
from laom_core.training.idm import build_idm, train_idm
from laom_core.training.lam import build_lam, fdm_z_usage, train_lam
from laom_core.training.leakage import record_run_leakage
from laom_core.training.stages import planned_stages



# The three probes every LAM run reports (docs/interfaces.md): the paper's online probe on
# training batches, and closed-form probes on held-out episodes with familiar clips and on
# the eval data's unseen clips (laom_core/training/artifacts.py).
NAMED_PROBE_KEYS = ("probe_online", "probe_clip_seen", "probe_clip_unseen")


# ----------------------------------------------------------------------------- data checks
def describe_data(data: Path, labeled: Path | None, eval_data: Path | None, method: str,
                  held_out_fraction: float) -> dict[str, Any]:
    """Dims, task and train/held-out split; refuses datasets that do not belong together.

    The held-out trajectories are the file's own (:mod:`laom_core.data.splits`), the same for
    every seed; a labeled file holding steps of any of them is refused (its labels would leak
    into the held-out probe). When the labeled file is the training file itself, its labels
    are read from the training trajectories only (``labeled_ids``).
    """
    with open_dataset(data) as ds:
        info = {
            "domain_name": ds.attrs.get("domain_name"), "task_name": ds.attrs.get("task_name"),
            "task": ds.task, "difficulty": ds.attrs.get("difficulty"),
            "action_dim": ds.action_dim, "state_dim": ds.state_dim, "img_hw": ds.img_hw,
            "num_trajectories": ds.num_trajectories, "lengths": ds.lengths,
        }
    train_ids, held_ids = held_out_split(info["num_trajectories"], held_out_fraction)
    info["train_ids"], info["held_out_ids"] = train_ids, held_ids
    lengths = info.pop("lengths")
    info["train_transitions"] = int((lengths[train_ids] - 1).clip(min=0).sum())
    info["labeled_ids"] = None  # every trajectory of the labeled file
    if labeled is not None and is_training_file(labeled, data):
        info["labeled_ids"] = train_ids
        info["labeled_trajectories"] = len(train_ids)
        info["labeled_transitions"] = info["train_transitions"]
        labeled = None  # nothing left to check: the held-out trajectories are not read for labels
    for role, path in (("labeled", labeled), ("eval", eval_data)):
        if path is None:
            continue
        with open_dataset(path) as other:
            problems = []
            for key in ("domain_name", "task_name"):
                if other.attrs.get(key) != info[key]:
                    problems.append(f"{key} {other.attrs.get(key)!r} vs {info[key]!r}")
            if other.action_dim != info["action_dim"]:
                problems.append(f"action dim {other.action_dim} vs {info['action_dim']}")
            if other.img_hw != info["img_hw"]:
                problems.append(f"image size {other.img_hw} vs {info['img_hw']}")
            if problems:
                raise DatasetError(f"{role} data {path} does not match the training data {data}: "
                                   + "; ".join(problems))
            if role == "labeled":
                check_labeled_disjoint(path, data, held_ids)
                info["labeled_trajectories"] = other.num_trajectories
                info["labeled_transitions"] = int((other.lengths - 1).clip(min=0).sum())
    return info


# ----------------------------------------------------------------------------- the run
def _add_to_probe_file(ctx: RunContext, extra: dict) -> None:
    """Merge ``extra`` into artifacts/probe.json (atomically)."""
    rundir.merge_probe(ctx.run_dir, extra)


class _StopAfter(Exception):
    """Raised after the stage named by ``run.stop_after`` (its argument) has finished."""


class Runner:
    """Executes a method's stages in order, skipping finished ones."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.planned = planned_stages(ctx.method, ctx.config.run.stop_after)
        self.finished: dict[str, Any] = {}
        stages = rundir.load_stages(ctx.run_dir) if ctx.resume else None
        if stages is not None:
            self.finished = stages.get("finished", {})

    def stage(self, name: str, train: Callable[[], dict], modules: dict) -> dict:
        if name in self.finished and rundir.RunDir(self.ctx.run_dir).final_checkpoint(name).exists():
            load_final(self.ctx, name, modules)
            for module in modules.values():
                module.to(self.ctx.device).eval()
            return self.finished[name]
        record = train()
        record["finished_at"] = time.time()
        self.finished[name] = record
        write_stages(self.ctx, self.planned, self.finished)
        return record

    def _stop_after(self, name: str) -> None:
        """End the pipeline here when the config says so (``run.stop_after``)."""
        if self.ctx.config.run.stop_after == name:
            raise _StopAfter(name)

    def run(self) -> dict[str, Any]:
        t0 = time.perf_counter()
        self._probe_record: dict[str, Any] = {}
        try:
            return self._run(t0)
        except _StopAfter as stop:
            note = f"run.stop_after={stop.args[0]}: later stages not run"
            summary = self._summary(self._probe_record, {"eval_return_mean": None, "note": note},
                                    time.perf_counter() - t0)
            summary["held_out_action_mse"] = None
            summary["stopped_after"] = stop.args[0]
            return summary

    def _run(self, t0: float) -> dict[str, Any]:
        ctx, method = self.ctx, self.ctx.method
        info = ctx.info
        write_stages(ctx, self.planned, self.finished)
        probe: dict[str, Any] = {}
        decoder = None

        if method in LAM_METHODS:
            lam = build_lam(method, ctx.config.lapo, 3 * ctx.config.lapo.frame_stack, info["img_hw"], info["action_dim"])

            def train_stage1() -> dict:
                record = train_lam(ctx, lam)
                record.update(self._probe(lambda o, n: (lam.idm(o, n), lam.embed(o)), "lam", record["updates"],
                                          write_latents=True))
                usage = fdm_z_usage(ctx, lam)
                ctx.metrics.log("lam", record["updates"], {f"held_out_{k}": v for k, v in usage.items()})
                _add_to_probe_file(ctx, {"fdm_z_usage": usage})
                record["fdm_z_usage"] = usage
                return record

            probe = self._probe_record = self.stage("lam", train_stage1, {"model": lam})
            self._stop_after("lam")
            policy = build_policy(ctx, ctx.config.lapo.latent_action_dim)
            self.stage("bc", lambda: train_bc(ctx, policy, lambda b, o, n: lam.label(o, n)), {"policy": policy})
            self._stop_after("bc")
            decoder = build_decoder(ctx)
            self.stage("decoder", lambda: train_decoder(ctx, policy, decoder), {"decoder": decoder})
            self._stop_after("decoder")
        elif method == "idm":
            idm = build_idm(ctx)

            def train_stage1() -> dict:
                record = train_idm(ctx, idm)
                record.update(self._probe(lambda o, n: (idm(o, n), idm.features(o, n)), "idm", record["updates"],
                                          direct=True))
                return record

            probe = self._probe_record = self.stage("idm", train_stage1, {"idm": idm})
            self._stop_after("idm")
            policy = build_policy(ctx, info["action_dim"])
            self.stage("bc", lambda: train_bc(ctx, policy, lambda b, o, n: idm(o, n)), {"policy": policy})
            self._stop_after("bc")
        else:
            policy = build_policy(ctx, info["action_dim"])
            self.stage("bc", lambda: train_bc(ctx, policy, true_actions), {"policy": policy})
            self._stop_after("bc")

        action_mse = self._action_mse(policy, decoder)
        evaluation = self._evaluate(policy, decoder)
        summary = self._summary(probe, evaluation, time.perf_counter() - t0)
        summary["held_out_action_mse"] = action_mse
        return summary

    # -- pieces ----------------------------------------------------------------------
    def _probe(self, features, stage: str, step: int, write_latents: bool = False, direct: bool = False) -> dict:
        ctx = self.ctx
        train, held = artifacts.collect_features(ctx, features)
        eval_feats = artifacts.collect_eval_features(ctx, features)
        result = artifacts.write_probe(ctx, train, held, direct_prediction=direct, eval_feats=eval_feats)
        if write_latents:
            artifacts.write_latents(ctx, held)
            record_run_leakage(ctx, held, stage, step, train)  # artifacts/leakage.json + leakage metrics
        ctx.metrics.log(stage, step, {key: result.get(key) for key in (
            "held_out_probe_mse", "held_out_state_probe_mse", "probe_clip_seen", "probe_clip_unseen")}
            | {"chance_probe_mse": result.get("chance_mse")})
        return {k: result.get(k) for k in ("held_out_probe_mse", "chance_mse", "held_out_state_probe_mse",
                                           *NAMED_PROBE_KEYS[1:], "chance_clip_seen", "chance_clip_unseen")}

    def _action_mse(self, policy, decoder) -> float | None:
        """Held-out action MSE of the final policy, logged once under the last training stage."""
        last = "decoder" if decoder is not None else "bc"
        record = self.finished.get(last, {})
        if "held_out_action_mse" not in record:
            policy.eval()
            predict = (lambda o: decoder(policy(o).float())) if decoder is not None else policy
            record["held_out_action_mse"] = artifacts.held_out_action_mse(self.ctx, predict)
            self.ctx.metrics.log(last, record.get("updates", 0), {"held_out_action_mse": record["held_out_action_mse"]})
            write_stages(self.ctx, self.planned, self.finished)
        return record["held_out_action_mse"]

    def _evaluate(self, policy, decoder) -> dict:
        ctx = self.ctx
        done = self.finished.get("eval")
        if done and not done.get("skipped"):
            return done
        if ctx.eval_path is None:
            record = {"skipped": True, "eval_return_mean": None, "note": "no --eval-data: evaluation skipped"}
        else:
            cfg = ctx.config.decoder if decoder is not None else ctx.config.bc
            wrapped = LearnedPolicy(policy, decoder, ctx.config.bc.frame_stack, ctx.device, ctx.config.run.bf16,
                                    ctx.config.run.channels_last)
            t0 = time.perf_counter()
            record = evaluate(ctx, wrapped, cfg.eval_episodes, cfg.eval_seed)
            record["wall_s"] = round(time.perf_counter() - t0, 2)
        record["finished_at"] = time.time()
        self.finished["eval"] = record
        write_stages(ctx, self.planned, self.finished)
        return record

    def _summary(self, probe: dict, evaluation: dict, wall_s: float) -> dict[str, Any]:
        ctx, info = self.ctx, self.ctx.info
        mean = evaluation.get("eval_return_mean")
        norm = None
        if mean is not None:
            norm = reference_return(evaluation["eval_task"], evaluation["eval_difficulty"],
                                    ctx.info.get("store"), ctx.info.get("run_id"))
        first_stage = self.planned[0]
        throughput = {k: v.get("samples_per_s") for k, v in self.finished.items() if k != "eval"}
        return {
            "method": ctx.method,
            "task": info["task"],
            "difficulty": info.get("difficulty"),
            "probe_mse": probe.get("held_out_probe_mse"),
            "chance_probe_mse": probe.get("chance_mse"),
            **{key: probe.get(key) for key in NAMED_PROBE_KEYS},
            "chance_clip_seen": probe.get("chance_clip_seen"),
            "chance_clip_unseen": probe.get("chance_clip_unseen"),
            "state_probe_mse": probe.get("held_out_state_probe_mse"),
            "fdm_z_gain": (probe.get("fdm_z_usage") or {}).get("z_gain"),
            "eval_return_mean": mean,
            "eval_return_std": evaluation.get("eval_return_std"),
            "eval_episodes": evaluation.get("eval_episodes"),
            "eval_task": evaluation.get("eval_task"),
            "eval_difficulty": evaluation.get("eval_difficulty"),
            "normalized_return": norm(mean) if norm else None,
            "reference_return": norm.divisor if norm else None,
            "reference_source": norm.source if norm else None,
            "normalization_problem": norm.problem if norm else None,
            "samples_per_s": throughput.get(first_stage),
            "stage_samples_per_s": throughput,
            "labeled_trajectories": info.get("labeled_trajectories") if ctx.method in USES_LABELED else None,
            "train_trajectories": len(info["train_ids"]),
            "held_out_trajectories": list(info["held_out_ids"]),
            "device": str(ctx.device),
            "switches": effective_switches(ctx.config.run, ctx.device),
            "run_dir": str(ctx.run_dir),
            "run_id": info.get("run_id"),
            "wall_s": round(wall_s, 2),
        }
