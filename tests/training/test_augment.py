"""Batched augmentations: the authors' 8 ops and magnitudes, exact identity, exact shifts,
pad equivalence, composition order, shared and independent views."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from laom_core.config import LAMConfig
from laom_core.training.augment import (
    OPS, augment_batch, augment_pair, augment_views, perspective_homography, random_homographies,
    rotation_homography, warp,
)


def _frames(b=12, c=9, h=32, w=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, c, h, w, generator=g) * 2 - 1


def test_keeps_shape_dtype_and_is_seeded():
    x = _frames()
    y = augment_batch(x, torch.Generator().manual_seed(1))
    assert y.shape == x.shape and y.dtype == x.dtype
    assert torch.equal(y, augment_batch(x, torch.Generator().manual_seed(1)))
    assert not torch.equal(y, augment_batch(x, torch.Generator().manual_seed(2)))
    assert augment_batch(_frames(c=3, h=24, w=40)).shape == (12, 3, 24, 40)  # non-square
    with pytest.raises(TypeError):
        augment_batch(torch.zeros(2, 3, 8, 8, dtype=torch.uint8))


def test_none_is_exact_identity_and_others_change_the_image():
    x = _frames(b=64)
    assert torch.equal(augment_batch(x, ops=("none",)), x)
    choice, _ = random_homographies(64, 32, 32, torch.Generator().manual_seed(3))
    y = augment_batch(x, torch.Generator().manual_seed(3))
    none = choice == OPS.index("none")
    assert none.any() and (~none).any()
    assert torch.equal(y[none], x[none])
    changed = (y[~none] - x[~none]).abs().flatten(1).amax(1)
    assert (changed > 0.05).all()
    assert set(choice.tolist()) == set(range(len(OPS)))  # every op is drawn


def test_shift_really_shifts_with_replicated_edges():
    x = _frames(b=16, c=6, h=64, w=64)
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    _, hom = random_homographies(16, 64, 64, g1, ops=("shift",))
    y = augment_batch(x, g2, ops=("shift",))
    d = (-hom[:, :2, 2]).round().long()  # content moves by +d
    assert d.abs().max() <= 14 and (d != 0).any()
    for i in range(16):
        dx, dy = int(d[i, 0]), int(d[i, 1])
        ys = (torch.arange(64) - dy).clamp(0, 63)
        xs = (torch.arange(64) - dx).clamp(0, 63)
        expected = x[i][:, ys][:, :, xs]
        assert float((y[i] - expected).abs().max()) <= 1e-5


def test_constant_images_stay_constant_under_every_op():
    x = torch.full((14, 3, 32, 32), 0.25)
    y = augment_batch(x, torch.Generator().manual_seed(0))
    assert float((y - x).abs().max()) <= 1e-6


def test_rotation_turns_about_the_centre():
    # a single bright pixel right of the centre moves up or down by sin(angle) * radius
    h = w = 65
    x = torch.zeros(1, 1, h, w)
    x[0, 0, 32, 32 + 20] = 1.0
    theta = math.radians(10)
    cos, sin = math.cos(theta), math.sin(theta)
    c = 32.0
    hom = torch.tensor([[[cos, -sin, c - cos * c + sin * c], [sin, cos, c - sin * c - cos * c], [0, 0, 1]]],
                       dtype=torch.float64)
    y = warp(x, hom)
    iy, ix = divmod(int(y.flatten().argmax()), w)
    # output p samples input R p: the dot appears at R^-1 (dot), i.e. rotated by -10 degrees
    assert abs(ix - (c + 20 * cos)) <= 1 and abs(iy - (c - 20 * sin)) <= 1


def test_perspective_moves_the_padded_corners_inwards_and_zooms_out():
    inward = torch.tensor([[[3.0, 5.0], [10.0, 0.0], [31.0, 31.0], [0.0, 7.0]]], dtype=torch.float64)
    hom = perspective_homography(inward, 64, 64, pad=30)
    start = torch.tensor([[-30.0, -30.0], [93.0, -30.0], [93.0, 93.0], [-30.0, 93.0]], dtype=torch.float64)
    end = start + torch.tensor([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]], dtype=torch.float64) * inward[0]
    # the output pixel at a moved corner samples that corner of the padded image
    mapped = torch.cat([end, torch.ones(4, 1, dtype=torch.float64)], 1) @ hom[0].T
    assert torch.allclose(mapped[:, :2] / mapped[:, 2:], start, atol=1e-6)
    # random draws: the 64 px output samples a region larger than the image (content shrinks)
    _, hom = random_homographies(64, 64, 64, torch.Generator().manual_seed(0), ops=("perspective",))
    corners = torch.tensor([[0.0, 0, 1], [63, 0, 1], [63, 63, 1], [0, 63, 1]], dtype=torch.float64)
    m = corners @ hom.transpose(1, 2)
    m = m[..., :2] / m[..., 2:]
    x, y = m[..., 0], m[..., 1]
    area = 0.5 * (x * y.roll(-1, 1) - x.roll(-1, 1) * y).sum(1).abs()
    assert (area > 63 * 63).all() and float(area.mean()) > 1.5 * 63 * 63


def _pad_warp_crop(x, hom_padded, pad):
    padded = F.pad(x, (pad,) * 4, mode="replicate")
    return warp(padded, hom_padded)[..., pad:pad + x.shape[-2], pad:pad + x.shape[-1]]


def test_edge_padding_then_crop_equals_border_replication():
    # the authors pad (edge), transform, centre-crop; we warp with border replication
    x = _frames(b=4, c=3, h=64, w=64)
    theta = torch.tensor([0.3, -1.2, math.pi / 2, -math.pi / 2], dtype=torch.float64)
    ours = warp(x, rotation_homography(theta, 64, 64))
    theirs = _pad_warp_crop(x, rotation_homography(theta, 98, 98), 17)
    assert float((ours - theirs).abs().max()) < 1e-4
    inward = torch.rand(4, 4, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 31
    ours = warp(x, perspective_homography(inward, 64, 64, pad=30))
    theirs = _pad_warp_crop(x, perspective_homography(inward, 124, 124, pad=0), 30)
    assert float((ours - theirs).abs().max()) < 1e-4


def test_the_authors_eight_ops_compose_in_their_order():
    assert OPS == ("none", "shift", "rotate", "perspective", "shift+rotate", "rotate+shift",
                   "rotate+perspective", "perspective+rotate")
    homs = {ops: random_homographies(6, 64, 64, torch.Generator().manual_seed(2), ops=(ops,))[1]
            for ops in ("shift", "rotate", "perspective", "shift+rotate", "rotate+shift", "perspective+rotate")}
    # the parameters do not depend on the op set, so one seed gives the same shift/angle/corners
    assert torch.allclose(homs["shift+rotate"], homs["shift"] @ homs["rotate"])
    assert torch.allclose(homs["rotate+shift"], homs["rotate"] @ homs["shift"])
    assert torch.allclose(homs["perspective+rotate"], homs["perspective"] @ homs["rotate"])
    assert not torch.allclose(homs["shift+rotate"], homs["rotate+shift"])
    # "shift+rotate" = shift the image, then rotate the result (two warps) in the interior
    x = torch.zeros(6, 1, 64, 64)
    x[:, :, 24:40, 24:40] = torch.rand(6, 1, 16, 16, generator=torch.Generator().manual_seed(3))
    two_steps = warp(warp(x, homs["shift"]), homs["rotate"])
    one_step = warp(x, homs["shift+rotate"])
    assert float((two_steps - one_step)[..., 8:56, 8:56].abs().max()) < 0.35  # one resampling fewer
    assert float((two_steps - one_step)[..., 8:56, 8:56].abs().mean()) < 0.01
    # the authors' spelling and custom op sets are accepted; unknown names are not
    assert augment_batch(_frames(), ops=("nothing", "shift-rotate")).shape == _frames().shape
    assert augment_batch(_frames(), ops=("shift", "rotate")).shape == _frames().shape
    with pytest.raises(ValueError, match="zoom"):
        augment_batch(_frames(), ops=("zoom",))


def test_rotations_reach_the_authors_90_degrees():
    _, hom = random_homographies(512, 64, 64, torch.Generator().manual_seed(4), ops=("rotate",))
    angle = torch.rad2deg(torch.atan2(hom[:, 1, 0], hom[:, 0, 0])).abs()
    assert float(angle.max()) <= 90 + 1e-9 and float(angle.max()) > 80 and (angle > 10).float().mean() > 0.8
    _, hom = random_homographies(512, 64, 64, torch.Generator().manual_seed(4), ops=("rotate",),
                                 max_rotation_deg=10)
    assert float(torch.rad2deg(torch.atan2(hom[:, 1, 0], hom[:, 0, 0])).abs().max()) <= 10 + 1e-9


def test_augment_pair_applies_one_transform_to_all_tensors():
    x = _frames(b=20, c=9)
    a, b, c = augment_pair(x[:, :3], x[:, 3:6], x[:, 6:], generator=torch.Generator().manual_seed(5))
    whole = augment_batch(x, torch.Generator().manual_seed(5))
    assert torch.equal(torch.cat([a, b, c], dim=1), whole)
    p, q = augment_pair(x, x.clone(), generator=torch.Generator().manual_seed(6))
    assert torch.equal(p, q)
    with pytest.raises(ValueError):
        augment_pair(x, _frames(b=3))


def test_independent_views_differ_across_frames_and_shared_views_do_not():
    x = _frames(b=32, c=9)
    o, n, f = augment_views(x, x.clone(), x.clone(), views="independent", generator=torch.Generator().manual_seed(7))
    differ = [(a - b).abs().flatten(1).amax(1) > 1e-3 for a, b in ((o, n), (o, f), (n, f))]
    for d in differ:  # same input, three draws: most samples got different views
        assert d.float().mean() > 0.7
    o, n, f = augment_views(x, x.clone(), x.clone(), views="shared", generator=torch.Generator().manual_seed(7))
    assert torch.equal(o, n) and torch.equal(o, f)
    with pytest.raises(ValueError, match="views"):
        augment_views(x, views="both")


def test_lam_augment_follows_the_config():
    from laom_core.training.lam import _augment

    x = _frames(b=16, c=9)
    o, n, f = _augment(x, x.clone(), x.clone(), LAMConfig(aug_views="shared"), torch.Generator().manual_seed(8))
    assert torch.equal(o, n) and torch.equal(n, f) and not torch.equal(o, x)
    o, n, f = _augment(x, x.clone(), x.clone(), LAMConfig(), torch.Generator().manual_seed(8))
    assert not torch.equal(o, n) and not torch.equal(n, f)
    cfg = LAMConfig(aug_shift_pad=0, aug_max_rotation_deg=0, aug_perspective_distortion=0)
    o, n, f = _augment(x, x.clone(), x.clone(), cfg, torch.Generator().manual_seed(8))
    assert float((o - x).abs().max()) < 1e-5 and float((f - x).abs().max()) < 1e-5  # zero magnitudes: identity
