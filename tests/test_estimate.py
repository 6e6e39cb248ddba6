"""Per-class MoLRG estimation, GMM-EM clustering and the Gaussian baseline."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from molrg import estimate as est
from molrg.mixture import MoLRG, MoLRGDenoiser, haar_orthogonal, sample


def proj_dist(U1, U2) -> float:
    return float(torch.linalg.norm(U1 @ U1.T - U2 @ U2.T))


def known_molrg(K=3, n=40, d=4, seed=0, mean_scale=3.0) -> MoLRG:
    g = torch.Generator().manual_seed(seed)
    Q = haar_orthogonal(n, g)
    U = torch.stack([Q[:, k * d : (k + 1) * d] for k in range(K)])
    mu = mean_scale * torch.randn(K, n, generator=g, dtype=torch.float64)
    lam = torch.linspace(4.0, 1.0, d, dtype=torch.float64).repeat(K, 1)
    return MoLRG(pi=torch.full((K,), 1.0 / K, dtype=torch.float64), mu=mu, U=U, lam=lam)


def test_class_molrg_recovers_subspaces_means_and_eigenvalues():
    truth = known_molrg()
    x, labels = sample(truth, 6000, torch.Generator().manual_seed(1))
    fit = est.class_molrg(x.numpy(), labels.numpy(), d=4)
    assert fit.U.shape == (3, 40, 4)
    for k in range(3):
        assert proj_dist(fit.U[k], truth.U[k]) < 0.1
        assert torch.linalg.norm(fit.mu[k] - truth.mu[k]) < 0.15
        assert torch.allclose(fit.lam[k], truth.lam[k], rtol=0.15)
        assert torch.allclose(fit.U[k].T @ fit.U[k], torch.eye(4, dtype=torch.float64), atol=1e-10)
    assert torch.allclose(fit.pi, torch.full((3,), 1 / 3, dtype=torch.float64))
    emp = est.class_molrg(x.numpy(), labels.numpy(), d=4, weights="empirical")
    assert torch.allclose(emp.pi, torch.bincount(labels).double() / len(labels))


def test_top_eigenpairs_match_dense_covariance():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 12)) @ rng.standard_normal((12, 12))
    Xc = X - X.mean(0)
    U, lam = est.top_eigenpairs(torch.as_tensor(Xc), 5)
    w, V = np.linalg.eigh(np.cov(X, rowvar=False))
    assert np.allclose(lam.numpy(), w[::-1][:5])
    assert proj_dist(U, torch.as_tensor(V[:, ::-1][:, :5].copy())) < 1e-8


def test_few_samples_pad_with_zero_eigenvalues_and_orthonormal_columns():
    x = np.random.default_rng(0).standard_normal((4, 20))
    U, lam = est.top_eigenpairs(torch.as_tensor(x - x.mean(0)), 6)
    assert U.shape == (20, 6) and (lam[3:] < 1e-20).all() and (lam[:3] > 0.1).all()  # rank N - 1 = 3
    assert torch.allclose(U.T @ U, torch.eye(6, dtype=torch.float64), atol=1e-10)
    with pytest.raises(ValueError, match="labels must be 0..K-1"):
        est.class_molrg(x, np.array([0, 0, 2, 2]), d=2)


def test_gmm_clusters_then_estimate_recovers_unlabelled_mixture():
    truth = known_molrg(K=3, n=30, d=3, seed=2, mean_scale=4.0)
    x, labels = sample(truth, 1500, torch.Generator().manual_seed(3))
    found = est.gmm_clusters(x.numpy(), K=3, pca_dim=10, seed=0)
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(labels.numpy(), found) > 0.99
    assert np.bincount(found).tolist() == sorted(np.bincount(found).tolist(), reverse=True)  # by size
    fit = est.class_molrg(x.numpy(), found, d=3)
    for k in range(3):  # match each estimated component to its true one by the mean
        j = int(torch.argmin(torch.linalg.norm(truth.mu - fit.mu[k], dim=1)))
        assert proj_dist(fit.U[k], truth.U[j]) < 0.2


def test_gaussian_baseline_is_the_full_rank_wiener_denoiser():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((400, 10)) @ rng.standard_normal((10, 10)) + 2.0
    g = est.gaussian_model(X)
    assert (g.K, g.n, g.d) == (1, 10, 10)
    assert torch.allclose(g.U[0].T @ g.U[0], torch.eye(10, dtype=torch.float64), atol=1e-10)
    mu, Sigma = X.mean(0), np.cov(X, rowvar=False)
    x = rng.standard_normal((5, 10))
    for sigma in (0.1, 1.0, 10.0):
        want = mu + (x - mu) @ np.linalg.solve(Sigma + sigma**2 * np.eye(10), Sigma)  # Sigma symmetric
        got = MoLRGDenoiser(g)(torch.as_tensor(x), sigma).numpy()
        assert np.allclose(got, want, atol=1e-9)


def test_gaussian_baseline_on_images_shape_and_few_samples():
    x = np.random.default_rng(2).standard_normal((5, 1, 4, 4)).astype(np.float32)  # N < n = 16
    g = est.gaussian_model(x)
    assert g.U.shape == (1, 16, 16) and int((g.lam[0] > 1e-9).sum()) == 4
    out = MoLRGDenoiser(g)(torch.as_tensor(x, dtype=torch.float64), 1e-3)
    assert out.shape == x.shape and torch.allclose(out, torch.as_tensor(x, dtype=torch.float64), atol=1e-3)
