"""Batched augmentations: shapes, exact identity, exact shifts, shared transforms."""
from __future__ import annotations

import math

import pytest
import torch

from laom_core.training.augment import OPS, augment_batch, augment_pair, random_homographies, warp


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


def test_perspective_maps_corners_inwards():
    _, hom = random_homographies(8, 64, 64, torch.Generator().manual_seed(0), ops=("perspective",))
    corners = torch.tensor([[0.0, 0, 1], [63, 0, 1], [63, 63, 1], [0, 63, 1]], dtype=torch.float64)
    mapped = corners @ hom.transpose(1, 2)
    mapped = mapped[..., :2] / mapped[..., 2:]
    assert (mapped >= -1e-6).all() and (mapped <= 63 + 1e-6).all()
    assert ((mapped - corners[:, :2]).abs().amax(dim=(1, 2)) > 0.1).all()


def test_augment_pair_applies_one_transform_to_all_tensors():
    x = _frames(b=20, c=9)
    a, b, c = augment_pair(x[:, :3], x[:, 3:6], x[:, 6:], generator=torch.Generator().manual_seed(5))
    whole = augment_batch(x, torch.Generator().manual_seed(5))
    assert torch.equal(torch.cat([a, b, c], dim=1), whole)
    p, q = augment_pair(x, x.clone(), generator=torch.Generator().manual_seed(6))
    assert torch.equal(p, q)
    with pytest.raises(ValueError):
        augment_pair(x, _frames(b=3))
