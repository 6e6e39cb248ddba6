"""The MoLRG model (molrg/mixture.py): sampling (Eq. 9), Lemma 1 against independent computations
(dense Gaussian conditioning and importance sampling), Tweedie against a finite-difference gradient
of the exact log-density, Prop. 1, and numerical stability for large n and tiny noise."""
from __future__ import annotations

import math

import pytest
import torch

from molrg.mixture import (
    MoLRG,
    MoLRGDenoiser,
    haar_orthogonal,
    log_density,
    orthogonal_bases,
    posterior_mean,
    posterior_weights,
    sample,
    sample_balanced,
    score,
    standard_molrg,
)

F64 = torch.float64


def general_molrg(n=5, K=3, d=2, seed=0) -> MoLRG:
    """A MoLRG with unequal weights, non-zero means, distinct eigenvalues and non-orthogonal bases."""
    g = torch.Generator().manual_seed(seed)
    U = torch.stack([haar_orthogonal(n, g)[:, :d] for _ in range(K)])
    pi = torch.softmax(torch.randn(K, generator=g, dtype=F64), 0)
    mu = torch.randn(K, n, generator=g, dtype=F64)
    lam = 0.5 + 2 * torch.rand(K, d, generator=g, dtype=F64)
    return MoLRG(pi, mu, U, lam)


def dense_posterior_mean(x, m: MoLRG, s: float, gamma: float):
    """Lemma 1 computed independently: per-component Gaussian conditioning with dense n x n
    covariances and weights from torch.distributions (no Woodbury, no log-space tricks)."""
    K, n = m.K, m.n
    out = torch.zeros_like(x)
    logp = []
    means = []
    for k in range(K):
        Sigma = m.U[k] @ torch.diag(m.lam[k]) @ m.U[k].T
        cov = s * s * Sigma + gamma * gamma * torch.eye(n, dtype=F64)
        logp.append(torch.log(m.pi[k]) + torch.distributions.MultivariateNormal(s * m.mu[k], cov).log_prob(x))
        gain = s * Sigma @ torch.linalg.inv(cov)  # Cov(x0, xt) Cov(xt)^-1
        means.append(m.mu[k] + (x - s * m.mu[k]) @ gain.T)
    w = torch.softmax(torch.stack(logp, -1), -1)
    for k in range(K):
        out += w[:, k : k + 1] * means[k]
    return out, w


def test_haar_bases_are_orthonormal_blocks_and_batched():
    g = torch.Generator().manual_seed(0)
    U = orthogonal_bases(12, 3, 4, g, batch=(5,))
    assert U.shape == (5, 3, 12, 4)
    Q = U.transpose(1, 2).reshape(5, 12, 12)  # the three blocks side by side
    assert torch.allclose(Q.mT @ Q, torch.eye(12, dtype=F64).expand(5, 12, 12), atol=1e-12)
    thin = orthogonal_bases(12, 3, 4, g, batch=(5,), thin=True)
    Qt = thin.transpose(1, 2).reshape(5, 12, 12)
    assert torch.allclose(Qt.mT @ Qt, torch.eye(12, dtype=F64).expand(5, 12, 12), atol=1e-12)
    with pytest.raises(ValueError, match="exceeds"):
        orthogonal_bases(10, 3, 4, g)


def test_haar_matrix_has_no_preferred_direction():
    """Haar: E[Q] = 0 and every entry has variance 1/n (the sign-fixed QR, not a raw one)."""
    g = torch.Generator().manual_seed(1)
    Q = haar_orthogonal(4, g, batch=(20000,))
    assert Q.mean(0).abs().max() < 0.02
    assert torch.allclose(Q.square().mean(0), torch.full((4, 4), 0.25, dtype=F64), atol=0.01)


def test_sample_balanced_lies_in_its_subspace_and_is_batched():
    g = torch.Generator().manual_seed(0)
    U = orthogonal_bases(10, 2, 3, g, batch=(4,))
    x, labels = sample_balanced(U, 6, g)
    assert x.shape == (4, 12, 10) and labels.tolist() == [0] * 6 + [1] * 6
    Ul = U[:, labels]  # (4, 12, 10, 3)
    proj = torch.einsum("bnid,bnd->bni", Ul, torch.einsum("bnid,bni->bnd", Ul, x))
    assert torch.allclose(proj, x, atol=1e-12)  # noise-free: x = U_k a exactly
    noisy, _ = sample_balanced(U, 2000, g, noise_std=0.1)
    resid = noisy - torch.einsum("bkid,bkd->bki", U.repeat_interleave(2000, 1), torch.einsum("bkid,bki->bkd", U.repeat_interleave(2000, 1), noisy))
    assert abs(resid.square().sum(-1).mean().item() / (10 - 3) - 0.01) < 5e-4


@pytest.mark.parametrize("s,gamma", [(1.0, 0.3), (0.7, 0.9), (0.2, 0.05)])
def test_lemma1_matches_dense_gaussian_conditioning(s, gamma):
    m = general_molrg()
    g = torch.Generator().manual_seed(3)
    x0, _ = sample(m, 64, g)
    x = s * x0 + gamma * torch.randn(x0.shape, generator=g, dtype=F64)
    ref, w_ref = dense_posterior_mean(x, m, s, gamma)
    assert torch.allclose(posterior_weights(x, m, s, gamma), w_ref, atol=1e-10)
    assert torch.allclose(posterior_mean(x, m, s, gamma), ref, atol=1e-10)


def test_lemma1_matches_importance_sampling():
    """E[x0 | xt] estimated by self-normalised importance sampling with the prior as proposal:
    x0_j ~ MoLRG, weights N(xt; s x0_j, gamma^2 I). Independent of every closed-form step."""
    m = general_molrg(n=3, K=2, d=1, seed=5)
    s, gamma = 0.9, 0.5
    g = torch.Generator().manual_seed(7)
    xt = s * sample(m, 4, g)[0] + gamma * torch.randn(4, 3, generator=g, dtype=F64)
    x0, _ = sample(m, 400_000, g)
    logw = -((xt[:, None, :] - s * x0[None]) ** 2).sum(-1) / (2 * gamma**2)  # (4, M)
    w = torch.softmax(logw, -1)
    est = w @ x0
    # standard error of the self-normalised estimator, per coordinate
    ess = 1 / w.square().sum(-1, keepdim=True)
    var = (w.unsqueeze(-1) * (x0[None] - est[:, None]) ** 2).sum(1)
    se = (var / ess).sqrt()
    exact = posterior_mean(xt, m, s, gamma)
    assert ((exact - est).abs() <= 5 * se + 1e-3).all(), (exact, est, se)


@pytest.mark.parametrize("s,gamma", [(1.0, 0.4), (0.6, 0.8)])
def test_tweedie_score_matches_finite_difference_of_log_density(s, gamma):
    m = general_molrg(n=4, K=3, d=2, seed=2)
    g = torch.Generator().manual_seed(4)
    x = s * sample(m, 5, g)[0] + gamma * torch.randn(5, 4, generator=g, dtype=F64)
    h = 1e-5
    fd = torch.stack(
        [(log_density(x + h * e, m, s, gamma) - log_density(x - h * e, m, s, gamma)) / (2 * h) for e in torch.eye(4, dtype=F64)],
        -1,
    )
    assert torch.allclose(score(x, m, s, gamma), fd, rtol=1e-7, atol=1e-7)


def test_score_equals_proposition1_formula():
    """Prop. 1: grad log p = -(1/gamma^2) sum_k w_k (I - U_k D_k U_k^T)(x - s mu_k)."""
    m = general_molrg(seed=8)
    s, gamma = 0.8, 0.6
    g = torch.Generator().manual_seed(9)
    x = torch.randn(7, m.n, generator=g, dtype=F64)
    w = posterior_weights(x, m, s, gamma)
    ref = torch.zeros_like(x)
    for k in range(m.K):
        D = torch.diag(s * s * m.lam[k] / (gamma**2 + s * s * m.lam[k]))
        A = torch.eye(m.n, dtype=F64) - m.U[k] @ D @ m.U[k].T
        ref -= w[:, k : k + 1] * ((x - s * m.mu[k]) @ A.T) / gamma**2
    assert torch.allclose(score(x, m, s, gamma), ref, atol=1e-10)


@pytest.mark.parametrize("sigma", [1e-3, 1e-6, 1e-9])
def test_stable_for_large_n_and_tiny_noise(sigma):
    """n in the thousands, sigma down to 1e-9: log-space weights stay finite and pick the right
    component, and the posterior mean is the projection onto it (densities alone under/overflow)."""
    n, K, d = 3000, 3, 5
    g = torch.Generator().manual_seed(0)
    m = standard_molrg(orthogonal_bases(n, K, d, g, thin=True))
    x0, labels = sample_balanced(m.U, 4, g)
    x = x0 + sigma * torch.randn(x0.shape, generator=g, dtype=F64)
    w = posterior_weights(x, m, 1.0, sigma)
    assert torch.isfinite(w).all()
    assert torch.equal(w.argmax(-1), labels) and (w.max(-1).values > 1 - 1e-12).all()
    assert torch.isfinite(log_density(x, m, 1.0, sigma)).all()
    xhat = posterior_mean(x, m, 1.0, sigma)
    proj = torch.einsum("bnd,bd->bn", m.U[labels], torch.einsum("bnd,bn->bd", m.U[labels], x))
    assert torch.allclose(xhat, proj / (1 + sigma**2), atol=1e-9)
    assert (xhat - x0).norm(dim=-1).max() < 10 * sigma * math.sqrt(d)


def test_denoiser_takes_images_and_matches_posterior_mean():
    m = general_molrg(n=12, K=2, d=3, seed=1)
    den = MoLRGDenoiser(m)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(6, 3, 2, 2, generator=g, dtype=F64)
    sigma = torch.tensor([0.1, 0.5, 1.0, 2.0, 5.0, 80.0], dtype=F64)
    out = den(x, sigma)
    assert out.shape == x.shape
    ref = torch.stack([posterior_mean(x[i].reshape(1, -1), m, 1.0, sigma[i].item())[0] for i in range(6)])
    assert torch.allclose(out.reshape(6, -1), ref, atol=1e-12)
    assert den(x.float(), 0.3).dtype == torch.float32
