"""Image augmentations of the paper (the LAOM authors' set), batched in plain torch.

Each sample gets one random choice among ``OPS``, the authors' eight: none, shift, rotate,
perspective, shift+rotate, rotate+shift, rotate+perspective, perspective+rotate ("a+b":
a is applied to the image first, then b). Every transform is a 3x3 homography that maps
an output pixel to the input pixel it samples (pixel centres at integer coordinates); a
composition multiplies them in that order, and one ``grid_sample`` warps the whole batch.

Magnitudes (the authors' at 64 px; pads scale with the image width):

- shift: pad 14 px (edge), take a random 64 px window: an integer translation of
  -14..14 px per axis with the edge pixels replicated;
- rotate: pad 17 px (edge), rotate by an angle uniform in [-90, 90] degrees about the
  centre, centre-crop;
- perspective: pad 30 px (edge), torchvision's ``RandomPerspective(distortion_scale=0.5)``
  on the padded image (each corner of the padded image moves inwards by up to
  0.5 * half its size, independently in x and y), centre-crop. Moving the corners inwards
  shrinks the content: the view zooms out and shows replicated edges around the scene.

How this differs from the authors' pad -> transform -> crop (torchvision):

- Edge padding followed by a bilinear warp equals the warp of the unpadded image with
  ``padding_mode="border"`` wherever the warp samples inside the padded image: replicate
  padding and coordinate clamping agree, and clamping commutes with bilinear weights. So
  the pads only matter where they define a transform's geometry (the shift range and the
  perspective's corner points); the rotation pad (17 px) has no effect here. Outside the
  padded image torchvision fills zeros where we keep replicating edges: for rotations up
  to 90 degrees the centre crop never reaches there (the crop's corners are 45 px from the
  centre, the padded image's inscribed circle has radius 49 px), and for the perspective
  only extreme draws bring the fill 1-2 px into the crop.
- A two-step op is one composed homography here; the authors run two warps with a crop
  in between. Where the second transform samples outside the first one's 64 px output, the
  authors see that output's replicated edge and we see the original pixels that the first
  transform moved out of the frame (real content instead of edge smear). Elsewhere the two
  agree up to one bilinear resampling fewer here.
- Parameters are drawn per sample. The authors' torchvision transforms draw one angle (or
  one set of perspective corners) per call, i.e. shared by all images of a batch that drew
  the same op; their integer perspective corners are continuous here.

The same per-sample transform applies to all channels of a sample, so the frames of a
frame stack move together. :func:`augment_pair` gives several tensors one shared view;
:func:`augment_views` with ``views="independent"`` draws a view per tensor, as the
authors augment o_t, o_{t+1} and o_{t+k} with three separate calls.

Samples drawn "none" are returned bit for bit; integer shifts land on pixel centres, so
a shifted image is an exact translated copy (edges replicated).
"""
from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

OPS = ("none", "shift", "rotate", "perspective", "shift+rotate", "rotate+shift", "rotate+perspective",
       "perspective+rotate")
PRIMITIVES = ("shift", "rotate", "perspective")
VIEWS = ("independent", "shared")
# The authors' magnitudes; pads are in pixels at 64 px and scale with the image width.
SHIFT_PAD_AT_64 = 14
MAX_ROTATION_DEG = 90.0
PERSPECTIVE_DISTORTION = 0.5
PERSPECTIVE_PAD_AT_64 = 30


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


def parse_ops(ops: tuple[str, ...]) -> list[list[str]]:
    """``("none", "shift+rotate", ...)`` -> ``[[], ["shift", "rotate"], ...]`` (the authors'
    spelling "nothing" and "shift-rotate" is accepted too)."""
    parsed = []
    for op in ops:
        parts = [] if op in ("none", "nothing") else op.replace("-", "+").split("+")
        if any(p not in PRIMITIVES for p in parts):
            raise ValueError(f"unknown augmentation op {op!r} (ops combine {', '.join(PRIMITIVES)} with '+')")
        parsed.append(parts)
    if not parsed:
        raise ValueError("augmentation needs at least one op")
    return parsed


def scaled_pad(pad_at_64: float, size: int) -> int:
    """A pad given in pixels at 64 px, for an image ``size`` pixels wide."""
    return round(pad_at_64 * size / 64)


def shift_homography(d: torch.Tensor) -> torch.Tensor:
    """(B,2) translations (content moves by +d) -> output->input homographies (B,3,3)."""
    hom = torch.eye(3, dtype=torch.float64).repeat(d.shape[0], 1, 1)
    hom[:, :2, 2] = -d.to(torch.float64)
    return hom


def rotation_homography(theta: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B,) angles in radians -> homographies rotating about the image centre (B,3,3).

    Output pixel p samples input R(theta) p about the centre, so the content turns by
    -theta in pixel coordinates (y down): counter-clockwise on screen for theta > 0.
    """
    theta = theta.to(torch.float64)
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    cos, sin = torch.cos(theta), torch.sin(theta)
    hom = torch.eye(3, dtype=torch.float64).repeat(theta.shape[0], 1, 1)
    hom[:, 0, 0], hom[:, 0, 1], hom[:, 1, 0], hom[:, 1, 1] = cos, -sin, sin, cos
    hom[:, 0, 2] = cx - cos * cx + sin * cy
    hom[:, 1, 2] = cy - sin * cx - cos * cy
    return hom


def perspective_homography(inward: torch.Tensor, height: int, width: int, pad: int) -> torch.Tensor:
    """torchvision-style perspective of the ``pad``-padded image, in unpadded pixel coordinates.

    ``inward`` (B,4,2): how far each corner of the padded image (top-left, top-right,
    bottom-right, bottom-left; x and y) moves towards the inside. The corner's content
    lands at the moved point, so the output pixel at a moved point samples the corner.
    """
    corners = torch.tensor([[-pad, -pad], [width - 1 + pad, -pad], [width - 1 + pad, height - 1 + pad],
                            [-pad, height - 1 + pad]], dtype=torch.float64)
    towards_inside = torch.tensor([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]], dtype=torch.float64)
    start = corners.expand(inward.shape[0], 4, 2)
    end = start + towards_inside * inward.to(torch.float64)
    return _perspective(end, start)


def random_homographies(
    batch: int,
    height: int,
    width: int,
    generator: torch.Generator | None = None,
    *,
    ops: tuple[str, ...] = OPS,
    shift_pad: float = SHIFT_PAD_AT_64,
    max_rotation_deg: float = MAX_ROTATION_DEG,
    perspective_distortion: float = PERSPECTIVE_DISTORTION,
    perspective_pad: float = PERSPECTIVE_PAD_AT_64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample op index (B,) into ``ops`` and the output->input homography (B,3,3), float64 CPU.

    ``shift_pad`` and ``perspective_pad`` are pixels at 64 px (scaled with ``width``).
    """
    parsed = parse_ops(ops)
    spad = scaled_pad(shift_pad, width)
    ppad = scaled_pad(perspective_pad, width)
    dev = generator.device if generator is not None else torch.device("cpu")
    choice = torch.randint(len(ops), (batch,), generator=generator, device=dev).cpu()

    d = torch.randint(-spad, spad + 1, (batch, 2), generator=generator, device=dev).cpu()
    theta = _uniform(batch, -1.0, 1.0, generator) * math.radians(max_rotation_deg)
    half = torch.tensor([width + 2 * ppad, height + 2 * ppad], dtype=torch.float64) / 2
    inward = _uniform(batch, 0.0, perspective_distortion, generator, shape=(4, 2)) * half
    primitive = {
        "shift": shift_homography(d),
        "rotate": rotation_homography(theta, height, width),
        "perspective": perspective_homography(inward, height, width, ppad),
    }

    # Position j of every op: the primitive applied j-th (identity past an op's length).
    # "a+b" applies a first: output -> b's input -> a's input, i.e. H_a @ H_b.
    eye = torch.eye(3, dtype=torch.float64).expand(batch, 3, 3)
    hom = eye
    for j in range(max(len(p) for p in parsed)):
        step = eye
        for name in PRIMITIVES:
            uses = torch.tensor([len(p) > j and p[j] == name for p in parsed])[choice]
            step = torch.where(uses[:, None, None], primitive[name], step)
        hom = hom @ step
    return choice, hom.contiguous()


@functools.lru_cache(maxsize=8)
def _base_grid(h: int, w: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalized x (1,W) and y (H,1) of the pixel centres."""
    u = (2 * torch.arange(w, dtype=torch.float32) + 1) / w - 1
    v = (2 * torch.arange(h, dtype=torch.float32) + 1) / h - 1
    return u.view(1, w).to(device), v.view(h, 1).to(device)


def warp(frames: torch.Tensor, homography: torch.Tensor, interpolation: str = "bilinear") -> torch.Tensor:
    """Warp (B,C,H,W) float frames by output->input pixel homographies (B,3,3).

    ``interpolation`` is "bilinear" (the default, as the authors' transforms) or "nearest"
    (about 3x cheaper on CPU; integer shifts are exact either way). Borders replicate the
    edge pixels (see the module docstring for how that relates to edge padding).
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
    perspective_distortion, perspective_pad); ``interpolation`` to :func:`warp`.
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
    active = ~torch.tensor([not parts for parts in parse_ops(ops)])[choice]
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


def augment_views(*tensors: torch.Tensor, views: str = "independent", generator: torch.Generator | None = None,
                  interpolation: str = "bilinear", **kwargs) -> tuple[torch.Tensor, ...]:
    """Augment several (B,C,H,W) tensors: a fresh view per tensor (``"independent"``, the
    authors' three calls for o_t, o_{t+1}, o_{t+k}) or one view per sample shared by all
    tensors (``"shared"``)."""
    if views == "shared":
        return augment_pair(*tensors, generator=generator, interpolation=interpolation, **kwargs)
    if views != "independent":
        raise ValueError(f"views must be one of {', '.join(VIEWS)}, got {views!r}")
    return tuple(augment_batch(t, generator, interpolation, **kwargs) for t in tensors)
