"""Shapes of every model at 64 px with a frame stack of 3 (9 channels)."""
from __future__ import annotations

import pytest
import torch

from laom_core.models import LAOM, LAPO, ActionDecoder, ActionIDM, BCPolicy, ImpalaEncoder
from laom_core.models.heads import ConditionedMLP
from laom_core.models.lapo import DecoderFDM

B, C, HW = 2, 9, 64


def _obs() -> torch.Tensor:
    return torch.rand(B, C, HW, HW) * 2 - 1


def test_encoder_halves_three_times_and_scales_channels():
    for scale in (1, 2):
        enc = ImpalaEncoder(C, scale=scale, num_res_blocks=2)
        out = enc(_obs())
        assert out.shape == (B, 32 * scale, 8, 8) == (B, *enc.output_shape(HW))
    deep = ImpalaEncoder(C, scale=1, num_res_blocks=1, deep=True)
    assert deep(_obs()).shape == (B, 256, 2, 2)


def test_encoder_init_is_orthogonal_with_zero_bias():
    enc = ImpalaEncoder(C, scale=1, num_res_blocks=1)
    conv = enc.stages[1].blocks[0].conv1
    assert torch.count_nonzero(conv.bias) == 0
    w = conv.weight.flatten(1)
    gram = w @ w.T
    assert torch.allclose(gram / gram.diagonal().mean(), torch.eye(w.shape[0]), atol=1e-4)


def test_laom_shapes_and_gradient_paths():
    m = LAOM(C, HW, latent_action_dim=48, encoder_scale=1, encoder_num_res_blocks=1, act_head_dim=32,
             obs_head_dim=32, head_num_blocks=3, true_action_dim=6)
    obs, fut = _obs(), _obs()
    pred, z, emb = m(obs, fut)
    assert m.embed_dim == 32 * 8 * 8
    assert pred.shape == (B, m.embed_dim) and z.shape == (B, 48) and emb.shape == (B, m.embed_dim)
    assert m.action_head(z).shape == (B, 6) and m.label(obs, fut).shape == (B, 48)
    assert len(m.idm_head.blocks) == 3 and len(m.fdm_head.blocks) == 3
    # The FDM sees a detached o_t embedding: its loss reaches the encoder only through z.
    pred.pow(2).mean().backward()
    assert m.fdm_head.out.weight.grad is not None and m.idm_head.out.weight.grad is not None


def test_conditioned_mlp_reinjects_conditioning_in_every_block():
    head = ConditionedMLP(in_dim=5, cond_dim=7, hidden=16, out_dim=3, num_blocks=3, expansion=4)
    assert [b.inp.in_features for b in head.blocks] == [5 + 7, 16 + 7, 16 + 7]
    assert head.blocks[0].mlp[0].out_features == 64
    assert head(torch.randn(B, 5), torch.randn(B, 7)).shape == (B, 3)


def test_lapo_unet_predicts_the_newest_frame_in_pixels():
    m = LAPO(C, HW, latent_action_dim=16, encoder_scale=1, encoder_num_res_blocks=1, fdm_arch="unet")
    obs, fut = _obs(), _obs()
    pred, z, emb = m(obs, fut)
    assert pred.shape == (B, 3, HW, HW) and z.shape == (B, 16) and emb.shape == (B, m.embed_dim)
    assert torch.equal(m.target_frame(fut), fut[:, -3:]) and torch.equal(m.no_change(obs), obs[:, -3:])


def test_lapo_authors_fdm_predicts_every_stacked_frame_in_tanh_range():
    m = LAPO(C, HW, latent_action_dim=16, encoder_scale=1, encoder_num_res_blocks=1)
    assert m.fdm_arch == "authors" and isinstance(m.fdm, DecoderFDM)
    obs, fut = _obs(), _obs()
    pred, z, emb = m(obs, fut)
    assert pred.shape == (B, 9, HW, HW) and z.shape == (B, 16) and emb.shape == (B, 32 * 8 * 8)
    assert torch.equal(m.target_frame(fut), fut) and m.out_channels == 9
    assert pred.abs().max() < 1  # tanh output
    assert pred.abs().max() < 0.99 and pred.std() > 0.01  # the authors' gain-1 init: not saturated
    # the stack "advanced by one step, newest frame repeated"
    assert torch.equal(m.no_change(obs), torch.cat([obs[:, 3:], obs[:, 6:]], dim=1))
    # other sizes decode to a multiple of 8 and are cropped back
    odd = LAPO(C, 36, latent_action_dim=16, encoder_scale=1, encoder_num_res_blocks=1)
    x = torch.rand(B, C, 36, 36) * 2 - 1
    assert odd(x, x)[0].shape == (B, 9, 36, 36)
    with pytest.raises(ValueError, match="fdm_arch"):
        LAPO(C, HW, 16, fdm_arch="resnet")


def test_lapo_authors_fdm_has_no_skip_connections():
    m = LAPO(C, HW, latent_action_dim=16, encoder_scale=2, encoder_num_res_blocks=1)
    fdm = m.fdm
    # z enters as a map shaped like the encoder output, concatenated along channels
    assert fdm.z_proj.out_features == 64 * 8 * 8
    ups = [stage.up for stage in fdm.decoder]
    assert all(isinstance(u, torch.nn.ConvTranspose2d) and u.kernel_size == (2, 2) and u.stride == (2, 2) for u in ups)
    assert [(u.in_channels, u.out_channels) for u in ups] == [(128, 64), (64, 64), (64, 32)]  # mirror, no skips
    assert fdm.head.in_channels == 32 and fdm.head.out_channels == 9 and fdm.head.kernel_size == (1, 1)
    # the prediction depends on o_t only through the encoder's output: feed the decoder
    # the encoder output of another image and the prediction follows that image
    obs, other = _obs(), _obs()
    z = torch.randn(B, 16)
    h = fdm.encoder(other)
    x = torch.cat([h, fdm.z_proj(z).view(-1, *h.shape[1:])], dim=1)
    for stage in fdm.decoder:
        x = stage(x)
    manual = torch.tanh(fdm.head(torch.nn.functional.gelu(x)))
    assert torch.allclose(fdm(other, z)[0], manual, atol=1e-6)
    assert not torch.allclose(fdm(obs, z)[0], manual, atol=1e-3)


def test_policy_decoder_and_idm_shapes():
    assert BCPolicy(C, 16, encoder_scale=1, encoder_num_res_blocks=1)(_obs()).shape == (B, 16)
    assert ActionDecoder(16, 6, hidden_dim=256)(torch.randn(B, 16)).shape == (B, 6)
    dec = ActionDecoder(16, 6, hidden_dim=256)
    assert [l.out_features for l in dec.net if isinstance(l, torch.nn.Linear)] == [256, 256, 6]
    assert ActionIDM(C, HW, 6, encoder_scale=1, encoder_num_res_blocks=1)(_obs(), _obs()).shape == (B, 6)


def test_lapo_residual_fdm_starts_as_copying_the_newest_frame():
    model = LAPO(9, 64, 16, encoder_scale=1, encoder_num_res_blocks=1, fdm_residual=True, fdm_arch="unet")
    obs, nxt = torch.randn(2, 9, 64, 64), torch.randn(2, 9, 64, 64)
    pred, z, _ = model(obs, nxt)
    assert torch.equal(pred, obs[:, -3:])  # zero-initialised head: "nothing changes"
    loss = torch.nn.functional.mse_loss(pred, model.target_frame(nxt))
    loss.backward()
    assert model.fdm.head.weight.grad.abs().sum() > 0  # and it learns the change from there
    plain, _, _ = LAPO(9, 64, 16, encoder_scale=1, encoder_num_res_blocks=1, fdm_arch="unet")(obs, nxt)
    assert not torch.allclose(plain, obs[:, -3:])


def test_lapo_authors_residual_starts_as_the_advanced_stack_and_bounds_the_change():
    model = LAPO(9, 64, 16, encoder_scale=1, encoder_num_res_blocks=1, fdm_residual=True)
    obs, nxt = _obs(), _obs()
    pred, z, _ = model(obs, nxt)
    assert pred.shape == (2, 9, 64, 64) and torch.equal(pred, model.no_change(obs))
    torch.nn.functional.mse_loss(pred, model.target_frame(nxt)).backward()
    assert model.fdm.head.weight.grad.abs().sum() > 0
    with torch.no_grad():  # the tanh bounds the change (to +-2), not the frame
        model.fdm.head.bias.fill_(100.0)
        change = model(obs, nxt)[0] - model.no_change(obs)
    assert float(change.max()) <= 2 and float(change.min()) > 1.99


def test_build_lam_wires_the_fdm_arch():
    from laom_core.config import LAMConfig
    from laom_core.models.lapo import PixelFDM
    from laom_core.training.lam import build_lam

    cfg = LAMConfig(latent_action_dim=16, encoder_scale=1, encoder_num_res_blocks=1)
    assert isinstance(build_lam("lapo", cfg, 9, 64, 6).fdm, DecoderFDM)
    cfg.fdm_arch, cfg.fdm_residual = "unet", True
    model = build_lam("lapo", cfg, 9, 64, 6)
    assert isinstance(model.fdm, PixelFDM) and model.fdm.residual and model.out_channels == 3
