"""Transformer-style MLP heads of LAOM that re-inject their conditioning at every block.

Block(h, c): u = Linear([h, c]) -> hidden; out = LayerNorm(u + Linear(ReLU6(Linear(u))))
with an inner width of hidden * expansion. The first block may take the conditioning
alone (h is None), which is how the IDM head starts from the two frame embeddings.
"""
from __future__ import annotations

import torch
from torch import nn

from laom_core.models.encoder import orthogonal_init


class ConditionedBlock(nn.Module):
    def __init__(self, in_dim: int, cond_dim: int, hidden: int, expansion: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.inp = nn.Linear(in_dim + cond_dim, hidden)
        self.mlp = nn.Sequential(
            nn.Linear(hidden, hidden * expansion),
            nn.ReLU6(),
            nn.Dropout(dropout) if dropout > 0 else nn.Identity(),
            nn.Linear(hidden * expansion, hidden),
        )
        self.norm = nn.LayerNorm(hidden)

    def forward(self, h: torch.Tensor | None, cond: torch.Tensor) -> torch.Tensor:
        u = self.inp(cond if h is None else torch.cat([h, cond], dim=-1))
        return self.norm(u + self.mlp(u))


class ConditionedMLP(nn.Module):
    """``num_blocks`` conditioned blocks then a linear read-out to ``out_dim``."""

    def __init__(
        self,
        in_dim: int,
        cond_dim: int,
        hidden: int,
        out_dim: int,
        num_blocks: int = 3,
        expansion: int = 4,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        dims = [in_dim] + [hidden] * (num_blocks - 1)
        self.blocks = nn.ModuleList(ConditionedBlock(d, cond_dim, hidden, expansion, dropout) for d in dims)
        self.out = nn.Linear(hidden, out_dim)
        self.apply(orthogonal_init)

    def forward(self, x: torch.Tensor | None, cond: torch.Tensor) -> torch.Tensor:
        h = x
        for block in self.blocks:
            h = block(h, cond)
        return self.out(h)
