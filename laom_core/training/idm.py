"""IDM baseline, stage 1: supervised inverse dynamics (o_t, o_{t+1}) -> a on the labeled data.

Stage 2 (bc.py) then clones the frozen IDM's pseudo-actions on the unlabeled dataset.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from laom_core.models import ActionIDM
from laom_core.training.augment import augment_pair
from laom_core.training.common import (autocast, frames, lr_at, maybe_compile, optimizer_step, prepare, RunContext,
                                       schedule, set_lr, Stage)


def build_idm(ctx: RunContext) -> ActionIDM:
    cfg = ctx.config.idm
    return ActionIDM(3 * cfg.frame_stack, ctx.info["img_hw"], ctx.info["action_dim"], cfg.encoder_scale,
                     cfg.encoder_num_res_blocks, cfg.dropout, cfg.encoder_deep)


def train_idm(ctx: RunContext, idm: ActionIDM) -> dict[str, Any]:
    cfg, run, device = ctx.config.idm, ctx.config.run, ctx.device
    idm = prepare(idm, device, run.channels_last)
    optimizer = torch.optim.Adam(idm.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    aug_gen = torch.Generator(device=device)
    aug_gen.manual_seed(ctx.config.seed + 43)
    total = cfg.total_updates
    warmup = cfg.warmup_updates or schedule(1, cfg.warmup_epochs, None, ctx.info["labeled_transitions"],
                                            cfg.batch_size)[1]
    warmup = min(warmup, total)
    stage = Stage(ctx, "idm", total, {"idm": idm}, {"idm": optimizer}, {"augment": aug_gen})
    start = stage.restore()
    sampler = ctx.make_labeled_sampler(stage="idm", start_step=start, frame_stack=cfg.frame_stack)
    forward = maybe_compile(idm, run.compile)

    idm.train()
    for step in stage.steps():
        batch = sampler.sample(cfg.batch_size, multi_step=False)
        obs = frames(batch.obs, device, run.channels_last)
        next_obs = frames(batch.next_obs, device, run.channels_last)
        if cfg.use_aug:
            obs, next_obs = augment_pair(obs, next_obs, generator=aug_gen)
        lr = lr_at(step, total, warmup, cfg.learning_rate)
        set_lr(optimizer, lr)

        with autocast(device, run.bf16):
            pred = forward(obs, next_obs)
            loss = F.mse_loss(pred.float(), batch.actions)

        gnorm = optimizer_step(optimizer, loss, idm.parameters(), cfg.grad_norm)

        stage.count(len(batch))
        if stage.should_log(step):
            stage.log(step, {"loss": loss.item(), "lr": lr, "grad_norm": gnorm})
    sampler.close()
    idm.eval()
    return stage.finish({"final_loss": ctx.metrics.last.get("idm", {}).get("loss")})
