"""Metric sinks beside the run store: TensorBoard event files and an optional W&B run.

Every value a stage logs (:class:`laom_core.training.common.Metrics`) also goes to these
sinks under the names the authors' scripts log to W&B (``dunnolab/laom``: ``train_lapo.py``,
``train_laom.py``, ``train_laom_labels.py``, ``train_idm.py``), so a run here lines up with
their published curves:

* stage ``lam`` logs under ``lapo/`` (the authors use that prefix for LAPO, LAOM and
  LAOM+supervision alike): ``fdm_loss`` -> ``lapo/mse_loss``, ``loss`` -> ``lapo/total_loss``,
  ``action_loss`` -> ``lapo/true_action_mse_loss``, ``probe_mse`` ->
  ``lapo/action_probe_mse_loss``, ``state_probe_mse`` -> ``lapo/state_probe_mse_loss``,
  ``lr`` -> ``lapo/learning_rate``, ``samples_per_s`` -> ``lapo/throughput``,
  ``latent_norm`` -> ``lapo/latent_act_norm``, ``target_norm`` -> ``lapo/target_obs_norm``;
* ``bc``, ``decoder`` and ``idm`` log under their own prefix, ``loss`` -> ``<p>/mse_loss``,
  ``lr`` -> ``<p>/learning_rate``, ``samples_per_s`` -> ``<p>/throughput``; the IDM's
  held-out action MSE (``held_out_probe_mse`` of a direct prediction) -> ``idm/eval_mse_loss``;
* ``eval`` logs under the last training stage, as the authors do: ``decoder/`` for the
  latent action methods, ``bc/`` for BC and IDM; ``eval_return_mean`` ->
  ``<p>/eval_returns_mean``, ``eval_return_std`` -> ``<p>/eval_returns_std``;
* anything the authors do not log keeps our name under the stage's prefix
  (``lapo/held_out_probe_mse``); CPU and memory figures go under the stage they were
  sampled in (``lapo/system/cpu_percent``).

TensorBoard (``run.tensorboard``, on by default) writes ``<run folder>/tb/`` with
``torch.utils.tensorboard`` at each value's store step. W&B (``run.wandb_project``, off
by default) logs each call with ``<p>/total_steps`` as its x-axis, like the authors' runs
(W&B's own step must only grow, and each of our stages counts from 0).

Neither is required: a missing package is noted once in the run's log and the sink is
left out; a sink that raises is disabled after one logged error. A sink never ends a run.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Protocol

from laom_core import rundir
from laom_core.methods import LAM_METHODS

STAGE_PREFIX = {"lam": "lapo", "bc": "bc", "decoder": "decoder", "idm": "idm"}
_COMMON = {"loss": "mse_loss", "lr": "learning_rate", "samples_per_s": "throughput"}
RENAMES: dict[str, dict[str, str]] = {
    "lam": {"fdm_loss": "mse_loss", "loss": "total_loss", "action_loss": "true_action_mse_loss",
            "probe_mse": "action_probe_mse_loss", "state_probe_mse": "state_probe_mse_loss",
            "lr": "learning_rate", "samples_per_s": "throughput", "latent_norm": "latent_act_norm",
            "target_norm": "target_obs_norm"},
    "bc": dict(_COMMON),
    "decoder": dict(_COMMON),
    "idm": {**_COMMON, "held_out_probe_mse": "eval_mse_loss"},
    "eval": {"eval_return_mean": "eval_returns_mean", "eval_return_std": "eval_returns_std",
             "episode_return": "eval_episode_return"},
}
TB_FOLDER = rundir.TENSORBOARD


def eval_prefix(method: str | None) -> str:
    """Where the authors log the final return: after the decoder for latent action methods."""
    return "decoder" if method in LAM_METHODS else "bc"


def stage_prefix(stage: str, method: str | None) -> str:
    return eval_prefix(method) if stage == "eval" else STAGE_PREFIX.get(stage, stage)


def authors_names(stage: str, values: dict[str, float], method: str | None,
                  during: str | None = None) -> dict[str, float]:
    """``values`` of ``stage`` renamed to the authors' W&B keys (``lapo/mse_loss``, ...).

    ``system`` figures (CPU, memory; logged right after each training log, at that stage's
    step) go under the stage they were sampled ``during``: ``lapo/system/cpu_percent``, so
    each tag's steps grow within one stage as every other tag's do.
    """
    if stage == "system" and during:
        prefix = f"{stage_prefix(during, method)}/system"
    else:
        prefix = stage_prefix(stage, method)
    renames = RENAMES.get(stage, {})
    return {f"{prefix}/{renames.get(key, key)}": value for key, value in values.items()}


class _Naming:
    """Remembers the stage that logged last, for the ``system`` figures that follow it."""

    method: str | None
    _during: str | None = None

    def named(self, stage: str, values: dict[str, float]) -> dict[str, float]:
        if stage != "system":
            self._during = stage
        return authors_names(stage, values, self.method, self._during)


def flatten_config(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"lapo": {"batch_size": 8}}`` -> ``{"lapo.batch_size": 8}`` (the authors' W&B config keys)."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten_config(value, name + "."))
        else:
            out[name] = value
    return out


class Sink(Protocol):
    name: str

    def log(self, stage: str, step: int, values: dict[str, float]) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


def _note(message: str) -> None:
    """One line in the run's log (a run's stderr goes to ``<run folder>/log.txt``)."""
    print(f"[metrics] {message}", file=sys.stderr, flush=True)


class TensorBoardSink(_Naming):
    """``<run folder>/tb/events.out.tfevents.*`` via ``torch.utils.tensorboard.SummaryWriter``."""

    name = "TensorBoard"

    def __init__(self, run_dir: Path, method: str | None) -> None:
        from torch.utils.tensorboard import SummaryWriter  # ImportError without the tensorboard package

        self.method = method
        self.log_dir = Path(run_dir) / TB_FOLDER
        self.writer = SummaryWriter(log_dir=str(self.log_dir), flush_secs=10)

    def log(self, stage: str, step: int, values: dict[str, float]) -> None:
        for tag, value in self.named(stage, values).items():
            self.writer.add_scalar(tag, value, global_step=int(step))

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class WandbSink(_Naming):
    """A W&B run named after the run id, in ``run.wandb_project``; files under the run folder.

    The mode comes from ``WANDB_MODE`` (``offline`` writes ``<run folder>/wandb/`` for a
    later ``wandb sync``; ``disabled`` turns it off); a resumed run continues the same W&B run.
    """

    name = "W&B"

    def __init__(self, run_dir: Path, project: str, run_id: str | None, config: dict[str, Any],
                 method: str | None, group: str | None = None) -> None:
        import wandb  # ImportError without the wandb package

        self.method = method
        self._wandb = wandb
        self._prefixes: set[str] = set()
        kwargs: dict[str, Any] = dict(project=project, name=run_id, config=flatten_config(config),
                                      dir=str(run_dir), reinit="create_new")
        if run_id:
            kwargs.update(id=run_id, resume="allow")
        if group:
            kwargs["group"] = group
        if os.environ.get("WANDB_MODE"):
            kwargs["mode"] = os.environ["WANDB_MODE"]
        self.run = wandb.init(**kwargs)

    def log(self, stage: str, step: int, values: dict[str, float]) -> None:
        named = self.named(stage, values)
        if not named:
            return
        prefix = next(iter(named)).split("/", 1)[0]
        if prefix not in self._prefixes:
            self.run.define_metric(f"{prefix}/total_steps")
            self.run.define_metric(f"{prefix}/*", step_metric=f"{prefix}/total_steps")
            self._prefixes.add(prefix)
        self.run.log({**named, f"{prefix}/total_steps": int(step)})

    def flush(self) -> None:
        pass  # W&B streams in its own process; nothing to force here

    def close(self) -> None:
        self.run.finish()


class Guarded:
    """Runs a sink's calls; the first exception is logged once and the sink is switched off."""

    def __init__(self, sink: Sink) -> None:
        self.sink: Sink | None = sink
        self.name = sink.name

    def _call(self, what: str, *args: Any) -> None:
        if self.sink is None:
            return
        try:
            getattr(self.sink, what)(*args)
        except Exception as exc:  # a sink must never end a run
            _note(f"{self.name} sink disabled after an error in {what}: {type(exc).__name__}: {exc}")
            sink, self.sink = self.sink, None
            if what != "close":
                try:
                    sink.close()
                except Exception:
                    pass

    @property
    def active(self) -> bool:
        return self.sink is not None

    def log(self, stage: str, step: int, values: dict[str, float]) -> None:
        self._call("log", stage, step, values)

    def flush(self) -> None:
        self._call("flush")

    def close(self) -> None:
        self._call("close")
        self.sink = None


def open_sinks(run_dir: Path, config, method: str | None, run_id: str | None) -> list[Guarded]:
    """The sinks ``config.run`` asks for that can be opened; each problem is one log line."""
    sinks: list[Guarded] = []
    run = config.run
    if run.tensorboard:
        try:
            sinks.append(Guarded(TensorBoardSink(run_dir, method)))
        except ImportError:
            _note("TensorBoard event files are not written: the tensorboard package is not installed "
                  "(pip install tensorboard, or set run.tensorboard=false to silence this)")
        except Exception as exc:
            _note(f"TensorBoard event files are not written: {type(exc).__name__}: {exc}")
    if run.wandb_project:
        try:
            sinks.append(Guarded(WandbSink(run_dir, run.wandb_project, run_id, config.to_dict(), method,
                                           group=getattr(config, "group", None))))
        except ImportError:
            _note(f"W&B logging to project {run.wandb_project!r} is off: the wandb package is not installed "
                  "(pip install wandb, or pip install 'laom-studio[wandb]')")
        except Exception as exc:
            _note(f"W&B logging to project {run.wandb_project!r} is off: {type(exc).__name__}: {exc}")
    return sinks
