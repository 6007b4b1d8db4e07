"""LAOM: latent action model with a shared encoder and a latent-space forward model.

- one encoder E for every frame (no projection heads);
- IDM head: z = f(E(o_t), E(o_{t+k})), conditioning re-injected every block;
- FDM head: predicts the *target* embedding of o_{t+1} from stop-grad E(o_t) and z;
  the target comes from an EMA copy of E (``target_embedding`` is called on that copy);
- optional linear head z -> true action (LAOM + supervision).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from laom_core.models.encoder import ImpalaEncoder, orthogonal_init
from laom_core.models.heads import ConditionedMLP


class LAOM(nn.Module):
    def __init__(
        self,
        obs_channels: int,
        img_hw: int,
        latent_action_dim: int,
        encoder_scale: int = 1,
        encoder_num_res_blocks: int = 2,
        encoder_dropout: float = 0.0,
        encoder_norm_out: bool = False,
        encoder_deep: bool = False,
        embed_batch_norm: bool = False,
        act_head_dim: int = 1024,
        act_head_dropout: float = 0.0,
        obs_head_dim: int = 1024,
        obs_head_dropout: float = 0.0,
        head_num_blocks: int = 3,
        head_expansion: int = 4,
        true_action_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.encoder = ImpalaEncoder(obs_channels, encoder_scale, encoder_num_res_blocks, encoder_dropout, encoder_deep)
        self.embed_dim = math.prod(self.encoder.output_shape(img_hw))
        if embed_batch_norm:
            # Per-feature standardization over the batch (running statistics in eval mode).
            # A small encoder's embedding is a large constant plus a small sample-dependent
            # part; the heads then see near-constant inputs and take thousands of updates to
            # pick up the motion. Standardizing makes the dependent part the whole input.
            self.out_norm: nn.Module = nn.BatchNorm1d(self.embed_dim, affine=False)
        elif encoder_norm_out:
            self.out_norm = nn.LayerNorm(self.embed_dim, elementwise_affine=False)
        else:
            self.out_norm = nn.Identity()
        self.latent_action_dim = latent_action_dim
        self.idm_head = ConditionedMLP(0, 2 * self.embed_dim, act_head_dim, latent_action_dim,
                                       head_num_blocks, head_expansion, act_head_dropout)
        self.fdm_head = ConditionedMLP(self.embed_dim, latent_action_dim, obs_head_dim, self.embed_dim,
                                       head_num_blocks, head_expansion, obs_head_dropout)
        self.action_head = nn.Linear(latent_action_dim, true_action_dim) if true_action_dim else None
        if self.action_head is not None:
            orthogonal_init(self.action_head)

    def embed(self, obs: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, embed_dim)."""
        return self.out_norm(self.encoder(obs).flatten(1))

    def target_embedding(self, obs: torch.Tensor) -> torch.Tensor:
        return self.embed(obs)

    def idm(self, obs: torch.Tensor, future_obs: torch.Tensor) -> torch.Tensor:
        e = self.embed(torch.cat([obs, future_obs], dim=0))
        e_t, e_k = e.chunk(2, dim=0)
        return self.idm_head(None, torch.cat([e_t, e_k], dim=-1))

    def forward(self, obs: torch.Tensor, future_obs: torch.Tensor):
        """Returns (predicted next embedding, latent action z, embedding of o_t)."""
        e = self.embed(torch.cat([obs, future_obs], dim=0))
        e_t, e_k = e.chunk(2, dim=0)
        z = self.idm_head(None, torch.cat([e_t, e_k], dim=-1))
        pred_next = self.fdm_head(e_t.detach(), z)
        return pred_next, z, e_t

    @torch.no_grad()
    def label(self, obs: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        """Latent action of the one-step transition: the label latent BC learns."""
        return self.idm(obs, next_obs)
