"""Action decoder: MLP z -> hidden -> hidden -> action with ReLU6."""
from __future__ import annotations

import torch
from torch import nn

from laom_core.models.encoder import orthogonal_init


class ActionDecoder(nn.Module):
    def __init__(self, latent_action_dim: int, action_dim: int, hidden_dim: int = 256) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_action_dim, hidden_dim), nn.ReLU6(),
            nn.Linear(hidden_dim, hidden_dim), nn.ReLU6(),
            nn.Linear(hidden_dim, action_dim),
        )
        self.apply(orthogonal_init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)
