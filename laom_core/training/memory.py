"""A memory estimate made before any model is built: a run that cannot fit the machine is
refused with the estimate in the message, instead of swapping for an hour or being killed.

The estimate counts what backpropagation must keep per stage (stages run one after the
other, so the largest counts): the input batch as float32 (frame stack x 3 channels, the
observation and its future for the two-frame models) and the Impala encoder's activations
(each stage's strided conv output plus four maps per residual block, at 1/2, 1/4, ... of
the image side). It leaves out the heads, the pixel decoder and the data cache
(``run.memory_budget_mb`` bounds that), so it is a lower bound: a refused run would
certainly not fit, and every preset passes on a machine that can run it.

``LAOM_STUDIO_MEMORY_CHECK=0`` turns the check off.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from laom_core.errors import ConfigError
from laom_core.training.stages import planned_stages

SHALLOW_CHANNELS = (16, 32, 32)  # models/encoder.py (not imported: no torch here)
DEEP_CHANNELS = (16, 32, 64, 128, 256)
FLOAT_BYTES = 4


@dataclass
class StageEstimate:
    stage: str
    section: str
    batch_size: int
    frame_stack: int
    encoder_scale: int
    passes: int  # images encoded per sample with gradients (o_t and o_t+k for the latent models)
    input_bytes: int
    activation_bytes: int

    @property
    def total(self) -> int:
        return self.input_bytes + self.activation_bytes


def _encoder_activation_elems(img_hw: int, scale: int, res_blocks: int, deep: bool) -> int:
    """Activation elements one image keeps through the Impala encoder for backward."""
    side, elems = img_hw, 0
    for width in DEEP_CHANNELS if deep else SHALLOW_CHANNELS:
        side = (side + 1) // 2
        elems += width * scale * side * side * (1 + 4 * res_blocks)
    return elems


def _stage(stage: str, section: str, cfg, img_hw: int, batch_size: int, passes: int, in_frames: int) -> StageEstimate:
    per_image_in = in_frames * 3 * img_hw * img_hw
    acts = _encoder_activation_elems(img_hw, cfg.encoder_scale, cfg.encoder_num_res_blocks, cfg.encoder_deep)
    return StageEstimate(
        stage=stage, section=section, batch_size=batch_size, frame_stack=cfg.frame_stack,
        encoder_scale=cfg.encoder_scale, passes=passes,
        input_bytes=batch_size * per_image_in * 2 * FLOAT_BYTES,  # o_t and its future
        activation_bytes=batch_size * passes * acts * FLOAT_BYTES,
    )


def estimate(config, method: str, img_hw: int) -> list[StageEstimate]:
    """Per-stage estimates (bytes) for the stages ``method`` runs with encoders."""
    out = []
    for stage in planned_stages(method, config.run.stop_after):
        if stage == "lam":
            lam = config.lapo
            out.append(_stage("lam", "lapo", lam, img_hw, lam.batch_size, 2, lam.frame_stack))
        elif stage == "bc":
            bc = config.bc
            out.append(_stage("bc", "bc", bc, img_hw, bc.batch_size, 1, bc.frame_stack))
        elif stage == "idm":
            idm = config.idm
            out.append(_stage("idm", "idm", idm, img_hw, idm.batch_size, 1, 2 * idm.frame_stack))
    return out


def available_bytes(device) -> tuple[int, str]:
    """Free memory where the activations live: the GPU's for CUDA, else the host's."""
    if getattr(device, "type", str(device)) == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info(device)
        return int(free), "free on the GPU"
    import psutil

    return int(psutil.virtual_memory().available), "available RAM"


def _gb(n: float) -> str:
    return f"{n / 2**30:.1f} GB"


def check_fits(config, method: str, img_hw: int, device, available: int | None = None) -> list[StageEstimate]:
    """Raise ConfigError when the largest stage's estimate exceeds the free memory."""
    stages = estimate(config, method, img_hw)
    if not stages or os.environ.get("LAOM_STUDIO_MEMORY_CHECK", "1").strip().lower() in ("0", "false", "no", "off"):
        return stages
    where = "available"
    if available is None:
        available, where = available_bytes(device)
    worst = max(stages, key=lambda s: s.total)
    if worst.total > available:
        raise ConfigError(
            f"this run needs at least {_gb(worst.total)} of memory in its {worst.stage} stage "
            f"({worst.section}.batch_size={worst.batch_size} x frame stack {worst.frame_stack} x {img_hw}x{img_hw} "
            f"images, encoder_scale {worst.encoder_scale}: {_gb(worst.input_bytes)} of inputs, "
            f"{_gb(worst.activation_bytes)} of activations), but the machine has {_gb(available)} {where}; "
            f"lower {worst.section}.batch_size or {worst.section}.encoder_scale "
            f"(LAOM_STUDIO_MEMORY_CHECK=0 skips this check)")
    return stages
