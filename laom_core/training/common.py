"""What every stage shares: the run context, the learning-rate schedule, device helpers,
metric logging and the resumable step loop (:class:`Stage`).

A stage's training loop reads top to bottom; the only indirection is ``stage.steps()``,
which yields update indices, writes the periodic checkpoint after each update and shows
progress. Checkpoints hold model, optimizer, RNG and step; they are written atomically
and read with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import torch
from torch import nn

from laom_core import rundir
from laom_core.config import TrainConfig
from laom_core.data.sampler import to_float, TrajectorySampler
from laom_core.errors import ConfigError, RunError
from laom_core.procs import write_progress
from laom_core.system import system_metrics
from laom_core.torch_io import load_weights
from laom_core.workspace import atomic_path


# ----------------------------------------------------------------------------- device
def pick_device(requested: str | None = None) -> torch.device:
    """CUDA when present (or asked for), else CPU."""
    if requested in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda asked for, but no CUDA device is available")
    if requested not in ("cpu", "cuda"):
        raise ConfigError(f"unknown device {requested!r} (cpu or cuda)")
    return torch.device(requested)


def switch_on(flag: bool | None, device: torch.device) -> bool:
    """A speed switch of ``run`` (bf16, channels_last): true/false as set; null (the
    default, "auto") means on for CUDA, off elsewhere."""
    return device.type == "cuda" if flag is None else bool(flag)


def effective_switches(run, device: torch.device) -> dict[str, bool]:
    """What the run's speed switches mean on ``device`` (recorded in the run summary)."""
    return {"bf16": switch_on(run.bf16, device), "channels_last": switch_on(run.channels_last, device),
            "compile": bool(run.compile)}


def autocast(device: torch.device, enabled: bool | None = None):
    """bf16 autocast when the switch is on (see :func:`switch_on`; CPU autocast when set true)."""
    if switch_on(enabled, device):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def lr_at(step: int, total: int, warmup: int, base: float) -> float:
    """Linear warm-up from 0 over ``warmup`` updates, then linear decay to 0 at ``total``."""
    if warmup > 0 and step < warmup:
        return base * (step + 1) / warmup
    remaining = max(total - warmup, 1)
    return base * max(0.0, 1.0 - (step - warmup) / remaining)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def schedule(num_epochs: float, warmup_epochs: float, total_updates: int | None, transitions: int,
             batch_size: int) -> tuple[int, int]:
    """(total updates, warm-up updates) from epochs over ``transitions`` or a fixed count."""
    per_epoch = max(1, math.ceil(transitions / batch_size))
    if total_updates:
        total = int(total_updates)
        warmup = int(round(total * warmup_epochs / num_epochs)) if num_epochs else 0
    else:
        total = max(1, int(round(num_epochs * per_epoch)))
        warmup = int(round(warmup_epochs * per_epoch))
    return total, min(warmup, total)


def grad_norm(parameters, max_norm: float | None) -> torch.Tensor:
    """Total gradient norm as a 0-d tensor (clips to ``max_norm`` when given)."""
    params = [p for p in parameters if p.grad is not None]
    if not params:
        return torch.zeros(())
    return torch.nn.utils.clip_grad_norm_(params, max_norm if max_norm else float("inf")).detach()


def optimizer_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor, parameters: Iterable[nn.Parameter],
                   max_norm: float | None) -> torch.Tensor:
    """One update of every stage: clear the gradients, backpropagate ``loss``, clip them to
    ``max_norm`` (when given) and step; returns :func:`grad_norm`'s total norm."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    norm = grad_norm(parameters, max_norm)
    optimizer.step()
    return norm


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """target <- (1 - tau) * target + tau * online."""
    t_params = list(target.parameters())
    o_params = list(online.parameters())
    torch._foreach_lerp_(t_params, o_params, tau)


def prepare(model: nn.Module, device: torch.device, channels_last: bool | None = None) -> nn.Module:
    model = model.to(device)
    if switch_on(channels_last, device):
        model = model.to(memory_format=torch.channels_last)
    return model


def frames(obs_uint8: torch.Tensor, device: torch.device, channels_last: bool | None = None) -> torch.Tensor:
    """uint8 stacks -> float in [-1, 1] on ``device`` (channels_last when the switch is on)."""
    x = to_float(obs_uint8.to(device, non_blocking=True))
    if switch_on(channels_last, device):
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def maybe_compile(model: nn.Module, enabled: bool) -> nn.Module:
    """``torch.compile`` (inductor, on CPU or CUDA) when enabled. Returns the compiled
    wrapper for the forward passes only: stages keep saving ``model`` itself, so
    checkpoints never carry the wrapper's ``_orig_mod.`` prefix."""
    if not enabled:
        return model
    return torch.compile(model)  # type: ignore[return-value]


_COMPILED_PREFIX = "_orig_mod."


def load_module_state(module: nn.Module, state: dict[str, Any]) -> None:
    """``load_state_dict`` that also accepts weights saved from a compiled module (keys
    prefixed ``_orig_mod.``) into a plain one, and plain weights into a compiled one."""
    target_compiled = hasattr(module, "_orig_mod")
    if target_compiled:
        module = module._orig_mod  # type: ignore[assignment]
    if any(k.startswith(_COMPILED_PREFIX) for k in state):
        state = {k[len(_COMPILED_PREFIX):] if k.startswith(_COMPILED_PREFIX) else k: v for k, v in state.items()}
    module.load_state_dict(state)


# ----------------------------------------------------------------------------- metrics
class Metrics:
    """Metric sink: the run store when available, else ``<run_dir>/metrics.jsonl``; plus
    TensorBoard and W&B under the authors' names when ``config`` asks for them
    (:mod:`laom_core.training.sinks`; they never fail a run)."""

    def __init__(self, run_dir: Path, store=None, run_id: str | None = None, config: TrainConfig | None = None,
                 method: str | None = None) -> None:
        self.writer = store.metric_writer(run_id) if store is not None and run_id else None
        self.fallback = None if self.writer is not None else open(rundir.RunDir(run_dir).metrics, "a", encoding="utf-8")
        self.last: dict[str, dict[str, float]] = {}
        self.sinks = []
        if config is not None:
            from laom_core.training.sinks import open_sinks

            self.sinks = open_sinks(run_dir, config, method, run_id)

    def log(self, stage: str, step: int, values: dict[str, float]) -> None:
        clean = {k: float(v) for k, v in values.items() if v is not None}
        clean = {k: v for k, v in clean.items() if math.isfinite(v)}
        self.last.setdefault(stage, {}).update(clean)
        if self.writer is not None:
            self.writer.log(stage, int(step), clean)
        else:
            self.fallback.write(json.dumps({"stage": stage, "step": int(step), "wall": time.time(), **clean}) + "\n")
        for sink in self.sinks:
            sink.log(stage, int(step), clean)

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()
        else:
            self.fallback.flush()
        for sink in self.sinks:
            sink.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        elif self.fallback is not None:
            self.fallback.close()
        for sink in self.sinks:
            sink.close()


# ----------------------------------------------------------------------------- context
@dataclass
class RunContext:
    """Everything a stage needs: config, device, folders, data, metric sink."""

    config: TrainConfig
    method: str
    device: torch.device
    run_dir: Path
    data_path: Path
    labeled_path: Path | None
    eval_path: Path | None
    metrics: Metrics
    resume: bool = False
    progress: bool = True
    info: dict[str, Any] = field(default_factory=dict)  # task, action_dim, state_dim, img_hw, split ids

    @property
    def checkpoint_dir(self) -> Path:
        return rundir.RunDir(self.run_dir).checkpoints

    @property
    def artifacts_dir(self) -> Path:
        return rundir.RunDir(self.run_dir).artifacts

    def make_labeled_sampler(self, *, stage: str, future_obs_offset: int = 1, start_step: int = 0,
                             frame_stack: int | None = None):
        """A sampler of the labeled set: the labeled file, or the training file's training
        trajectories when no other labeled file was given (held-out labels never trained on)."""
        return self.make_sampler(self.labeled_path, stage=stage, traj_ids=self.info.get("labeled_ids"),
                                 future_obs_offset=future_obs_offset, start_step=start_step,
                                 frame_stack=frame_stack)

    def make_sampler(self, path: Path, *, stage: str, traj_ids=None, future_obs_offset: int = 1,
                     start_step: int = 0, frame_stack: int | None = None):
        """A sampler seeded by (run seed, stage, resume step), so a resumed stage draws fresh batches."""
        seed = (int(self.config.seed) * 1_000_003 + sum(map(ord, stage)) * 7919 + int(start_step)) % 2**32
        return TrajectorySampler(
            path,
            frame_stack=frame_stack or self.config.lapo.frame_stack,
            future_obs_offset=future_obs_offset,
            traj_ids=traj_ids,
            memory_budget_mb=self.config.run.memory_budget_mb,
            seed=seed,
            device=self.device,
        )


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Atomic torch.save (temp file + rename): a kill mid-write leaves the old file intact."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    return load_weights(path, what="checkpoint", map_location=device, error=RunError)


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"].cpu())


# ----------------------------------------------------------------------------- stage loop
PROGRESS_EVERY_S = 2.0  # how often a stage rewrites its progress record


class Stage:
    """Resumable update loop of one stage.

    ``modules`` and ``optimizers`` are saved every ``run.checkpoint_every`` updates to
    ``checkpoints/<name>/last.pt`` and at the end to ``checkpoints/<name>/final.pt``
    (modules only). ``extra_state`` holds anything else (e.g. an augmentation generator).
    """

    def __init__(self, ctx: RunContext, name: str, total: int, modules: dict[str, nn.Module],
                 optimizers: dict[str, torch.optim.Optimizer], generators: dict[str, torch.Generator] | None = None):
        self.ctx, self.name, self.total = ctx, name, int(total)
        self.modules, self.optimizers = modules, optimizers
        self.generators = generators or {}
        self.dir = ctx.checkpoint_dir / name
        self.start = 0
        self.samples = 0
        self.t0 = time.perf_counter()
        self.samples_per_s = float("nan")
        self._tick = (time.perf_counter(), 0)

    # checkpoint ----------------------------------------------------------------
    def state(self, step: int) -> dict[str, Any]:
        return {
            "stage": self.name,
            "step": int(step),
            "total": self.total,
            "samples": int(self.samples),
            "modules": {k: m.state_dict() for k, m in self.modules.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "generators": {k: g.get_state() for k, g in self.generators.items()},
            "rng": rng_state(),
        }

    def restore(self) -> int:
        """Load ``last.pt`` when resuming; returns the first update still to do."""
        path = self.dir / rundir.LAST
        if not (self.ctx.resume and path.exists()):
            return 0
        state = load_checkpoint(path, self.ctx.device)
        for key, module in self.modules.items():
            load_module_state(module, state["modules"][key])
        for key, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][key])
        for key, gen in self.generators.items():
            if key in state.get("generators", {}):
                gen.set_state(state["generators"][key].cpu())
        set_rng_state(state["rng"])
        self.samples = int(state.get("samples", 0))
        self.start = int(state["step"])
        print(f"resuming stage {self.name} at update {self.start}/{self.total}", file=sys.stderr)
        return self.start

    # loop ------------------------------------------------------------------------
    def steps(self) -> Iterator[int]:
        from tqdm import tqdm

        every = self.ctx.config.run.checkpoint_every
        bar = tqdm(range(self.start, self.total), desc=self.name, file=sys.stderr, initial=self.start,
                   total=self.total, disable=not self.ctx.progress, mininterval=2.0, dynamic_ncols=True)
        self.t0 = time.perf_counter()
        self._tick = (self.t0, self.samples)
        last_report = 0.0
        for step in bar:
            yield step
            if (step + 1) % every == 0 and step + 1 < self.total:
                save_checkpoint(self.dir / rundir.LAST, self.state(step + 1))
            now = time.perf_counter()
            if now - last_report >= PROGRESS_EVERY_S or step + 1 == self.total:
                last_report = now
                self._report(step + 1, now)
        bar.close()

    def _report(self, done: int, now: float) -> None:
        """The stage's progress as a record (what the Runs page shows), not only a tqdm bar."""
        elapsed = now - self.t0
        rate = (done - self.start) / elapsed if elapsed > 0 and done > self.start else None
        write_progress(rundir.RunDir(self.ctx.run_dir).progress, done, self.total, stage=self.name,
                       elapsed_s=round(elapsed, 3), eta_s=round((self.total - done) / rate, 1) if rate else None)

    def should_log(self, step: int) -> bool:
        return step % self.ctx.config.run.log_every == 0 or step == self.total - 1

    def count(self, batch_size: int) -> None:
        """Count the samples of one update (for samples/s)."""
        self.samples += int(batch_size)

    def log(self, step: int, values: dict[str, float]) -> None:
        """Write ``values`` plus samples/s since the last log (call on ``should_log`` steps)."""
        now = time.perf_counter()
        t_prev, s_prev = self._tick
        if now > t_prev and self.samples > s_prev:
            self.samples_per_s = (self.samples - s_prev) / (now - t_prev)
        self._tick = (now, self.samples)
        values = {k: float(v) for k, v in values.items() if v is not None}
        if not math.isfinite(values.get("loss", 0.0)):
            self.ctx.metrics.flush()
            raise RunError(f"stage {self.name}: the loss became {values['loss']} at update {step}; check the "
                           "datasets for NaN/inf values or lower the learning rate")
        values["samples_per_s"] = self.samples_per_s
        self.ctx.metrics.log(self.name, step, values)
        self.ctx.metrics.log("system", step, system_metrics())  # laom_core.system: the one monitor

    def finish(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Write ``final.pt`` (module weights) and return the stage record for stages.json."""
        save_checkpoint(self.dir / rundir.FINAL, {"stage": self.name, "step": self.total,
                                                "modules": {k: m.state_dict() for k, m in self.modules.items()}})
        (self.dir / rundir.LAST).unlink(missing_ok=True)  # final.pt supersedes it; paper-scale states are GBs
        self.ctx.metrics.flush()
        return {"updates": self.total, "samples": int(self.samples),
                "samples_per_s": None if math.isnan(self.samples_per_s) else round(self.samples_per_s, 2),
                "wall_s": round(time.perf_counter() - self.t0, 2), **(extra or {})}


def load_final(ctx: RunContext, stage: str, modules: dict[str, nn.Module]) -> None:
    """Load the weights a finished stage left in ``final.pt``."""
    state = load_checkpoint(rundir.RunDir(ctx.run_dir).final_checkpoint(stage), ctx.device)
    for key, module in modules.items():
        load_module_state(module, state["modules"][key])


def write_stages(ctx: RunContext, planned: list[str], finished: dict[str, Any]) -> None:
    rundir.write_stages(ctx.run_dir, ctx.method, planned, finished)
