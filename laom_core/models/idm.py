"""Supervised inverse dynamics baseline: (o_t, o_{t+1}) stacked along channels -> action."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from laom_core.models.encoder import ImpalaEncoder, orthogonal_init


class ActionIDM(nn.Module):
    def __init__(self, obs_channels: int, img_hw: int, action_dim: int, encoder_scale: int = 12,
                 encoder_num_res_blocks: int = 2, dropout: float = 0.0, encoder_deep: bool = False) -> None:
        super().__init__()
        self.encoder = ImpalaEncoder(2 * obs_channels, encoder_scale, encoder_num_res_blocks, dropout, encoder_deep)
        self.embed_dim = math.prod(self.encoder.output_shape(img_hw))
        self.out = nn.Linear(self.embed_dim, action_dim)
        orthogonal_init(self.out)

    def features(self, obs: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        return F.relu6(self.encoder(torch.cat([obs, next_obs], dim=1)).flatten(1))

    def forward(self, obs: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(obs, next_obs))
