"""LAPO (continuous z, as the LAOM authors run it as a baseline).

IDM: an encoder over (o_t, o_{t+k}) stacked along channels -> z.
FDM (``fdm_arch``), pixels of o_{t+1} from o_t and z, MSE in pixel space:

- ``"authors"`` (:class:`DecoderFDM`, the LAOM authors' baseline): the IMPALA encoder of
  o_t down to its (C, H/8, W/8) map; z is projected by a linear layer to a map of the same
  shape and concatenated along channels; a decoder *without* skip connections mirrors the
  encoder (per stage: ConvTranspose 2x2 stride 2, then residual blocks), then GELU, a 1x1
  conv and tanh. It predicts every stacked frame of o_{t+1} (frame_stack * 3 channels).
- ``"unet"`` (:class:`PixelFDM`, ours): a small U-Net (skips from every encoder stage; z
  projected to channels and tiled over the bottleneck) predicting the newest frame only.

``fdm_residual`` (ours, off in the paper preset): predict the change from "nothing moves",
:meth:`LAPO.no_change` -- the stack of o_t advanced by one step with its newest frame
repeated (the older frames of o_{t+1} are frames of o_t, so only the newest one is really
predicted). The last layer is zero-initialised, so the model starts as that copy. For the
U-Net the change is unbounded. For the authors' decoder the tanh then bounds the *change*,
not the frame: prediction = no_change + 2 * tanh(h / 2), which has slope 1 at h = 0 (the
same start as the U-Net's residual) and spans (-2, 2), every difference between two pixel
values in [-1, 1]; the sum is not clipped (the targets keep it in range). Why residual: at
CPU scale a plain U-Net spends its few thousand updates learning to copy the frame (after
1500 updates on distracted cheetah-run its prediction was still worse than copying, and
shuffling z changed its loss by 0.1%), so z never starts to matter; with the residual it
does from the first updates.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from laom_core.models.encoder import ImpalaEncoder, ResidualBlock, orthogonal_init

FDM_ARCHS = ("authors", "unet")


def no_change(obs: torch.Tensor, out_channels: int, frame_channels: int = 3) -> torch.Tensor:
    """The prediction "nothing moves" for the last ``out_channels`` channels of o_{t+1}.

    o_{t+1}'s stack is o_t's stack advanced one step: drop the oldest frame, append the
    next one, guessed here as a repeat of the newest frame of o_t.
    """
    advanced = torch.cat([obs[:, frame_channels:], obs[:, -frame_channels:]], dim=1)
    return advanced[:, -out_channels:]


class PixelFDM(nn.Module):
    """U-Net forward model (ours): skips from every encoder stage, predicts ``out_channels``."""

    def __init__(self, obs_channels: int, img_hw: int, latent_action_dim: int, scale: int,
                 num_res_blocks: int, out_channels: int = 3, deep: bool = False, residual: bool = False,
                 frame_channels: int = 3) -> None:
        super().__init__()
        self.residual = residual
        self.out_channels = out_channels
        self.frame_channels = frame_channels
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
        """Returns (predicted frames in [-1, 1] range (unbounded), flattened bottleneck of o_t)."""
        h, skips = self.encoder(obs, return_skips=True)
        embedding = h.flatten(1)
        zmap = self.z_proj(z)[:, :, None, None].expand(-1, -1, h.shape[-2], h.shape[-1])
        h = F.relu6(self.fuse(torch.cat([h, zmap], dim=1)))
        for up, skip in zip(self.ups, reversed(skips)):
            h = F.interpolate(h, size=skip.shape[-2:], mode="nearest")
            h = up["res"](F.relu6(up["conv"](torch.cat([h, skip], dim=1))))
        out = self.head(F.relu6(h))
        if self.residual:
            out = out + no_change(obs, self.out_channels, self.frame_channels)
        return out, embedding


class DecoderStage(nn.Module):
    """Doubles the resolution: ConvTranspose 2x2 stride 2, then residual blocks."""

    def __init__(self, in_channels: int, out_channels: int, num_res_blocks: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)
        self.blocks = nn.Sequential(*[ResidualBlock(out_channels) for _ in range(num_res_blocks)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.up(x))


class DecoderFDM(nn.Module):
    """The LAOM authors' LAPO forward model: encoder-decoder without skips, tanh output.

    z -> Linear -> a map shaped like the encoder's output (C, h, w), concatenated with it
    (2C channels) -> decoder stages with the encoder's widths reversed -> GELU -> 1x1 conv
    to ``out_channels`` -> tanh. Images whose side is not a multiple of 2^stages decode to
    a slightly larger size and are cropped at the bottom/right (the encoder's stride-2
    convs are aligned to the top-left pixel).
    """

    def __init__(self, obs_channels: int, img_hw: int, latent_action_dim: int, scale: int,
                 num_res_blocks: int, out_channels: int | None = None, deep: bool = False,
                 residual: bool = False, frame_channels: int = 3) -> None:
        super().__init__()
        self.residual = residual
        self.out_channels = out_channels or obs_channels
        self.frame_channels = frame_channels
        self.encoder = ImpalaEncoder(obs_channels, scale, num_res_blocks, deep=deep)
        self.latent_shape = self.encoder.output_shape(img_hw)
        self.embed_dim = math.prod(self.latent_shape)
        self.z_proj = nn.Linear(latent_action_dim, self.embed_dim)
        widths = [stage.down.out_channels for stage in self.encoder.stages]
        stages, prev = [], 2 * self.encoder.out_channels
        for width in reversed(widths):
            stages.append(DecoderStage(prev, width, num_res_blocks))
            prev = width
        self.decoder = nn.ModuleList(stages)
        self.head = nn.Conv2d(prev, self.out_channels, 1)
        # The authors' init, encoder included: orthogonal with gain 1, zero bias. (With the
        # project's gain sqrt 2 for convs, about half of the tanh outputs start saturated.)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.orthogonal_(module.weight)
                nn.init.zeros_(module.bias)
        if residual:  # start as "nothing moves" (see the module docstring)
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    def forward(self, obs: torch.Tensor, z: torch.Tensor):
        """Returns (predicted frames: in (-1, 1), or no_change + a change in (-2, 2) when
        residual; flattened encoder output of o_t)."""
        h = self.encoder(obs)
        embedding = h.flatten(1)
        zmap = self.z_proj(z).view(-1, *h.shape[1:])
        h = torch.cat([h, zmap], dim=1)
        for stage in self.decoder:
            h = stage(h)
        h = self.head(F.gelu(h))[..., :obs.shape[-2], :obs.shape[-1]]
        if self.residual:
            return no_change(obs, self.out_channels, self.frame_channels) + 2 * torch.tanh(h / 2), embedding
        return torch.tanh(h), embedding


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
        fdm_arch: str = "authors",
    ) -> None:
        super().__init__()
        if fdm_arch not in FDM_ARCHS:
            raise ValueError(f"fdm_arch must be one of {', '.join(FDM_ARCHS)}, got {fdm_arch!r}")
        self.idm_encoder = ImpalaEncoder(2 * obs_channels, encoder_scale, encoder_num_res_blocks,
                                         encoder_dropout, encoder_deep)
        idm_features = math.prod(self.idm_encoder.output_shape(img_hw))
        self.idm_head = nn.Linear(idm_features, latent_action_dim)
        fdm_class = DecoderFDM if fdm_arch == "authors" else PixelFDM
        out_channels = obs_channels if fdm_arch == "authors" else frame_channels
        self.fdm = fdm_class(obs_channels, img_hw, latent_action_dim, encoder_scale, encoder_num_res_blocks,
                             out_channels, encoder_deep, residual=fdm_residual, frame_channels=frame_channels)
        self.fdm_arch = fdm_arch
        self.embed_dim = self.fdm.embed_dim
        self.latent_action_dim = latent_action_dim
        self.frame_channels = frame_channels
        self.action_head = nn.Linear(latent_action_dim, true_action_dim) if true_action_dim else None
        orthogonal_init(self.idm_head)
        if self.action_head is not None:
            orthogonal_init(self.action_head)

    @property
    def out_channels(self) -> int:
        """Channels the FDM predicts: every stacked frame ("authors") or the newest ("unet")."""
        return self.fdm.out_channels

    def idm(self, obs: torch.Tensor, future_obs: torch.Tensor) -> torch.Tensor:
        h = self.idm_encoder(torch.cat([obs, future_obs], dim=1))
        return self.idm_head(F.relu6(h.flatten(1)))

    def forward(self, obs: torch.Tensor, future_obs: torch.Tensor):
        """Returns (predicted o_{t+1} channels (see ``target_frame``), latent action z, embedding of o_t)."""
        z = self.idm(obs, future_obs)
        pred, embedding = self.fdm(obs, z)
        return pred, z, embedding

    def embed(self, obs: torch.Tensor) -> torch.Tensor:
        """The FDM encoder's flattened bottleneck of o_t (what the state probe reads)."""
        return self.fdm.encoder(obs).flatten(1)

    def target_frame(self, next_obs: torch.Tensor) -> torch.Tensor:
        """The pixels the FDM predicts: the last ``out_channels`` channels of the stacked
        o_{t+1} (all of them for "authors", the newest frame for "unet")."""
        return next_obs[:, -self.out_channels:]

    def no_change(self, obs: torch.Tensor) -> torch.Tensor:
        """"Nothing moves", laid out like ``target_frame``: the baseline of ``fdm_z_usage``'s
        copy loss and the starting point of a residual FDM."""
        return no_change(obs, self.out_channels, self.frame_channels)

    @torch.no_grad()
    def label(self, obs: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        return self.idm(obs, next_obs)
