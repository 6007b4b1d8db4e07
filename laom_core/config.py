"""Training configuration: one dataclass per stage, presets, the authors' YAML files.

The section and key names follow the authors' released configs so their YAML files load
as they are: ``lapo`` (stage 1, the latent action model, whatever the method), ``bc``
(stage 2, latent or plain behaviour cloning), ``decoder`` (stage 3, latent -> action),
``idm`` (the supervised inverse-dynamics baseline). ``run`` holds what the authors kept in
code (logging cadence, held-out split, evaluation length). Top-level ``project``,
``group``, ``name`` (their wandb names) and ``seed`` are accepted too.

Resolution order (later wins): preset -> method defaults (``METHOD_DEFAULTS``, only for
keys that the YAML and ``--set`` leave alone) -> ``--config`` YAML -> ``--set`` overrides.
Unknown keys and values of the wrong type or range raise :class:`ConfigError` naming the
key, e.g. ``lapo.learning_rate``.

Step counts: the authors count stages 1-2 in epochs over the dataset (``num_epochs``,
``warmup_epochs``). ``total_updates`` (our key, default null) fixes the number of updates
instead; warm-up then keeps its share ``warmup_epochs / num_epochs``. Stage 3 and the IDM
baseline count updates (``total_updates``; the authors' ``num_updates`` is an alias).
"""
from __future__ import annotations

import dataclasses
import functools
import math
import reprlib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from laom_core.errors import ConfigError
from laom_core.methods import LAM_METHODS, METHODS, PIPELINES  # noqa: F401 - METHODS re-exported for callers

PRESET_DIR = Path(__file__).resolve().parents[1] / "assets" / "configs"
PRESETS = ("paper", "cpu-small", "smoke")


@dataclass
class LAMConfig:
    """Stage 1: latent action model (LAPO or LAOM), section ``lapo``."""

    num_epochs: float = 10
    total_updates: Optional[int] = None
    batch_size: int = 512
    learning_rate: float = 1e-4
    weight_decay: float = 0.0
    warmup_epochs: float = 3
    grad_norm: Optional[float] = None
    frame_stack: int = 3
    future_obs_offset: int = 10
    latent_action_dim: int = 8192
    encoder_scale: int = 6
    encoder_num_res_blocks: int = 2
    encoder_dropout: float = 0.0
    encoder_norm_out: bool = False
    # Ours, not the paper's: standardize each embedding feature over the batch (BatchNorm
    # without affine) before the heads. Off for the paper preset; the small CPU presets need
    # it, as short runs on near-constant embeddings otherwise learn nothing (see lam.py).
    embed_batch_norm: bool = False
    # LAPO only: the pixel forward model. "authors": the LAOM authors' encoder-decoder
    # without skips (ConvTranspose upsampling, GELU, tanh) predicting every stacked frame
    # of o_{t+1}; "unet" (ours): a U-Net with skips predicting the newest frame.
    fdm_arch: str = "authors"
    # Ours, LAPO only: the pixel FDM predicts the change from "nothing moves" (the frame
    # stack of o_t advanced by one step), zero-initialised (see models/lapo.py). Off for
    # the paper preset.
    fdm_residual: bool = False
    encoder_deep: bool = False
    act_head_dim: int = 1024
    act_head_dropout: float = 0.0
    obs_head_dim: int = 1024
    obs_head_dropout: float = 0.0
    head_num_blocks: int = 3
    head_expansion: int = 4
    target_tau: float = 0.001
    target_update_every: int = 1
    ema_target: bool = True
    use_aug: bool = True
    # Augmentation of o_t, o_{t+1}, o_{t+k} (training/augment.py). "independent": a view
    # drawn per frame, the authors' three separate calls; "shared": one view per sample.
    aug_views: str = "independent"
    # The authors' magnitudes; pads in pixels at 64 px, scaled with the image size.
    aug_shift_pad: int = 14
    aug_max_rotation_deg: float = 90.0
    aug_perspective_distortion: float = 0.5
    aug_perspective_pad: int = 30
    labeled_batch_size: int = 128
    labels_coef: float = 0.001
    data_path: Optional[str] = None
    labeled_data_path: Optional[str] = None
    eval_data_path: Optional[str] = None


@dataclass
class BCConfig:
    """Stage 2: behaviour cloning (latent labels, true actions or IDM pseudo-labels)."""

    num_epochs: float = 10
    total_updates: Optional[int] = None
    batch_size: int = 512
    learning_rate: float = 1e-4
    weight_decay: float = 0.0
    warmup_epochs: float = 1
    grad_norm: Optional[float] = None
    frame_stack: int = 3
    encoder_scale: int = 32
    encoder_num_res_blocks: int = 2
    encoder_deep: bool = False
    dropout: float = 0.0
    use_aug: bool = False
    eval_episodes: int = 25
    eval_seed: int = 0
    data_path: Optional[str] = None
    dcs_backgrounds_path: Optional[str] = None
    dcs_backgrounds_split: str = "train"


@dataclass
class DecoderConfig:
    """Stage 3: action decoder z -> a on the labeled data, section ``decoder``."""

    total_updates: int = 2500
    batch_size: int = 512
    learning_rate: float = 3e-4
    weight_decay: float = 0.0
    warmup_epochs: float = 0
    hidden_dim: int = 256
    use_aug: bool = False
    eval_episodes: int = 25
    eval_seed: int = 0
    data_path: Optional[str] = None
    dcs_backgrounds_path: Optional[str] = None
    dcs_backgrounds_split: str = "train"


@dataclass
class IDMConfig:
    """Baseline: supervised IDM (o_t, o_{t+1}) -> a on the labeled data, section ``idm``."""

    total_updates: int = 10000
    batch_size: int = 512
    learning_rate: float = 1e-4
    weight_decay: float = 0.0
    warmup_epochs: float = 0
    warmup_updates: int = 0
    grad_norm: Optional[float] = None
    frame_stack: int = 3
    future_obs_offset: int = 1
    encoder_scale: int = 12
    encoder_num_res_blocks: int = 2
    encoder_deep: bool = False
    dropout: float = 0.0
    use_aug: bool = False
    data_path: Optional[str] = None
    labeled_data_path: Optional[str] = None


@dataclass
class RunConfig:
    """What the authors kept in code: cadence of logs and checkpoints, split, evaluation."""

    log_every: int = 100
    checkpoint_every: int = 1000
    held_out_fraction: float = 0.1
    probe_samples: int = 8192
    probe_ridge: float = 0.1
    latents_samples: int = 2048
    eval_max_steps: int = 1000
    eval_videos: int = 2
    memory_budget_mb: int = 4096
    # The speed switches. bf16 and channels_last: null (the default; "auto" reads the same)
    # means on for CUDA, off for CPU; true or false means that on every device (CPU bf16
    # autocast and channels_last are slower than fp32 on the 2-core machine, but CI runs them
    # to prove the paths). compile: torch.compile (inductor) on any device when true.
    compile: bool = False
    channels_last: Optional[bool] = None
    bf16: Optional[bool] = None
    # Ours: end the run after this stage (e.g. "lam" for stage-1-only studies such as the
    # ablation in bench/reproduce.py); null runs every stage of the method.
    stop_after: Optional[str] = None
    # Ours: metric sinks beside the run store, under the authors' W&B names (lapo/..., bc/...;
    # laom_core/training/sinks.py). tensorboard: event files in <run folder>/tb/ (needs the
    # tensorboard package; noted once in the log without it). wandb_project: a W&B project to
    # log to (needs wandb; WANDB_MODE=offline keeps it in <run folder>/wandb/); null: no W&B.
    tensorboard: bool = True
    wandb_project: Optional[str] = None


@dataclass
class TrainConfig:
    seed: int = 0
    project: Optional[str] = None
    group: Optional[str] = None
    name: Optional[str] = None
    lapo: LAMConfig = field(default_factory=LAMConfig)
    bc: BCConfig = field(default_factory=BCConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    idm: IDMConfig = field(default_factory=IDMConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


SECTIONS = {"lapo": LAMConfig, "bc": BCConfig, "decoder": DecoderConfig, "idm": IDMConfig, "run": RunConfig}
TOP_LEVEL = {"seed": int, "project": Optional[str], "group": Optional[str], "name": Optional[str]}
ALIASES = {
    "num_updates": "total_updates",
    "labeled_loss_coef": "labels_coef",
    "labels_batch_size": "labeled_batch_size",
}
# Keys of the authors' configs that steer their own infrastructure (wandb, loaders) and
# mean nothing here; accepted so their files load, otherwise ignored.
IGNORED_KEYS = {
    "act_head_dropout_rate", "num_workers", "normalize", "custom_dataset", "has_policy_labels",
    "has_distractor_labels", "state_difference_probe", "eval_every", "save_every", "checkpoint_path",
    "cosine_loss", "eval_data_path_2", "target_update", "dcs_eval_path",
}
# Positive (> 0) and non-negative (>= 0) constraints, by key name in any section.
POSITIVE = {
    "batch_size", "learning_rate", "frame_stack", "future_obs_offset", "latent_action_dim",
    "encoder_scale", "act_head_dim", "obs_head_dim", "head_num_blocks", "head_expansion",
    "target_update_every", "labeled_batch_size", "hidden_dim", "log_every", "checkpoint_every",
    "probe_samples", "latents_samples", "eval_max_steps", "memory_budget_mb", "total_updates",
    "num_epochs", "grad_norm",
}
NON_NEGATIVE = {
    "weight_decay", "warmup_epochs", "warmup_updates", "encoder_num_res_blocks", "labels_coef",
    "eval_episodes", "eval_videos", "probe_ridge", "eval_seed", "seed", "aug_shift_pad", "aug_perspective_pad",
    "aug_max_rotation_deg",
}
UNIT_INTERVAL = {"target_tau", "held_out_fraction", "encoder_dropout", "act_head_dropout",
                 "obs_head_dropout", "dropout", "aug_perspective_distortion"}
# String keys with a fixed set of values, by key name in any section.
CHOICES = {"aug_views": ("independent", "shared"), "fdm_arch": ("authors", "unet")}
# What a run saved before a key existed used: config_from_dict fills these in when the
# saved config lacks the key, so older run folders rebuild the model they trained (their
# augmentation's op set and magnitudes were milder than today's defaults, too).
LEGACY_VALUES = {"lapo.fdm_arch": "unet", "lapo.aug_views": "shared"}
MAX_SEED = 2**32 - 1  # numpy's SeedSequence and torch both take it; -1 or 2**64 end in their tracebacks


def check_seed(value: int, what: str = "seed") -> int:
    """``value`` if it is a usable seed (0..2**32-1), else ConfigError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise ConfigError(f"{what} must be an integer in 0..{MAX_SEED}, got {_show(value)}")
    return value


# Upper bounds (inclusive), by key name in any section: far above any sensible setting (the
# paper's values are 10-100x below), low enough that a typo (an extra zero or three) is an
# error message rather than a machine swapping for an hour or a traceback from torch.
UPPER: dict[str, float] = {
    "batch_size": 16384, "labeled_batch_size": 16384,
    "latent_action_dim": 65536, "act_head_dim": 16384, "obs_head_dim": 16384, "hidden_dim": 16384,
    "encoder_scale": 128, "encoder_num_res_blocks": 16, "head_num_blocks": 32, "head_expansion": 16,
    "frame_stack": 16, "future_obs_offset": 1000,
    "total_updates": 100_000_000, "warmup_updates": 100_000_000, "num_epochs": 100_000, "warmup_epochs": 100_000,
    "target_update_every": 1_000_000, "log_every": 100_000_000, "checkpoint_every": 100_000_000,
    "learning_rate": 10.0, "weight_decay": 100.0, "grad_norm": 1e6, "labels_coef": 1e6, "probe_ridge": 1e6,
    "probe_samples": 1_000_000, "latents_samples": 1_000_000,
    "eval_episodes": 10_000, "eval_videos": 100, "eval_max_steps": 100_000, "eval_seed": MAX_SEED, "seed": MAX_SEED,
    "memory_budget_mb": 10_000_000,
    "aug_max_rotation_deg": 180.0, "aug_shift_pad": 1024, "aug_perspective_pad": 1024,
}

# Per-method starting points applied over the preset unless the user set the key.
METHOD_DEFAULTS: dict[str, dict[str, Any]] = {
    # LAPO as the LAOM authors run it: continuous z, one-step IDM, pixel FDM, no augmentation.
    "lapo": {"lapo.future_obs_offset": 1, "lapo.use_aug": False},
    "laom": {},
    "laom-labels": {},
    "bc": {},
    "idm": {},
}


# YAML input bounds: the authors' files are a few KB; anything far larger, deeply nested or
# multiplied through anchors and aliases (a "billion laughs" document) is refused while it is
# read, before any value is built or formatted.
MAX_YAML_BYTES = 1_000_000
MAX_YAML_NODES = 10_000  # nodes after expanding every alias
MAX_YAML_DEPTH = 32
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlong = 3, 60, 60, 40
MAX_SHOWN = 80


def _show(value: Any) -> str:
    """``repr(value)`` bounded in time and length, for messages about rejected values."""
    text = _REPR.repr(value)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 3] + "..."


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader counting nodes as if every alias were expanded, and nesting depth."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._nodes = 0
        self._depth = 0
        self._sizes: dict[int, int] = {}

    def _count(self, n: int) -> None:
        self._nodes += n
        if self._nodes > MAX_YAML_NODES:
            raise ConfigError(f"more than {MAX_YAML_NODES} values once its anchors and aliases are expanded")

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            anchor = self.peek_event().anchor
            node = self.anchors.get(anchor)
            if node is not None and id(node) not in self._sizes:
                raise ConfigError(f"alias *{_show(anchor)[1:-1]} refers to the value that contains it")
            self._count(self._sizes.get(id(node), 1))
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_YAML_DEPTH:
            raise ConfigError(f"nested more than {MAX_YAML_DEPTH} levels deep")
        start = self._nodes
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        self._count(1)
        self._sizes[id(node)] = self._nodes - start
        return node


def safe_load_bounded(text: str) -> Any:
    """``yaml.safe_load`` within the size, depth and alias-expansion bounds above.

    Raises ConfigError (without a source name) for a document past the bounds and
    yaml.YAMLError for invalid YAML.
    """
    if len(text) > MAX_YAML_BYTES:
        raise ConfigError(f"larger than {MAX_YAML_BYTES // 1000} KB")
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    except (ValueError, OverflowError, TypeError, RecursionError) as exc:
        # PyYAML's constructors raise these for well-formed but impossible scalars:
        # 2001-02-30 (a date), a 5000-digit integer, an unhashable key...
        raise ConfigError(f"a value cannot be read: {_show(str(exc))[1:-1]}") from None
    finally:
        loader.dispose()


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Convert ``value`` to ``annotation`` or raise ConfigError naming ``key``."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.strip().lower() in ("null", "none", "~")):
            return None
        if args[0] is bool and isinstance(value, str) and value.strip().lower() == "auto":
            return None  # tri-state switches (run.bf16, run.channels_last): auto = on for CUDA only
        return _coerce(value, args[0], key)
    if value is None:
        raise ConfigError(f"config key {key} must not be null")
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return value.strip().lower() in ("true", "yes", "on", "1")
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ConfigError(f"config key {key} must be true or false, got {_show(value)}")
    if annotation is int:
        if isinstance(value, bool):
            raise ConfigError(f"config key {key} must be an integer, got {_show(value)}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                as_float = float(value)
            except ValueError:
                as_float = math.nan
            if math.isfinite(as_float) and as_float.is_integer():
                return int(as_float)
        raise ConfigError(f"config key {key} must be an integer, got {_show(value)}")
    if annotation is float:
        if isinstance(value, bool):
            raise ConfigError(f"config key {key} must be a number, got {_show(value)}")
        try:
            number = float(value)  # YAML 1.1 reads "1e-4" as a string; accept it
        except (TypeError, ValueError, OverflowError):  # OverflowError: a 400-digit integer
            raise ConfigError(f"config key {key} must be a number, got {_show(value)}") from None
        if not math.isfinite(number):
            raise ConfigError(f"config key {key} must be finite, got {_show(value)}")
        return number
    if annotation is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"config key {key} must be a string, got {_show(value)}")
    raise ConfigError(f"config key {key}: unsupported type {annotation}")  # pragma: no cover


def _check_range(name: str, value: Any, key: str) -> None:
    if name in CHOICES and value not in CHOICES[name]:
        raise ConfigError(f"config key {key} must be one of {', '.join(CHOICES[name])}, got {_show(value)}")
    if value is None or isinstance(value, (bool, str)):
        return
    if name in POSITIVE and not value > 0:
        raise ConfigError(f"config key {key} must be > 0, got {_show(value)}")
    if name in NON_NEGATIVE and value < 0:
        raise ConfigError(f"config key {key} must be >= 0, got {_show(value)}")
    if name in UNIT_INTERVAL and not 0 <= value <= 1:
        raise ConfigError(f"config key {key} must be in [0, 1], got {_show(value)}")
    if name in UPPER and value > UPPER[name]:
        bound = UPPER[name]
        shown = f"{int(bound):_}" if float(bound).is_integer() and bound >= 1 else f"{bound:g}"
        raise ConfigError(f"config key {key} must be <= {shown}, got {_show(value)}")


@functools.lru_cache(maxsize=None)  # get_type_hints re-evaluates every annotation (ms per call)
def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def set_value(config: TrainConfig, dotted: str, value: Any) -> bool:
    """Set ``section.key`` (or a top-level key) with type and range checks.

    Returns False for an accepted-but-ignored key of the authors' configs.
    """
    parts = dotted.strip().split(".")
    if len(parts) == 1:
        name = parts[0]
        if name not in TOP_LEVEL:
            if name in SECTIONS:
                raise ConfigError(f"config key {name} is a section; set {name}.<key>")
            raise ConfigError(f"unknown config key {name} (top-level keys: {', '.join(sorted(TOP_LEVEL))}, "
                              f"sections: {', '.join(SECTIONS)})")
        coerced = _coerce(value, TOP_LEVEL[name], name)
        _check_range(name, coerced, name)
        setattr(config, name, coerced)
        return True
    if len(parts) != 2:
        raise ConfigError(f"config key {dotted} must look like section.key")
    section, name = parts
    if section not in SECTIONS:
        raise ConfigError(f"unknown config section {section} in {dotted} (sections: {', '.join(SECTIONS)})")
    name = ALIASES.get(name, name)
    types_ = _field_types(SECTIONS[section])
    if name not in types_:
        if name in IGNORED_KEYS:
            return False
        raise ConfigError(f"unknown config key {section}.{name}")
    key = f"{section}.{name}"
    coerced = _coerce(value, types_[name], key)
    _check_range(name, coerced, key)
    setattr(getattr(config, section), name, coerced)
    return True


def _flatten(data: Any, source: str) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of sections, got {type(data).__name__}")
    flat: dict[str, Any] = {}
    for key, value in data.items():
        key = str(key)
        if key in SECTIONS:
            if value is None:
                continue
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: section {key} must be a mapping")
            for sub, sub_value in value.items():
                flat[f"{key}.{sub}"] = sub_value
        else:
            flat[key] = value
    return flat


def load_yaml_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file into ``{"section.key": value}``."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_YAML_BYTES + 1)
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {str(exc)[:300]}") from None
    try:
        data = safe_load_bounded(text)
    except ConfigError as exc:
        raise ConfigError(f"config file {path} is refused: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {str(exc)[:500]}") from None
    return _flatten(data, str(path))


def parse_set(items: list[str] | None) -> dict[str, Any]:
    """``["lapo.batch_size=64", ...]`` -> ``{"lapo.batch_size": 64}`` (values read as YAML scalars)."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--set expects section.key=value, got {_show(item)}")
        key, raw = item.split("=", 1)
        try:
            value = safe_load_bounded(raw) if raw.strip() else raw
        except ConfigError as exc:
            raise ConfigError(f"--set {_show(key)[1:-1]}: value refused: {exc}") from None
        except yaml.YAMLError:
            value = raw
        if isinstance(value, (dict, list)):
            raise ConfigError(f"--set {_show(key)[1:-1]}: expected a single value, got {_show(raw)}")
        out[key.strip()] = value
    return out


def preset_path(preset: str) -> Path:
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r} (choose from {', '.join(PRESETS)})")
    return PRESET_DIR / f"{preset}.yaml"


def load_config(
    preset: str = "smoke",
    method: str | None = None,
    yaml_path: str | Path | None = None,
    overrides: dict[str, Any] | list[str] | None = None,
) -> tuple[TrainConfig, list[str]]:
    """Resolve the configuration; returns it and the authors' keys that were ignored."""
    if method is not None and method not in METHODS:
        raise ConfigError(f"unknown method {method!r} (choose from {', '.join(METHODS)})")
    config = TrainConfig()
    ignored: list[str] = []
    for key, value in load_yaml_file(preset_path(preset)).items():
        set_value(config, key, value)
    user: dict[str, Any] = {}
    if yaml_path is not None:
        user.update(load_yaml_file(yaml_path))
    if isinstance(overrides, list):
        overrides = parse_set(overrides)
    user.update(overrides or {})
    user_keys = {_canonical(k) for k in user}
    for key, value in METHOD_DEFAULTS.get(method or "", {}).items():
        if key not in user_keys:
            set_value(config, key, value)
    for key, value in user.items():
        if not set_value(config, key, value):
            ignored.append(key)
    validate(config, method)
    return config, ignored


def _canonical(key: str) -> str:
    parts = key.split(".")
    if len(parts) == 2:
        return f"{parts[0]}.{ALIASES.get(parts[1], parts[1])}"
    return key


def validate(config: TrainConfig, method: str | None = None) -> None:
    """Cross-key checks (frame stacks only where the method chains the stages)."""
    if (method is None or method in LAM_METHODS) and config.lapo.frame_stack != config.bc.frame_stack:
        raise ConfigError(
            f"config keys lapo.frame_stack ({config.lapo.frame_stack}) and bc.frame_stack "
            f"({config.bc.frame_stack}) must match: the policy reads the frames the LAM labelled")
    if method in (None, "idm") and config.idm.frame_stack != config.bc.frame_stack:
        raise ConfigError(
            f"config keys idm.frame_stack ({config.idm.frame_stack}) and bc.frame_stack "
            f"({config.bc.frame_stack}) must match: the policy reads the frames the IDM labelled")
    if config.run.stop_after is not None:
        allowed = PIPELINES.get(method) if method else sorted({s for p in PIPELINES.values() for s in p})
        if config.run.stop_after not in allowed:
            raise ConfigError(f"config key run.stop_after must be one of {', '.join(allowed)} "
                              f"(the stages of {method or 'the methods'}), got {config.run.stop_after!r}")
    if config.lapo.warmup_epochs > config.lapo.num_epochs:
        raise ConfigError("config key lapo.warmup_epochs must not exceed lapo.num_epochs")
    if config.bc.warmup_epochs > config.bc.num_epochs:
        raise ConfigError("config key bc.warmup_epochs must not exceed bc.num_epochs")


def config_from_dict(data: dict) -> TrainConfig:
    """Rebuild a config saved with ``to_dict`` (e.g. a run folder's config.yaml)."""
    config = TrainConfig()
    flat = _flatten(data, "config")
    for key, value in LEGACY_VALUES.items():
        if isinstance(data, dict) and key.split(".")[0] in data and key not in flat:
            set_value(config, key, value)
    for key, value in flat.items():
        set_value(config, key, value)
    return config
