"""DDPM++ U-Net and the EDM/VP preconditioning: shapes, layout, and the scalings' limits."""
from __future__ import annotations

import math

import pytest
import torch

from molrg.networks import DDPMpp, images_to_vectors, num_parameters, vectors_to_images
from molrg.precond import EDMPrecond, VPPrecond, edm_loss, vp_loss


@pytest.mark.parametrize("res,cm,nb,attn", [(4, (2, 2, 2), 2, (16,)), (8, (1, 2), 1, (4,)), (4, (1,), 1, ())])
def test_unet_maps_images_to_images(res, cm, nb, attn):
    torch.manual_seed(0)
    net = DDPMpp(res, 3, width=8, channel_mult=cm, num_blocks=nb, attn_resolutions=attn, dropout=0.1)
    x = torch.randn(5, 3, res, res)
    y = net(x, torch.randn(5))
    assert y.shape == x.shape and torch.isfinite(y).all()
    # the output layer starts at 1e-5 scale (EDM init_zero): a fresh net is almost zero
    assert y.abs().max() < 1e-3


def test_attention_only_where_asked_and_in_the_lowest_decoder_block():
    net = DDPMpp(8, 3, width=8, channel_mult=(1, 1), num_blocks=1, attn_resolutions=(8,))
    enc_attn = [b.attn is not None for b in net.enc]
    dec_attn = [b.attn is not None for b in net.dec]
    assert enc_attn == [True, False, False]  # level 0 (8x8) block; level 1: down block, 4x4 block
    # decoder: lowest level (4x4) in0 (always attention), in1, 2 skip blocks; then up + 2 skip blocks at 8x8
    assert dec_attn == [True, False, False, False, False, False, True]
    none = DDPMpp(8, 3, width=8, channel_mult=(1, 1), num_blocks=1, attn_resolutions=())
    assert sum(b.attn is not None for b in [*none.enc, *none.dec]) == 1


def test_noise_conditioning_changes_the_output():
    torch.manual_seed(0)
    net = DDPMpp(4, 3, width=8, channel_mult=(1, 1), num_blocks=1, attn_resolutions=())
    for m in net.modules():  # undo the near-zero init so the conditioning path shows
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.normal_(m.weight, std=0.3)
    x = torch.randn(2, 3, 4, 4)
    assert not torch.allclose(net(x, torch.zeros(2)), net(x, torch.ones(2)))


def test_bad_resolution_is_rejected():
    with pytest.raises(ValueError, match="divisible"):
        DDPMpp(6, 3, channel_mult=(1, 1, 1))


def test_paper_width_parameter_count():
    # EDM's DDPM++ at width 128, [2, 2, 2], 4 blocks is the ~56 M-parameter CIFAR-10 net
    net = DDPMpp(4, 3, width=128, channel_mult=(2, 2, 2), num_blocks=4, attn_resolutions=(16,))
    assert 50e6 < num_parameters(net) < 60e6


def test_vector_image_layout_is_hwc_then_chw():
    x = torch.arange(2 * 48, dtype=torch.float32).reshape(2, 48)
    img = vectors_to_images(x)
    assert img.shape == (2, 3, 4, 4)
    # vector index (h * res + w) * 3 + c  ->  image[c, h, w]  (authors' reshape (res, res, 3) then permute)
    for h, w, c in [(0, 0, 0), (0, 0, 2), (1, 2, 1), (3, 3, 2)]:
        assert img[1, c, h, w] == x[1, (h * 4 + w) * 3 + c]
    assert torch.equal(images_to_vectors(img), x)
    with pytest.raises(ValueError):
        vectors_to_images(torch.zeros(1, 50))


class _Const(torch.nn.Module):
    """F(x_in, c_noise) = a constant image: isolates the preconditioning scalings."""

    def forward(self, x, c_noise):
        self.c_noise = c_noise
        return torch.ones_like(x)


def test_edm_scalings():
    D = EDMPrecond(_Const(), sigma_data=0.5)
    x = torch.randn(3, 3, 4, 4)
    sigma = torch.tensor([1e-4, 0.5, 100.0])
    out = D(x, sigma)
    sd = 0.5
    for i, s in enumerate(sigma.tolist()):
        c_skip = sd**2 / (s**2 + sd**2)
        c_out = s * sd / math.sqrt(s**2 + sd**2)
        assert torch.allclose(out[i], c_skip * x[i] + c_out, atol=1e-5)
    assert torch.allclose(D.net.c_noise, sigma.log() / 4)


def test_vp_sigma_schedule_and_inverse():
    D = VPPrecond(_Const())
    t = torch.tensor([1e-5, 0.3, 0.815, 1.0], dtype=torch.float64)
    s = D.sigma(t)
    assert torch.allclose(D.sigma_inv(s), t, atol=1e-6)
    assert abs(float(D.sigma(0.815)) - 28.37) < 0.2  # spec §7: sigma 28.37 <-> t 0.815
    assert D.sigma_min == pytest.approx(float(D.sigma(1e-5))) and D.sigma_max == pytest.approx(float(D.sigma(1.0)))
    x = torch.randn(2, 3, 4, 4)
    assert torch.allclose(D(x, 2.0), x - 2.0, atol=1e-6)  # c_skip = 1, c_out = -sigma


def test_losses_are_finite_and_reward_the_right_answer():
    torch.manual_seed(0)
    x0 = torch.randn(64, 3, 4, 4) * 0.3

    class Oracle(torch.nn.Module):  # "knows" x0: the loss of a perfect denoiser is ~0
        sigma_data, epsilon_t = 0.5, 1e-5
        sigma = VPPrecond.sigma

        def __init__(self):
            super().__init__()
            self.beta_d, self.beta_min = 19.9, 0.1

        def forward(self, x, sigma):
            return x0

    assert float(edm_loss(Oracle(), x0)) == pytest.approx(0.0, abs=1e-10)
    assert float(vp_loss(Oracle(), x0)) == pytest.approx(0.0, abs=1e-10)
    net = DDPMpp(4, 3, width=8, channel_mult=(1, 1), num_blocks=1, attn_resolutions=())
    with torch.no_grad():
        assert float(edm_loss(EDMPrecond(net), x0)) > 1.0
