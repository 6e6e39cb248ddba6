"""The empirical-optimal denoiser (exact posterior mean of the training set): a dense closed form,
the sigma -> 0 limit, and Heun sampling that regenerates training points (copy rate 1, GL 0)."""
from __future__ import annotations

import pytest
import torch

from molrg.empirical import EmpiricalDenoiser
from molrg.gl import epsilon_from_fresh, gl_score, memorization_stats
from molrg.mixture import orthogonal_bases, sample, standard_molrg
from molrg.sampler import generate


def _dense(x, train, sigma):
    """E[x0 | x] for x0 uniform on the rows of train, by the textbook formula (no chunks, no tricks)."""
    x, train = x.double(), train.double()
    d2 = ((x[:, None, :] - train[None, :, :]) ** 2).sum(-1)
    w = torch.softmax(-d2 / (2 * torch.as_tensor(sigma, dtype=torch.float64).reshape(-1, 1) ** 2), dim=1)
    return w @ train


def test_equals_dense_closed_form_with_chunks_and_per_sample_sigma():
    g = torch.Generator().manual_seed(0)
    train = torch.randn(13, 5, generator=g)
    x = torch.randn(7, 5, generator=g)
    sigma = torch.tensor([0.05, 0.3, 1.0, 2.0, 10.0, 0.7, 0.1])
    D = EmpiricalDenoiser(train, ref_chunk=4)  # ragged chunks: 4 + 4 + 4 + 1
    assert torch.allclose(D(x.double(), sigma), _dense(x, train, sigma), atol=1e-12)
    assert torch.allclose(D(x.double(), 0.5), _dense(x, train, torch.full((7,), 0.5)), atol=1e-12)
    # a tiny hand case: two points, equal distance -> the midpoint
    D2 = EmpiricalDenoiser(torch.tensor([[0.0, 0.0], [2.0, 0.0]]))
    assert torch.allclose(D2(torch.tensor([[1.0, 3.0]]), 1.0), torch.tensor([[1.0, 0.0]]))
    # weights sum to one; large sigma -> the training mean
    assert torch.allclose(D.log_weights(x, sigma).exp().sum(1), torch.ones(7, dtype=torch.float64))
    assert torch.allclose(D(x.double(), 1e6), train.double().mean(0).expand(7, 5), atol=1e-6)


def test_image_shapes_dtype_and_small_sigma_limit():
    g = torch.Generator().manual_seed(1)
    train = torch.randn(40, 3, 4, 4, generator=g)
    D = EmpiricalDenoiser(train, ref_chunk=16)
    x = train[[5, 9, 30]] + 0.05 * torch.randn(3, 3, 4, 4, generator=g)
    for sigma in (1e-3, 0.0):  # no overflow / NaN at tiny or zero sigma
        out = D(x, sigma)
        assert out.shape == x.shape and out.dtype == torch.float32 and torch.isfinite(out).all()
        assert torch.allclose(out, train[[5, 9, 30]], atol=1e-6)  # the nearest training point
    with pytest.raises(ValueError, match="values per sample"):
        D(torch.zeros(2, 47), 1.0)


def test_heun_samples_land_on_training_points():
    g = torch.Generator().manual_seed(2)
    model = standard_molrg(orthogonal_bases(48, 2, 3, g))
    train, _ = sample(model, 64, g)
    fresh, _ = sample(model, 1000, g)
    D = EmpiricalDenoiser(train)
    gen = generate(D, 300, (48,), seed=7, batch_size=300, dtype=torch.float64)
    stats = memorization_stats(gen, train, fresh)
    assert stats["copy_rate"] == 1.0 and stats["nn_ratio"] < 1e-3
    assert gl_score(gen, train, epsilon_from_fresh(fresh, train)) == 0.0
    # it is not one training point over and over: many distinct points are regenerated
    assert stats["nn_idx"].unique().numel() > 30
