"""A training request: one definition of its arguments, one validation, one argv builder.

The Train page, ``python -m laom_core train``, ``launch``, ``sweep`` and the launcher all
describe a training run the same way: a :class:`TrainRequest`, made only by
:func:`validate_train_request` (or its argv form :func:`parse_train_argv`). A request is
*resolved*: its config is loaded and checked, its data files exist and are absolute. It
turns back into the exact ``train`` arguments with :func:`train_argv`, so
``parse_train_argv(train_argv(r)) == r``; :meth:`TrainRequest.to_dict` /
:meth:`TrainRequest.from_dict` carry it as JSON (a backend or the store) without
checking it again.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from laom_core import rundir
from laom_core.config import TrainConfig, config_from_dict, load_config
from laom_core.errors import ConfigError
from laom_core.methods import METHODS, USES_LABELED
from laom_core.workspace import atomic_write_json, datasets_dir, resolve_user_path

DEVICES = ("cpu", "cuda", "auto")
DEFAULT_PRESET = "cpu-small"


@dataclass(frozen=True)
class TrainRequest:
    """A checked request to train ``method``; build it with :func:`validate_train_request`.

    ``data``, ``labeled_data`` and ``eval_data`` are absolute paths of existing files: the
    ones given, else the ones the YAML config names (``labeled_data`` from the config only
    for methods that use labels). ``labeled_data`` is kept as given even for a method that
    does not use it: a sweep's runs are grouped by their labeled budget.
    """

    method: str
    preset: str
    config: TrainConfig
    data: Path
    config_path: Path | None = None
    sets: tuple[str, ...] = ()
    labeled_data: Path | None = None
    eval_data: Path | None = None
    device: str = "auto"
    run_dir: Path | None = None
    run_id: str | None = None
    resume: bool = False
    name: str | None = None
    group: str | None = None
    progress: bool = True
    ignored: tuple[str, ...] = field(default=(), compare=False)  # authors' keys the config did not use

    @property
    def seed(self) -> int:
        return int(self.config.seed)

    def datasets(self) -> dict[str, str]:
        """``{"data", "labeled_data", "eval_data"}`` (those given) as strings, as the store keeps them."""
        out = {"data": str(self.data)}
        if self.labeled_data is not None:
            out["labeled_data"] = str(self.labeled_data)
        if self.eval_data is not None:
            out["eval_data"] = str(self.eval_data)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, resolved config included (see :meth:`from_dict`)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, TrainConfig):
                value = value.to_dict()
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainRequest":
        """Rebuild a request saved with :meth:`to_dict`; its config is taken as resolved, not reloaded."""
        try:
            kwargs = dict(data)
            kwargs["config"] = config_from_dict(kwargs["config"])
            for key in ("data", "config_path", "labeled_data", "eval_data", "run_dir"):
                if kwargs.get(key) is not None:
                    kwargs[key] = Path(kwargs[key])
            for key in ("sets", "ignored"):
                kwargs[key] = tuple(kwargs.get(key) or ())
            return cls(**kwargs)
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"not a saved train request: {exc}") from None

    def replace(self, **changes: Any) -> "TrainRequest":
        return dataclasses.replace(self, **changes)


def _file(value: str | Path | None) -> Path | None:
    if value is None or str(value) == "":
        return None
    return resolve_user_path(value, must_exist=True, kind="file", base=datasets_dir())


def resolve_config(method: str, preset: str = DEFAULT_PRESET, config_path: str | Path | None = None,
                   sets: Sequence[str] = ()) -> tuple[Path | None, TrainConfig, list[str]]:
    """The config part of a request alone (``train --print-config`` needs no data):
    ``(config file resolved, config, ignored authors' keys)``."""
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r} (choose from {', '.join(METHODS)})")
    config_file = resolve_user_path(config_path, must_exist=True) if config_path else None
    config, ignored = load_config(preset, method, config_file, [str(s) for s in sets])
    return config_file, config, ignored


def validate_train_request(
    method: str,
    *,
    preset: str = DEFAULT_PRESET,
    config_path: str | Path | None = None,
    sets: Sequence[str] = (),
    data: str | Path | None = None,
    labeled_data: str | Path | None = None,
    eval_data: str | Path | None = None,
    device: str | None = "auto",
    run_dir: str | Path | None = None,
    run_id: str | None = None,
    resume: bool = False,
    name: str | None = None,
    group: str | None = None,
    progress: bool = True,
) -> TrainRequest:
    """Check a training request and resolve it; raises :class:`ConfigError` (or another
    ``LaomError``) with one line saying what is wrong. Nothing is written."""
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r} (choose from {', '.join(METHODS)})")
    device = device or "auto"
    if device not in DEVICES:
        raise ConfigError(f"unknown device {device!r} (choose from {', '.join(DEVICES)})")
    sets = tuple(str(s) for s in sets)
    config_file, config, ignored = resolve_config(method, preset, config_path, sets)
    data_path = _file(data or config.lapo.data_path or config.bc.data_path)
    if data_path is None:
        raise ConfigError("--data is required (the training dataset, HDF5)")
    # The authors' files name the labeled set per stage; the decoder's data is the labeled set.
    labeled_arg = labeled_data
    if not labeled_arg and method in USES_LABELED:
        labeled_arg = config.lapo.labeled_data_path or config.idm.labeled_data_path or config.decoder.data_path
    return TrainRequest(
        method=method, preset=preset, config=config, data=data_path, config_path=config_file, sets=sets,
        labeled_data=_file(labeled_arg), eval_data=_file(eval_data or config.lapo.eval_data_path),
        device=device, run_dir=Path(run_dir).expanduser().resolve() if run_dir else None,
        run_id=run_id or None, resume=bool(resume), name=name or None, group=group or None,
        progress=bool(progress), ignored=tuple(ignored))


# ---------------------------------------------------------------------- stored form
REQUEST_FILE = rundir.REQUEST  # in a queued run's folder: the request as checked at queue time


def write_request(path: str | Path, request: TrainRequest) -> None:
    """Save ``request`` (JSON, atomically) for the process that will run it."""
    atomic_write_json(Path(path), request.to_dict())


def read_request(path: str | Path) -> TrainRequest:
    """A request saved by :func:`write_request`, as it was checked (config not reloaded)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no saved train request at {path}") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the saved train request {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"cannot read the saved train request {path}: not a JSON object")
    return TrainRequest.from_dict(data)


# ---------------------------------------------------------------------- argv form
def add_train_arguments(parser: argparse.ArgumentParser, *, launcher: bool = False) -> None:
    """The ``train`` arguments, on ``parser``. With ``launcher``, only those a queued run takes
    from its caller (the launcher chooses run folder and id; name and group are the run row's)."""
    parser.add_argument("--method", required=True, choices=METHODS)
    parser.add_argument("--preset", default=DEFAULT_PRESET,
                        help=f"starting config: paper, cpu-small or smoke (default {DEFAULT_PRESET})")
    parser.add_argument("--config", metavar="YAML",
                        help="YAML in the authors' layout (sections lapo, bc, decoder, idm, run)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one config key, e.g. --set lapo.latent_action_dim=512 (repeatable)")
    parser.add_argument("--data", metavar="FILE", required=launcher,
                        help="unlabeled (or, for bc, action-labeled) HDF5 dataset")
    parser.add_argument("--labeled-data", metavar="FILE",
                        help="small labeled HDF5 subset (decoder, IDM, supervision)")
    parser.add_argument("--eval-data", metavar="FILE", help="eval HDF5 (its attrs define the eval environment)")
    parser.add_argument("--device", choices=DEVICES, default=None if launcher else "auto",
                        help="cpu, cuda or auto (default auto)")
    if launcher:
        return
    parser.add_argument("--run-dir", metavar="DIR", help="output folder (default <workspace>/runs/<run id>)")
    parser.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoints")
    parser.add_argument("--run-id", help="the store's run id to update (set by the launcher)")
    parser.add_argument("--name", help="run name for a new store row")
    parser.add_argument("--group", help="group name for a new store row")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def request_from_args(ns: argparse.Namespace) -> TrainRequest:
    """:func:`validate_train_request` on parsed ``train`` (or ``launch``) arguments."""
    return validate_train_request(
        ns.method, preset=ns.preset, config_path=ns.config, sets=ns.set, data=ns.data,
        labeled_data=ns.labeled_data, eval_data=ns.eval_data, device=ns.device,
        run_dir=getattr(ns, "run_dir", None), run_id=getattr(ns, "run_id", None),
        resume=getattr(ns, "resume", False), name=getattr(ns, "name", None), group=getattr(ns, "group", None),
        progress=not getattr(ns, "no_progress", False))


class _RaisingParser(argparse.ArgumentParser):
    def error(self, message: str):  # type: ignore[override]
        raise ConfigError(f"train arguments: {message}")


def parse_train_argv(argv: Sequence[str]) -> TrainRequest:
    """The request ``python -m laom_core train <argv>`` would run, checked; the inverse of
    :func:`train_argv`. A malformed list raises ConfigError("train arguments: ...")."""
    parser = _RaisingParser(prog="train", add_help=False)
    add_train_arguments(parser)
    return request_from_args(parser.parse_args([str(a) for a in argv]))


def train_argv(request: TrainRequest) -> list[str]:
    """The ``train`` arguments (after ``python -m laom_core train``) that make ``request``."""
    args = ["--method", request.method, "--preset", request.preset]
    if request.config_path is not None:
        args += ["--config", str(request.config_path)]
    for item in request.sets:
        args += ["--set", item]
    args += ["--data", str(request.data)]
    if request.labeled_data is not None:
        args += ["--labeled-data", str(request.labeled_data)]
    if request.eval_data is not None:
        args += ["--eval-data", str(request.eval_data)]
    if request.device != "auto":
        args += ["--device", request.device]
    if request.resume:
        args.append("--resume")
    if request.run_dir is not None:
        args += ["--run-dir", str(request.run_dir)]
    if request.run_id is not None:
        args += ["--run-id", request.run_id]
    if request.name is not None:
        args += ["--name", request.name]
    if request.group is not None:
        args += ["--group", request.group]
    if not request.progress:
        args.append("--no-progress")
    return args


def train_command(request: TrainRequest, python: str | None = None) -> list[str]:
    """The whole argument list of the process that runs ``request``."""
    return [python or sys.executable, "-m", "laom_core", "train", *train_argv(request)]
