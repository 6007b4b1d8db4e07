"""IMPALA-style ResNet encoder shared by every model.

Each stage: conv3x3 with stride 2 (halves the image), then N residual blocks
(ReLU6, conv3x3, ReLU6, conv3x3, skip). Channels (16, 32, 32) x encoder_scale, or the
authors' deep variant (16, 32, 64, 128, 256) x encoder_scale. Orthogonal init, zero bias.
At 64 px the default encoder returns a (32 * scale, 8, 8) feature map.
"""
from __future__ import annotations

import math

import torch
from torch import nn

SHALLOW_CHANNELS = (16, 32, 32)
DEEP_CHANNELS = (16, 32, 64, 128, 256)


def orthogonal_init(module: nn.Module) -> None:
    """Orthogonal weights (gain sqrt 2 for convs feeding ReLU6, 1 for linears), zero bias."""
    if isinstance(module, nn.Conv2d):
        nn.init.orthogonal_(module.weight, gain=math.sqrt(2))
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Linear):
        nn.init.orthogonal_(module.weight, gain=1.0)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = nn.ReLU6()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(self.act(x))
        y = self.conv2(self.dropout(self.act(y)))
        return x + y


class EncoderStage(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, num_res_blocks: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.down = nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1)
        self.blocks = nn.Sequential(*[ResidualBlock(out_channels, dropout) for _ in range(num_res_blocks)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.down(x))


class ImpalaEncoder(nn.Module):
    """(B, C, H, W) float in [-1, 1] -> (B, channels[-1] * scale, H / 2^S, W / 2^S)."""

    def __init__(
        self,
        in_channels: int,
        scale: int = 1,
        num_res_blocks: int = 2,
        dropout: float = 0.0,
        deep: bool = False,
    ) -> None:
        super().__init__()
        widths = [c * scale for c in (DEEP_CHANNELS if deep else SHALLOW_CHANNELS)]
        stages, prev = [], in_channels
        for width in widths:
            stages.append(EncoderStage(prev, width, num_res_blocks, dropout))
            prev = width
        self.stages = nn.ModuleList(stages)
        self.out_channels = prev
        self.apply(orthogonal_init)

    def forward(self, x: torch.Tensor, return_skips: bool = False):
        skips = []
        for stage in self.stages:
            skips.append(x)
            x = stage(x)
        return (x, skips) if return_skips else x

    def output_shape(self, img_hw: int) -> tuple[int, int, int]:
        side = img_hw
        for _ in self.stages:
            side = (side + 1) // 2
        return (self.out_channels, side, side)
