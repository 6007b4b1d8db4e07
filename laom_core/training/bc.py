"""Stage 2: behaviour cloning o_t -> target, where the target is a frozen labeller's output.

The labeller decides the method: the frozen LAM's z = IDM(o_t, o_{t+1}) (latent BC), the
true action (plain BC), or the frozen IDM baseline's pseudo-action (IDM + BC). Labels are
computed on the fly from the un-augmented frames, so no pseudo-labelled copy of the
dataset is ever written.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F

from laom_core.data.sampler import Batch
from laom_core.models import BCPolicy
from laom_core.training.augment import augment_batch
from laom_core.training.common import (autocast, frames, lr_at, maybe_compile, optimizer_step, prepare, RunContext,
                                       schedule, set_lr, Stage)

# label(batch, obs, next_obs) -> target (B, D); obs/next_obs are float frames on the device
Labeller = Callable[[Batch, torch.Tensor, torch.Tensor], torch.Tensor]


def true_actions(batch: Batch, obs: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    return batch.actions


def build_policy(ctx: RunContext, out_dim: int) -> BCPolicy:
    cfg = ctx.config.bc
    return BCPolicy(3 * cfg.frame_stack, out_dim, cfg.encoder_scale, cfg.encoder_num_res_blocks, cfg.dropout,
                    cfg.encoder_deep)


def train_bc(ctx: RunContext, policy: BCPolicy, label: Labeller, stage_name: str = "bc") -> dict[str, Any]:
    cfg, run, device = ctx.config.bc, ctx.config.run, ctx.device
    policy = prepare(policy, device, run.channels_last)
    optimizer = torch.optim.Adam(policy.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    aug_gen = torch.Generator(device=device)
    aug_gen.manual_seed(ctx.config.seed + 29)
    total, warmup = schedule(cfg.num_epochs, cfg.warmup_epochs, cfg.total_updates, ctx.info["train_transitions"],
                             cfg.batch_size)
    stage = Stage(ctx, stage_name, total, {"policy": policy}, {"policy": optimizer}, {"augment": aug_gen})
    start = stage.restore()
    sampler = ctx.make_sampler(ctx.data_path, stage=stage_name, traj_ids=ctx.info["train_ids"], start_step=start,
                               frame_stack=cfg.frame_stack)
    forward = maybe_compile(policy, run.compile)

    policy.train()
    for step in stage.steps():
        batch = sampler.sample(cfg.batch_size, multi_step=False)
        obs = frames(batch.obs, device, run.channels_last)
        with torch.no_grad(), autocast(device, run.bf16):
            target = label(batch, obs, frames(batch.next_obs, device, run.channels_last)).float()
        if cfg.use_aug:
            obs = augment_batch(obs, aug_gen)
        lr = lr_at(step, total, warmup, cfg.learning_rate)
        set_lr(optimizer, lr)

        with autocast(device, run.bf16):
            pred = forward(obs)
            loss = F.mse_loss(pred.float(), target)

        gnorm = optimizer_step(optimizer, loss, policy.parameters(), cfg.grad_norm)

        stage.count(len(batch))
        if stage.should_log(step):
            stage.log(step, {"loss": loss.item(), "lr": lr, "grad_norm": gnorm,
                             "target_norm": float(target.norm(dim=-1).mean())})
    sampler.close()
    policy.eval()
    return stage.finish({"final_loss": ctx.metrics.last.get(stage_name, {}).get("loss")})
