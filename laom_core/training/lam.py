"""Stage 1: the latent action model (LAPO, LAOM, LAOM + supervision) on unlabeled data.

One update: sample (o_t, o_{t+1}, o_{t+k}) -> augment (``aug_views``: a view per frame,
as the authors, or one shared by the three) -> IDM gives z from (o_t, o_{t+k})
-> FDM predicts o_{t+1} (pixels for LAPO; the EMA target encoder's embedding for LAOM)
-> MSE (+ labels_coef * action MSE of a linear head on a labeled batch for LAOM +
supervision) -> Adam step -> EMA update -> online probes on detached z and embedding.
"""
from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from laom_core.config import LAMConfig
from laom_core.models import LAOM, LAPO
from laom_core.training.augment import augment_views
from laom_core.training.common import (autocast, ema_update, frames, lr_at, maybe_compile, optimizer_step, prepare,
                                       RunContext, schedule, set_lr, Stage)
from laom_core.training.probes import OnlineProbe



def build_lam(method: str, cfg: LAMConfig, obs_channels: int, img_hw: int, action_dim: int) -> nn.Module:
    true_action_dim = action_dim if method == "laom-labels" else None
    if method == "lapo":
        return LAPO(obs_channels, img_hw, cfg.latent_action_dim, cfg.encoder_scale, cfg.encoder_num_res_blocks,
                    cfg.encoder_dropout, cfg.encoder_deep, fdm_residual=cfg.fdm_residual, fdm_arch=cfg.fdm_arch)
    return LAOM(
        obs_channels, img_hw, cfg.latent_action_dim,
        encoder_scale=cfg.encoder_scale, encoder_num_res_blocks=cfg.encoder_num_res_blocks,
        encoder_dropout=cfg.encoder_dropout, encoder_norm_out=cfg.encoder_norm_out, encoder_deep=cfg.encoder_deep,
        embed_batch_norm=cfg.embed_batch_norm,
        act_head_dim=cfg.act_head_dim, act_head_dropout=cfg.act_head_dropout,
        obs_head_dim=cfg.obs_head_dim, obs_head_dropout=cfg.obs_head_dropout,
        head_num_blocks=cfg.head_num_blocks, head_expansion=cfg.head_expansion,
        true_action_dim=true_action_dim,
    )


class TargetEncoder(nn.Module):
    """The EMA copy of LAOM's encoder that provides the FDM's targets."""

    def __init__(self, model: LAOM) -> None:
        super().__init__()
        self.encoder = copy.deepcopy(model.encoder)
        self.out_norm = copy.deepcopy(model.out_norm)
        self.requires_grad_(False)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.out_norm(self.encoder(obs).flatten(1))


def _augment(obs: torch.Tensor, next_obs: torch.Tensor, future_obs: torch.Tensor, cfg: LAMConfig,
             generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """Augment o_t, o_{t+1} and o_{t+k}: ``cfg.aug_views`` "independent" (the authors: a view
    drawn per frame, three separate calls) or "shared" (one view per sample for all three).

    With independent views the three frames of a transition move against each other (up to
    14 px of shift and 90 degrees of rotation by default), far more than the agent moves in
    a step, so the IDM cannot read the action off raw pixel differences and has to compare
    the content of the frames. An earlier version of this note said independent views
    hurt; that rested on one toy-set run's FDM loss (it stayed at the mean predictor's),
    not on the probe. Measured since, on distracted cheetah-run at cpu-small scale (600
    updates, one seed, held-out probe MSE z -> action, chance 0.594): a shared mild view
    (10 degrees, perspective 0.2 without pad) 0.532, the authors' independent strong views
    0.553; a gap below LAOM's seed-to-seed spread at that scale (0.031). The small presets
    keep the shared mild view, the paper preset has the authors' (see cpu-small.yaml).
    """
    return augment_views(obs, next_obs, future_obs, views=cfg.aug_views, generator=generator,
                         shift_pad=cfg.aug_shift_pad, max_rotation_deg=cfg.aug_max_rotation_deg,
                         perspective_distortion=cfg.aug_perspective_distortion,
                         perspective_pad=cfg.aug_perspective_pad)


def train_lam(ctx: RunContext, model: nn.Module) -> dict[str, Any]:
    """Train ``model`` in place (resuming from ``last.pt`` when asked); returns the stage record."""
    cfg, run = ctx.config.lapo, ctx.config.run
    device, method = ctx.device, ctx.method
    is_lapo = isinstance(model, LAPO)
    model = prepare(model, device, run.channels_last)
    target = TargetEncoder(model).to(device) if not is_lapo and cfg.ema_target else None
    act_probe = OnlineProbe(cfg.latent_action_dim, ctx.info["action_dim"], lr=cfg.learning_rate).to(device)
    state_probe = OnlineProbe(model.embed_dim, ctx.info["state_dim"], lr=cfg.learning_rate).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    aug_gen = torch.Generator(device=device)
    aug_gen.manual_seed(ctx.config.seed + 17)
    total, warmup = schedule(cfg.num_epochs, cfg.warmup_epochs, cfg.total_updates, ctx.info["train_transitions"],
                             cfg.batch_size)
    modules = {"model": model, "act_probe": act_probe, "state_probe": state_probe}
    if target is not None:
        modules["target"] = target
    stage = Stage(ctx, "lam", total, modules,
                  {"model": optimizer, "act_probe": act_probe.optimizer, "state_probe": state_probe.optimizer},
                  {"augment": aug_gen})
    start = stage.restore()
    sampler = ctx.make_sampler(ctx.data_path, stage="lam", traj_ids=ctx.info["train_ids"],
                               future_obs_offset=cfg.future_obs_offset, start_step=start)
    labeled = None
    if method == "laom-labels":
        labeled = ctx.make_labeled_sampler(stage="lam-labeled", future_obs_offset=1, start_step=start)
    forward = maybe_compile(model, run.compile)
    multi_step = cfg.future_obs_offset > 1
    # probe_online, the paper's probe: the online probe's MSE on the training batches it is
    # trained on, averaged over the last tenth of the updates.
    online_from = total - max(1, total // 10)
    online_sum, online_n = torch.zeros((), device=device), 0

    model.train()
    for step in stage.steps():
        batch = sampler.sample(cfg.batch_size, multi_step=multi_step)
        obs, next_obs, future_obs = (frames(x, device, run.channels_last)
                                     for x in (batch.obs, batch.next_obs, batch.future_obs))
        if cfg.use_aug:
            obs, next_obs, future_obs = _augment(obs, next_obs, future_obs, cfg, aug_gen)
        lr = lr_at(step, total, warmup, cfg.learning_rate)
        set_lr(optimizer, lr)

        with autocast(device, run.bf16):
            pred, z, embedding = forward(obs, future_obs)
            if is_lapo:
                fdm_target = model.target_frame(next_obs)
            else:
                with torch.no_grad():
                    fdm_target = target(next_obs) if target is not None else model.embed(next_obs)
            fdm_loss = F.mse_loss(pred.float(), fdm_target.float().detach())
            loss = fdm_loss
            if labeled is not None:
                lb = labeled.sample(cfg.labeled_batch_size, multi_step=False)
                z_labeled = model.idm(frames(lb.obs, device, run.channels_last),
                                      frames(lb.next_obs, device, run.channels_last))
                action_loss = F.mse_loss(model.action_head(z_labeled).float(), lb.actions)
                loss = fdm_loss + cfg.labels_coef * action_loss

        gnorm = optimizer_step(optimizer, loss, model.parameters(), cfg.grad_norm)
        if target is not None and step % cfg.target_update_every == 0:
            ema_update(target.encoder, model.encoder, cfg.target_tau)

        probe_mse = act_probe.update(z, batch.actions)
        if step >= online_from:
            online_sum += probe_mse
            online_n += 1
        state_probe_mse = state_probe.update(embedding, batch.states)
        stage.count(len(batch))
        if stage.should_log(step):
            values = {"loss": loss.item(), "fdm_loss": fdm_loss.item(), "probe_mse": probe_mse,
                      "state_probe_mse": state_probe_mse, "lr": lr, "grad_norm": gnorm,
                      "latent_norm": float(z.detach().float().norm(dim=-1).mean())}
            if labeled is not None:
                values["action_loss"] = action_loss.item()
            if not is_lapo:
                values["target_norm"] = float(fdm_target.float().norm(dim=-1).mean())
            stage.log(step, values)
    sampler.close()
    if labeled is not None:
        labeled.close()
    model.eval()
    last = ctx.metrics.last.get("lam", {})
    # A run resumed after the window started averages only what this process saw of it.
    probe_online = float(online_sum / online_n) if online_n else last.get("probe_mse")
    return stage.finish({"final_loss": last.get("loss"), "probe_online": probe_online,
                         "probe_online_updates": online_n})


@torch.no_grad()
def fdm_z_usage(ctx: RunContext, model: nn.Module, batches: int = 8, batch_size: int = 128) -> dict[str, float]:
    """Does the forward model use the latent action? Held-out one-step FDM losses.

    ``fdm_loss``: with each transition's own z = IDM(o_t, o_{t+1}); ``fdm_loss_shuffled_z``:
    with z permuted across the batch (same distribution, wrong transition); ``z_gain``:
    shuffled / own - 1 (0 means z is ignored: its probes can only be at chance).
    For LAPO also ``copy_loss``: predicting that nothing moves (:meth:`LAPO.no_change`, on
    the channels the FDM predicts: the newest frame for "unet"; the advanced stack for
    "authors", whose older frames are exact, so its losses average the newest frame's error
    over all stacked channels and are not comparable in size with "unet"'s). LAOM's
    target here is the online encoder's embedding of o_{t+1} (the EMA copy is not kept).
    """
    was_training = model.training
    model.eval()
    ids = ctx.info["held_out_ids"] or ctx.info["train_ids"]
    sampler = ctx.make_sampler(ctx.data_path, stage="held-out", traj_ids=ids, frame_stack=ctx.config.lapo.frame_stack)
    sums = {"fdm_loss": 0.0, "fdm_loss_shuffled_z": 0.0, "copy_loss": 0.0}
    gen = torch.Generator().manual_seed(0)
    try:
        for _ in range(batches):
            b = sampler.sample(batch_size, multi_step=False)
            obs = frames(b.obs, ctx.device, ctx.config.run.channels_last)
            nxt = frames(b.next_obs, ctx.device, ctx.config.run.channels_last)
            perm = torch.randperm(obs.shape[0], generator=gen).to(ctx.device)
            with autocast(ctx.device, ctx.config.run.bf16):
                z = model.idm(obs, nxt)
                if isinstance(model, LAPO):
                    target = model.target_frame(nxt)
                    pred, _ = model.fdm(obs, z)
                    shuffled, _ = model.fdm(obs, z[perm])
                    sums["copy_loss"] += F.mse_loss(model.no_change(obs).float(), target.float()).item()
                else:
                    e_t, target = model.embed(obs), model.embed(nxt)
                    pred, shuffled = model.fdm_head(e_t, z), model.fdm_head(e_t, z[perm])
            sums["fdm_loss"] += F.mse_loss(pred.float(), target.float()).item()
            sums["fdm_loss_shuffled_z"] += F.mse_loss(shuffled.float(), target.float()).item()
    finally:
        sampler.close()
        model.train(was_training)
    out = {k: v / batches for k, v in sums.items()}
    if not isinstance(model, LAPO):
        out.pop("copy_loss")
    out["z_gain"] = out["fdm_loss_shuffled_z"] / out["fdm_loss"] - 1 if out["fdm_loss"] > 0 else 0.0
    return out
