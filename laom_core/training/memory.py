"""A memory estimate made before any real model is built: a run that cannot fit the machine is
refused with the estimate in the message, instead of swapping for an hour or being killed.

Each stage's models are built on PyTorch's ``meta`` device (shapes only: no memory, no
compute) and run once on a meta batch of the stage's size. The estimate of a stage is:

- **state**: the trained parameters four times (weights, gradients, Adam's two moments),
  plus frozen copies kept beside them (LAOM's EMA target encoder; the frozen labeller of a
  BC stage);
- **activations**: the output of every leaf module in the trained forward pass (heads,
  LAPO's pixel decoder and LAOM+supervision's labeled batch included), which backward
  keeps, plus the float32 input batch (o_t and its future);
- **data cache**: what the sampler keeps of the training frames as uint8, at most
  ``run.memory_budget_mb`` (on the GPU when it runs on CUDA, as the sampler does).

Stages run one after the other, so the largest decides. Leaf outputs approximate what
autograd saves (in-place activations share storage, some ops save their inputs too), so the
figure is an estimate, not a bound; every preset passes where it can run.

``LAOM_STUDIO_MEMORY_CHECK=0`` turns the check off.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

from laom_core.errors import ConfigError
from laom_core.training.stages import planned_stages

FLOAT_BYTES = 4
ADAM_COPIES = 4  # weights, gradients, first and second moments


@dataclass
class StageEstimate:
    stage: str
    section: str
    batch_size: int
    frame_stack: int
    encoder_scale: int
    state_bytes: int       # parameters x 4 (+ frozen copies)
    input_bytes: int       # the float32 input batch
    activation_bytes: int  # leaf-module outputs kept for backward
    cache_bytes: int       # the sampler's frame cache

    @property
    def total(self) -> int:
        return self.state_bytes + self.input_bytes + self.activation_bytes + self.cache_bytes


def _param_bytes(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters()) * FLOAT_BYTES


def _leaf_output_bytes(module: nn.Module, run) -> int:
    """Bytes of every leaf module's tensor outputs while ``run()`` calls ``module``."""
    total = 0

    def count(_mod, _inp, out) -> None:
        nonlocal total
        for tensor in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(tensor, torch.Tensor):
                total += tensor.numel() * FLOAT_BYTES

    leaves = [m for m in module.modules() if not any(True for _ in m.children())]
    hooks = [m.register_forward_hook(count) for m in leaves]
    try:
        run()
    finally:
        for hook in hooks:
            hook.remove()
    return total


def _frames(batch: int, frame_stack: int, img_hw: int) -> torch.Tensor:
    return torch.empty(batch, 3 * frame_stack, img_hw, img_hw, device="meta")


def _lam_stage(config, method: str, img_hw: int, action_dim: int) -> tuple[int, int, int]:
    from laom_core.training.lam import build_lam

    cfg = config.lapo
    model = build_lam(method, cfg, 3 * cfg.frame_stack, img_hw, action_dim)
    obs = _frames(cfg.batch_size, cfg.frame_stack, img_hw)

    def forward() -> None:
        model(obs, obs)
        if method == "laom-labels":
            labeled = _frames(cfg.labeled_batch_size, cfg.frame_stack, img_hw)
            model.action_head(model.idm(labeled, labeled))

    state = _param_bytes(model) * ADAM_COPIES
    if method != "lapo":  # the EMA target encoder
        state += _param_bytes(model.encoder)
    return state, 2 * obs.numel() * FLOAT_BYTES, _leaf_output_bytes(model, forward)


def _bc_stage(config, method: str, img_hw: int, action_dim: int) -> tuple[int, int, int]:
    from laom_core.models import ActionIDM, BCPolicy
    from laom_core.training.lam import build_lam

    cfg = config.bc
    out_dim = config.lapo.latent_action_dim if method in ("lapo", "laom", "laom-labels") else action_dim
    policy = BCPolicy(3 * cfg.frame_stack, out_dim, cfg.encoder_scale, cfg.encoder_num_res_blocks, cfg.dropout,
                      cfg.encoder_deep)
    obs = _frames(cfg.batch_size, cfg.frame_stack, img_hw)
    state = _param_bytes(policy) * ADAM_COPIES
    if method == "idm":  # the frozen labeller
        idm = config.idm
        state += _param_bytes(ActionIDM(3 * idm.frame_stack, img_hw, action_dim, idm.encoder_scale,
                                        idm.encoder_num_res_blocks, idm.dropout, idm.encoder_deep))
    elif method != "bc":
        state += _param_bytes(build_lam(method, config.lapo, 3 * config.lapo.frame_stack, img_hw, action_dim))
    return state, 2 * obs.numel() * FLOAT_BYTES, _leaf_output_bytes(policy, lambda: policy(obs))


def _idm_stage(config, method: str, img_hw: int, action_dim: int) -> tuple[int, int, int]:
    from laom_core.models import ActionIDM

    cfg = config.idm
    idm = ActionIDM(3 * cfg.frame_stack, img_hw, action_dim, cfg.encoder_scale, cfg.encoder_num_res_blocks,
                    cfg.dropout, cfg.encoder_deep)
    obs = _frames(cfg.batch_size, cfg.frame_stack, img_hw)
    return _param_bytes(idm) * ADAM_COPIES, 2 * obs.numel() * FLOAT_BYTES, _leaf_output_bytes(idm, lambda: idm(obs, obs))


_STAGES = {"lam": ("lapo", _lam_stage), "bc": ("bc", _bc_stage), "idm": ("idm", _idm_stage)}


def estimate(config, method: str, img_hw: int, action_dim: int = 6,
             data_transitions: int | None = None) -> list[StageEstimate]:
    """Per-stage estimates (bytes) for the stages ``method`` runs with image encoders.

    ``data_transitions``: frames in the training data (the cache holds at most all of them);
    unknown means the whole ``run.memory_budget_mb``.
    """
    budget = int(config.run.memory_budget_mb) * 2**20
    frames_bytes = budget if data_transitions is None else int(data_transitions) * 3 * img_hw * img_hw
    cache = min(budget, frames_bytes)
    out = []
    with torch.device("meta"):
        for stage in planned_stages(method, config.run.stop_after):
            if stage not in _STAGES:
                continue
            section, measure = _STAGES[stage]
            cfg = getattr(config, section)
            state, inputs, acts = measure(config, method, img_hw, action_dim)
            out.append(StageEstimate(stage=stage, section=section, batch_size=cfg.batch_size,
                                     frame_stack=cfg.frame_stack, encoder_scale=cfg.encoder_scale,
                                     state_bytes=state, input_bytes=inputs, activation_bytes=acts,
                                     cache_bytes=cache))
    return out


def available_bytes(device) -> tuple[int, str]:
    """Free memory where the activations live: the GPU's for CUDA, else the host's."""
    if getattr(device, "type", str(device)) == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free), "free on the GPU"
    import psutil

    return int(psutil.virtual_memory().available), "available RAM"


def _gb(n: float) -> str:
    return f"{n / 2**30:.1f} GB"


def check_disabled() -> bool:
    return os.environ.get("LAOM_STUDIO_MEMORY_CHECK", "1").strip().lower() in ("0", "false", "no", "off")


def check_fits(config, method: str, img_hw: int, device, available: int | None = None, *,
               action_dim: int = 6, data_transitions: int | None = None) -> list[StageEstimate]:
    """Raise ConfigError when the largest stage's estimate exceeds the free memory."""
    if check_disabled():
        return []
    stages = estimate(config, method, img_hw, action_dim, data_transitions)
    if not stages:
        return stages
    where = "available"
    if available is None:
        available, where = available_bytes(device)
    worst = max(stages, key=lambda s: s.total)
    if worst.total > available:
        raise ConfigError(
            f"this run needs about {_gb(worst.total)} of memory in its {worst.stage} stage "
            f"({worst.section}.batch_size={worst.batch_size} x frame stack {worst.frame_stack} x {img_hw}x{img_hw} "
            f"images, encoder_scale {worst.encoder_scale}: {_gb(worst.activation_bytes + worst.input_bytes)} of "
            f"activations and inputs, {_gb(worst.state_bytes)} of weights and optimizer state, "
            f"{_gb(worst.cache_bytes)} of data cache), but the machine has {_gb(available)} {where}; "
            f"lower {worst.section}.batch_size or {worst.section}.encoder_scale, or run.memory_budget_mb "
            f"(LAOM_STUDIO_MEMORY_CHECK=0 skips this check)")
    return stages
