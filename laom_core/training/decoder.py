"""Stage 3: the action decoder z -> a on the small labeled dataset.

The frozen latent policy predicts z from o_t; the decoder learns to map that prediction to
the true action (so evaluation runs exactly what was trained: policy, then decoder).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from laom_core.models import ActionDecoder, BCPolicy
from laom_core.training.common import (autocast, frames, lr_at, optimizer_step, prepare, RunContext, schedule, set_lr,
                                       Stage)


def build_decoder(ctx: RunContext) -> ActionDecoder:
    return ActionDecoder(ctx.config.lapo.latent_action_dim, ctx.info["action_dim"], ctx.config.decoder.hidden_dim)


def train_decoder(ctx: RunContext, policy: BCPolicy, decoder: ActionDecoder) -> dict[str, Any]:
    cfg, run, device = ctx.config.decoder, ctx.config.run, ctx.device
    decoder = prepare(decoder, device, False)
    policy.eval().requires_grad_(False)
    optimizer = torch.optim.Adam(decoder.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    total = cfg.total_updates
    _, warmup = schedule(1, cfg.warmup_epochs, None, ctx.info["labeled_transitions"], cfg.batch_size)
    stage = Stage(ctx, "decoder", total, {"decoder": decoder}, {"decoder": optimizer})
    start = stage.restore()
    sampler = ctx.make_labeled_sampler(stage="decoder", start_step=start,
                                       frame_stack=ctx.config.bc.frame_stack)

    decoder.train()
    for step in stage.steps():
        batch = sampler.sample(cfg.batch_size, multi_step=False)
        with torch.no_grad(), autocast(device, run.bf16):
            z = policy(frames(batch.obs, device, run.channels_last)).float()
        lr = lr_at(step, total, min(warmup, total), cfg.learning_rate)
        set_lr(optimizer, lr)

        pred = decoder(z)
        loss = F.mse_loss(pred, batch.actions)

        gnorm = optimizer_step(optimizer, loss, decoder.parameters(), None)

        stage.count(len(batch))
        if stage.should_log(step):
            stage.log(step, {"loss": loss.item(), "lr": lr, "grad_norm": gnorm,
                             "latent_norm": float(z.norm(dim=-1).mean())})
    sampler.close()
    decoder.eval()
    return stage.finish({"final_loss": ctx.metrics.last.get("decoder", {}).get("loss")})
