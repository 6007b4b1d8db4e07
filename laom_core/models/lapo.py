"""LAPO (continuous z, as the LAOM authors run it as a baseline).

IDM: an encoder over (o_t, o_{t+k}) stacked along channels -> z.
FDM: a small U-Net that predicts the pixels of the newest frame of o_{t+1} from o_t and z
(z is projected to channels and tiled over the bottleneck). Loss: MSE in pixel space.

``fdm_residual`` (ours, off in the paper preset): the U-Net predicts the change from the
newest frame of o_t instead of the whole frame. At CPU scale a plain U-Net spends its few
thousand updates learning to copy the frame (after 1500 updates on distracted cheetah-run
its prediction was still worse than copying, and shuffling z changed its loss by 0.1%), so
z never starts to matter; with the residual it does from the first updates.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from laom_core.models.encoder import ImpalaEncoder, ResidualBlock, orthogonal_init


class PixelFDM(nn.Module):
    def __init__(self, obs_channels: int, img_hw: int, latent_action_dim: int, scale: int,
                 num_res_blocks: int, out_channels: int = 3, deep: bool = False, residual: bool = False) -> None:
        super().__init__()
        self.residual = residual
        self.out_channels = out_channels
        self.encoder = ImpalaEncoder(obs_channels, scale, num_res_blocks, deep=deep)
        bottleneck = self.encoder.out_channels
        self.embed_dim = math.prod(self.encoder.output_shape(img_hw))
        self.z_proj = nn.Linear(latent_action_dim, bottleneck)
        self.fuse = nn.Conv2d(2 * bottleneck, bottleneck, 1)
        skip_channels = [obs_channels] + [s.down.out_channels for s in self.encoder.stages[:-1]]
        ups, prev = [], bottleneck
        for skip in reversed(skip_channels):
            width = max(skip, 16 * scale)
            ups.append(nn.ModuleDict({
                "conv": nn.Conv2d(prev + skip, width, 3, padding=1),
                "res": ResidualBlock(width),
            }))
            prev = width
        self.ups = nn.ModuleList(ups)
        self.head = nn.Conv2d(prev, out_channels, 3, padding=1)
        self.apply(orthogonal_init)
        if residual:  # start as "the next frame is the current one"
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    def forward(self, obs: torch.Tensor, z: torch.Tensor):
        """Returns (predicted frame in [-1, 1] range (unbounded), flattened bottleneck of o_t)."""
        h, skips = self.encoder(obs, return_skips=True)
        embedding = h.flatten(1)
        zmap = self.z_proj(z)[:, :, None, None].expand(-1, -1, h.shape[-2], h.shape[-1])
        h = F.relu6(self.fuse(torch.cat([h, zmap], dim=1)))
        for up, skip in zip(self.ups, reversed(skips)):
            h = F.interpolate(h, size=skip.shape[-2:], mode="nearest")
            h = up["res"](F.relu6(up["conv"](torch.cat([h, skip], dim=1))))
        out = self.head(F.relu6(h))
        if self.residual:
            out = out + obs[:, -self.out_channels:]
        return out, embedding


class LAPO(nn.Module):
    def __init__(
        self,
        obs_channels: int,
        img_hw: int,
        latent_action_dim: int,
        encoder_scale: int = 1,
        encoder_num_res_blocks: int = 2,
        encoder_dropout: float = 0.0,
        encoder_deep: bool = False,
        frame_channels: int = 3,
        true_action_dim: int | None = None,
        fdm_residual: bool = False,
    ) -> None:
        super().__init__()
        self.idm_encoder = ImpalaEncoder(2 * obs_channels, encoder_scale, encoder_num_res_blocks,
                                         encoder_dropout, encoder_deep)
        idm_features = math.prod(self.idm_encoder.output_shape(img_hw))
        self.idm_head = nn.Linear(idm_features, latent_action_dim)
        self.fdm = PixelFDM(obs_channels, img_hw, latent_action_dim, encoder_scale, encoder_num_res_blocks,
                            frame_channels, encoder_deep, residual=fdm_residual)
        self.embed_dim = self.fdm.embed_dim
        self.latent_action_dim = latent_action_dim
        self.frame_channels = frame_channels
        self.action_head = nn.Linear(latent_action_dim, true_action_dim) if true_action_dim else None
        orthogonal_init(self.idm_head)
        if self.action_head is not None:
            orthogonal_init(self.action_head)

    def idm(self, obs: torch.Tensor, future_obs: torch.Tensor) -> torch.Tensor:
        h = self.idm_encoder(torch.cat([obs, future_obs], dim=1))
        return self.idm_head(F.relu6(h.flatten(1)))

    def forward(self, obs: torch.Tensor, future_obs: torch.Tensor):
        """Returns (predicted newest frame of o_{t+1}, latent action z, embedding of o_t)."""
        z = self.idm(obs, future_obs)
        pred, embedding = self.fdm(obs, z)
        return pred, z, embedding

    def embed(self, obs: torch.Tensor) -> torch.Tensor:
        """The FDM encoder's flattened bottleneck of o_t (what the state probe reads)."""
        return self.fdm.encoder(obs).flatten(1)

    def target_frame(self, next_obs: torch.Tensor) -> torch.Tensor:
        """The pixels the FDM predicts: the newest frame of the stacked o_{t+1}."""
        return next_obs[:, -self.frame_channels:]

    @torch.no_grad()
    def label(self, obs: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        return self.idm(obs, next_obs)
