"""BC policy: encoder, global average pool, ReLU6, linear to the output (z or action)."""
from __future__ import annotations

import torch
from torch import nn

from laom_core.models.encoder import ImpalaEncoder, orthogonal_init


class BCPolicy(nn.Module):
    def __init__(self, obs_channels: int, out_dim: int, encoder_scale: int = 32, encoder_num_res_blocks: int = 2,
                 dropout: float = 0.0, encoder_deep: bool = False) -> None:
        super().__init__()
        self.encoder = ImpalaEncoder(obs_channels, encoder_scale, encoder_num_res_blocks, dropout, encoder_deep)
        self.act = nn.ReLU6()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.out = nn.Linear(self.encoder.out_channels, out_dim)
        self.embed_dim = self.encoder.out_channels
        orthogonal_init(self.out)

    def features(self, obs: torch.Tensor) -> torch.Tensor:
        return self.act(self.encoder(obs).mean(dim=(-2, -1)))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(self.features(obs)))
