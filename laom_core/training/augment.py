"""Image augmentations of the paper, batched in plain torch on the training device.

Each sample gets one random choice among ``OPS``: none, shift, rotate, perspective and
the compositions of two. Every transform is a 3x3 homography that maps an output pixel to
the input pixel it samples (pixel centres at integer coordinates); compositions multiply
them, and one ``grid_sample`` warps the whole batch. Borders replicate the edge pixels
(``padding_mode="border"``), like the padded random shift of DrQ the paper uses (14 px at
64 px, scaled with the image size). The same per-sample transform is applied to all
channels of a sample, so every frame of a frame stack moves together;
:func:`augment_pair` applies it to several tensors at once (o_t, o_{t+1}, o_{t+k} of one
sample see the same view).

Samples drawn "none" are returned bit for bit; integer shifts land on pixel centres, so
a shifted image is an exact translated copy (edges replicated).
"""
from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

OPS = ("none", "shift", "rotate", "perspective", "shift+rotate", "shift+perspective", "rotate+perspective")
SHIFT_PAD_AT_64 = 14
MAX_ROTATION_DEG = 10.0
PERSPECTIVE_DISTORTION = 0.2  # corners move inwards by up to this fraction of half the image size


def _uniform(n: int, low: float, high: float, generator: torch.Generator | None, shape=()) -> torch.Tensor:
    dev = generator.device if generator is not None else torch.device("cpu")
    u = torch.rand((n, *shape), generator=generator, device=dev, dtype=torch.float64).cpu()
    return low + (high - low) * u


def _perspective(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """Homographies (B,3,3) mapping the 4 points ``src`` (B,4,2) onto ``dst`` (B,4,2)."""
    b = src.shape[0]
    x, y = src[..., 0], src[..., 1]
    u, v = dst[..., 0], dst[..., 1]
    zeros, ones = torch.zeros_like(x), torch.ones_like(x)
    rows_u = torch.stack([x, y, ones, zeros, zeros, zeros, -u * x, -u * y], dim=-1)
    rows_v = torch.stack([zeros, zeros, zeros, x, y, ones, -v * x, -v * y], dim=-1)
    a = torch.cat([rows_u, rows_v], dim=1)  # (B,8,8)
    rhs = torch.cat([u, v], dim=1)  # (B,8)
    h = torch.linalg.solve(a, rhs)
    return torch.cat([h, torch.ones(b, 1, dtype=h.dtype)], dim=1).view(b, 3, 3)


def random_homographies(
    batch: int,
    height: int,
    width: int,
    generator: torch.Generator | None = None,
    *,
    ops: tuple[str, ...] = OPS,
    shift_pad: int | None = None,
    max_rotation_deg: float = MAX_ROTATION_DEG,
    perspective_distortion: float = PERSPECTIVE_DISTORTION,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample op index (B,) into ``ops`` and the output->input homography (B,3,3), float64 CPU."""
    for op in ops:
        if any(part not in ("none", "shift", "rotate", "perspective") for part in op.split("+")):
            raise ValueError(f"unknown augmentation op {op!r}")
    if shift_pad is None:
        shift_pad = max(1, round(SHIFT_PAD_AT_64 * width / 64))
    dev = generator.device if generator is not None else torch.device("cpu")
    choice = torch.randint(len(ops), (batch,), generator=generator, device=dev).cpu()
    has = {name: torch.tensor([name in op.split("+") for op in ops])[choice] for name in ("shift", "rotate", "perspective")}
    eye = torch.eye(3, dtype=torch.float64).expand(batch, 3, 3)

    # shift: output pixel x shows input pixel x - d (content moves by +d), d integer
    d = torch.randint(-shift_pad, shift_pad + 1, (batch, 2), generator=generator, device=dev).cpu().double()
    shift = eye.clone()
    shift[:, :2, 2] = -d
    shift = torch.where(has["shift"][:, None, None], shift, eye)

    # rotation about the image centre
    theta = _uniform(batch, -1.0, 1.0, generator) * math.radians(max_rotation_deg)
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    cos, sin = torch.cos(theta), torch.sin(theta)
    rot = eye.clone()
    rot[:, 0, 0], rot[:, 0, 1], rot[:, 1, 0], rot[:, 1, 1] = cos, -sin, sin, cos
    rot[:, 0, 2] = cx - cos * cx + sin * cy
    rot[:, 1, 2] = cy - sin * cx - cos * cy
    rot = torch.where(has["rotate"][:, None, None], rot, eye)

    # perspective: the output corners sample input points moved inwards at random
    corners = torch.tensor([[0.0, 0.0], [width - 1, 0.0], [width - 1, height - 1], [0.0, height - 1]], dtype=torch.float64)
    inward = torch.tensor([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]], dtype=torch.float64)
    half = torch.tensor([width / 2.0, height / 2.0], dtype=torch.float64)
    amount = _uniform(batch, 0.0, perspective_distortion, generator, shape=(4, 2)) * half
    src = corners.expand(batch, 4, 2)
    persp = _perspective(src, src + inward * amount)
    persp = torch.where(has["perspective"][:, None, None], persp, eye)

    return choice, shift @ rot @ persp


@functools.lru_cache(maxsize=8)
def _base_grid(h: int, w: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalized x (1,W) and y (H,1) of the pixel centres."""
    u = (2 * torch.arange(w, dtype=torch.float32) + 1) / w - 1
    v = (2 * torch.arange(h, dtype=torch.float32) + 1) / h - 1
    return u.view(1, w).to(device), v.view(h, 1).to(device)


def warp(frames: torch.Tensor, homography: torch.Tensor, interpolation: str = "bilinear") -> torch.Tensor:
    """Warp (B,C,H,W) float frames by output->input pixel homographies (B,3,3).

    ``interpolation`` is "bilinear" (the default, as kornia's transforms) or "nearest"
    (about 3x cheaper on CPU; integer shifts are exact either way).
    """
    if interpolation not in ("bilinear", "nearest"):
        raise ValueError(f"interpolation must be 'bilinear' or 'nearest', got {interpolation!r}")
    b, _, h, w = frames.shape
    # Work in grid_sample's normalized coordinates: pixel centre i <-> (2i+1)/size - 1
    # (align_corners=False). Folding the normalization into the 3x3 matrices keeps the
    # per-pixel work to three fused multiply-adds per coordinate; integer shifts stay exact.
    norm = torch.tensor([[2.0 / w, 0.0, 1.0 / w - 1.0], [0.0, 2.0 / h, 1.0 / h - 1.0], [0.0, 0.0, 1.0]],
                        dtype=torch.float64)
    hom = (norm @ homography.to(torch.float64).cpu() @ torch.linalg.inv(norm)).to(frames.device, torch.float32)
    u, v = _base_grid(h, w, frames.device)
    m = hom.view(b, 3, 3, 1, 1)
    grid = torch.empty(b, h, w, 2, device=frames.device, dtype=torch.float32)
    gx, gy = grid[..., 0], grid[..., 1]
    # row r of the matrix applied to (u, v, 1) = (m_r0 * u + m_r2) + m_r1 * v: the two
    # small broadcast terms meet in one full-size add.
    torch.add(u * m[:, 0, 0] + m[:, 0, 2], v * m[:, 0, 1], out=gx)
    torch.add(u * m[:, 1, 0] + m[:, 1, 2], v * m[:, 1, 1], out=gy)
    gz = torch.add(u * m[:, 2, 0] + m[:, 2, 2], v * m[:, 2, 1])
    gx.div_(gz)
    gy.div_(gz)
    return F.grid_sample(frames, grid.to(frames.dtype), mode=interpolation, padding_mode="border", align_corners=False)


def augment_pair(*tensors: torch.Tensor, generator: torch.Generator | None = None,
                 interpolation: str = "bilinear", **kwargs) -> tuple[torch.Tensor, ...]:
    """Apply the same random per-sample transform to several (B,C_i,H,W) float tensors.

    Keyword arguments go to :func:`random_homographies` (ops, shift_pad, max_rotation_deg,
    perspective_distortion); ``interpolation`` to :func:`warp`.
    """
    if not tensors:
        return ()
    first = tensors[0]
    for t in tensors:
        if not torch.is_floating_point(t):
            raise TypeError("augment expects float frames (use laom_core.data.sampler.to_float first)")
        if t.dim() != 4 or t.shape[0] != first.shape[0] or t.shape[2:] != first.shape[2:]:
            raise ValueError("augment_pair needs (B,C,H,W) tensors with the same B, H and W")
    b, _, h, w = first.shape
    ops = kwargs.get("ops", OPS)
    choice, hom = random_homographies(b, h, w, generator, **kwargs)
    active = ~torch.tensor([op == "none" for op in ops])[choice]
    if not active.any():
        return tuple(tensors)
    stacked = torch.cat(tensors, dim=1) if len(tensors) > 1 else first
    # Warping the whole batch and copying the "none" samples back is cheaper than
    # gathering the active samples out and scattering them back in (two fewer passes).
    warped = warp(stacked, hom, interpolation)
    if not active.all():
        idx = torch.nonzero(~active).squeeze(1).to(stacked.device)
        warped[idx] = stacked[idx]
    if len(tensors) == 1:
        return (warped,)
    return tuple(torch.split(warped, [t.shape[1] for t in tensors], dim=1))


def augment_batch(frames: torch.Tensor, generator: torch.Generator | None = None,
                  interpolation: str = "bilinear", **kwargs) -> torch.Tensor:
    """One random transform per sample, the same for all channels of that sample."""
    return augment_pair(frames, generator=generator, interpolation=interpolation, **kwargs)[0]
