"""The theoretical DAEs and Algorithm 1 (molrg/dae.py): time grids, the Stiefel retraction, the
closed-form expected loss behind Thm 1, Eq. 11 training = PCA, the hard-max DAE reaching the
K-subspaces solution on an easy cell, the soft-max DAE = Lemma 1, and batched = separate runs."""
from __future__ import annotations

import pytest
import torch

from molrg import dae, subspace
from molrg.mixture import haar_orthogonal, orthogonal_bases, posterior_mean, sample_balanced, standard_molrg

F64 = torch.float64


def test_time_grids():
    s, g = dae.time_grid("vp", 100)
    assert torch.allclose(s * s + g * g, torch.ones(100, dtype=F64))
    assert (s.diff() < 0).all() and (g.diff() > 0).all() and s[0] > 0.999 and s[-1] < 0.01
    s, g = dae.time_grid("edm", 10)
    assert (s == 1).all() and torch.allclose(g, torch.arange(1, 11, dtype=F64) / 10)
    assert torch.allclose(dae.time_grid("edm", 10, sigma_max=0.1)[1], 0.1 * g)
    with pytest.raises(ValueError, match="theory.dae.schedule"):
        dae.time_grid("ve", 10)


def test_stiefel_retraction():
    g = torch.Generator().manual_seed(0)
    U = torch.randn(4, 2, 10, 3, generator=g, dtype=F64)
    Q = dae.stiefel_retract(U)
    assert torch.allclose(Q.mT @ Q, torch.eye(3, dtype=F64).expand(4, 2, 3, 3), atol=1e-12)
    assert subspace.projection_distance(Q, torch.linalg.qr(U).Q).max() < 1e-12  # same span as U
    assert torch.allclose(dae.stiefel_retract(Q), Q, atol=1e-12)  # a fixed point on the manifold


def test_tangent_projection_is_the_riemannian_gradient():
    """G - U sym(U^T G): tangent (U^T P skew), idempotent, equal to (I - U U^T) G for the losses of
    Eqs. 11/15 (functions of U U^T), and masked zero columns stay zero."""
    g = torch.Generator().manual_seed(9)
    U = haar_orthogonal(10, g, batch=(3,), columns=3)
    G = torch.randn(3, 10, 3, generator=g, dtype=F64)
    P = dae.tangent_project(U, G)
    A = U.mT @ P
    assert torch.allclose(A, -A.mT, atol=1e-12) and torch.allclose(dae.tangent_project(U, P), P, atol=1e-12)
    m = dae.LowRankDAE(U)
    x0 = torch.randn(3, 16, 10, generator=g, dtype=F64)
    eps = torch.randn(3, 16, 10, generator=g, dtype=F64)
    one = torch.ones(3, 16, 1, dtype=F64)
    dae.dae_loss(m, x0, one, 0.3 * one, one, eps).sum().backward()
    Ge = m.U.grad[:, 0]
    assert torch.allclose(dae.tangent_project(U, Ge), Ge - U @ (U.mT @ Ge), atol=1e-10)
    Um = torch.nn.functional.pad(U[:, :, :2], (0, 1))
    Gm = torch.nn.functional.pad(G[:, :, :2], (0, 1))
    assert (dae.tangent_project(Um, Gm)[..., 2] == 0).all()


def test_riemannian_and_euclidean_steps_agree_for_small_steps():
    """Both steps move the span the same way to first order in the learning rate."""
    g = torch.Generator().manual_seed(10)
    U0 = haar_orthogonal(12, g, batch=(2,), columns=2)
    x0 = torch.randn(2, 8, 12, generator=g, dtype=F64)
    eps = torch.randn(2, 8, 12, generator=g, dtype=F64)
    one = torch.ones(2, 8, 1, dtype=F64)
    out = []
    for riem in (True, False):
        m = dae.LowRankDAE(U0)
        dae.dae_step(m, torch.optim.SGD([m.U], lr=1e-5), x0, one, 0.1 * one, one, eps, riemannian=riem)
        out.append(m.bases()[:, 0])
    moved = subspace.projection_distance(out[0], U0)
    assert (moved > 1e-7).all() and (subspace.projection_distance(out[0], out[1]) < 1e-3 * moved).all()


@pytest.mark.parametrize("schedule", ["vp", "edm"])
def test_expected_loss_eq11_matches_monte_carlo(schedule):
    """The identity of spec §3.5 that makes Thm 1 work, checked against sampled noise."""
    g = torch.Generator().manual_seed(1)
    n, d = 8, 2
    X = torch.randn(1, 5, n, generator=g, dtype=F64)
    U = haar_orthogonal(n, g, columns=d).unsqueeze(0)
    m = dae.LowRankDAE(U)
    s_grid, g_grid = dae.time_grid(schedule, 10)
    for i in (0, 4, 9):
        s, gam = s_grid[i].item(), g_grid[i].item()
        M = 200_000
        x0 = X[:, torch.arange(M) % 5]
        eps = torch.randn(1, M, n, generator=g, dtype=F64)
        sq = (m(s * x0 + gam * eps, torch.tensor(s), torch.tensor(gam)) - x0).square().sum(-1)
        exact = dae.expected_loss_eq11(U[0], X[0], s, gam)
        assert abs(sq.mean() - exact) < 5 * sq.std() / M**0.5


def test_expected_loss_eq11_is_minimised_by_pca():
    g = torch.Generator().manual_seed(2)
    X = torch.randn(40, 10, generator=g, dtype=F64) * torch.linspace(2, 0.2, 10, dtype=F64)
    Upca = subspace.pca(X.unsqueeze(0), 3)[0]
    best = dae.expected_loss_eq11(Upca, X, 0.8, 0.5)
    for _ in range(50):
        assert dae.expected_loss_eq11(haar_orthogonal(10, g, columns=3), X, 0.8, 0.5) > best


def test_sgd_on_eq11_reaches_pca_thm1():
    """Thm 1: training the Eq. 11 DAE with Algorithm 1 (from a random start) solves PCA. Noisy data,
    so that PCA differs from the truth and the test tells them apart."""
    g = torch.Generator().manual_seed(3)
    n, d, N = 12, 2, 60
    U = orthogonal_bases(n, 1, d, g, batch=(4,))
    X, _ = sample_balanced(U, N, g, noise_std=0.3)
    Upca = subspace.pca(X, d)
    m = dae.LowRankDAE(haar_orthogonal(n, g, batch=(4,), columns=d))
    settings = dae.TrainSettings(iterations=400, batch=64, lr=0.1, optimizer="sgd", schedule="edm", T=100)
    hist = dae.train_dae(m, X, torch.full((4,), N), settings, g)
    to_pca = subspace.projection_distance(m.bases()[:, 0], Upca)
    to_truth = subspace.projection_distance(Upca, U[:, 0])
    assert hist[:50].mean() > hist[-50:].mean()
    assert (to_pca < 0.1).all(), to_pca
    assert (to_pca < to_truth / 2).all(), (to_pca, to_truth)


def test_hardmax_dae_reaches_the_kss_solution_on_an_easy_cell():
    """K = 2, N_k = 4 d: SGD on Eqs. 15/16 from the spectral start recovers both subspaces."""
    g = torch.Generator().manual_seed(4)
    n, K, d, Nk = 20, 2, 3, 12
    U = orthogonal_bases(n, K, d, g, batch=(3,))
    X, _ = sample_balanced(U, Nk, g, noise_std=0.02)
    labels = subspace.spectral_clustering(X, K, q=5)
    U0 = subspace.fit_clusters(X, labels, K, d)
    Ukss, _, _ = subspace.kss(X, K, d, labels)
    m = dae.HardMaxDAE(U0 + 0.3 * torch.randn(U0.shape, generator=g, dtype=F64))  # start away from it
    settings = dae.TrainSettings(iterations=300, batch=32, lr=0.1, optimizer="sgd", schedule="edm", T=100)
    dae.train_dae(m, X, torch.full((3,), K * Nk), settings, g)
    assert subspace.recovery_error(m.bases(), U).max() < 0.5
    assert subspace.recovery_error(m.bases(), Ukss).max() < 0.5


def test_hardmax_gradient_reaches_only_the_assigned_basis():
    g = torch.Generator().manual_seed(5)
    U = orthogonal_bases(10, 2, 2, g).unsqueeze(0)  # (1, 2, 10, 2)
    m = dae.HardMaxDAE(U)
    x0 = (U[0, 1] @ torch.randn(2, generator=g, dtype=F64)).reshape(1, 1, 10)  # lies in subspace 1
    eps = torch.randn(1, 1, 10, generator=g, dtype=F64)
    one = torch.ones(1, 1, 1, dtype=F64)
    dae.dae_loss(m, x0, one, 0.5 * one, one, eps).sum().backward()
    assert m.U.grad[0, 0].abs().max() == 0 and m.U.grad[0, 1].abs().max() > 0
    with pytest.raises(ValueError, match="clean sample"):
        m(x0, one, one)


def test_softmax_dae_with_true_parameters_is_the_posterior_mean():
    g = torch.Generator().manual_seed(6)
    U = orthogonal_bases(12, 3, 2, g, batch=(2,))
    m = dae.SoftMaxDAE(U)
    x = torch.randn(2, 5, 12, generator=g, dtype=F64)
    s = torch.full((2, 5, 1), 0.9, dtype=F64)
    gam = torch.rand(2, 5, 1, generator=g, dtype=F64) + 0.1
    out = m(x, s, gam)
    for p in range(2):
        ref = posterior_mean(x[p], standard_molrg(U[p]), s[p], gam[p])
        assert torch.allclose(out[p], ref, atol=1e-12)


def test_softmax_dae_training_recovers_the_subspaces():
    g = torch.Generator().manual_seed(7)
    n, K, d, Nk = 16, 2, 2, 20
    U = orthogonal_bases(n, K, d, g, batch=(2,))
    X, _ = sample_balanced(U, Nk, g)
    start = dae.stiefel_retract(U + 0.25 * torch.randn(U.shape, generator=g, dtype=F64))
    m = dae.SoftMaxDAE(start)
    before = subspace.recovery_error(m.bases(), U)
    settings = dae.TrainSettings(iterations=150, batch=16, lr=0.1, optimizer="sgd", schedule="edm", T=100)
    dae.train_dae(m, X, torch.full((2,), K * Nk), settings, g)
    after = subspace.recovery_error(m.bases(), U)
    assert (after < 0.5).all() and (after < before).all(), (before, after)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_batched_steps_equal_separate_runs(optimizer):
    """Summing independent losses: one batched run of two problems (different ranks, via the mask)
    gives exactly the parameters of two separate runs on the same draws."""
    g = torch.Generator().manual_seed(8)
    n, K = 10, 2
    U0 = [haar_orthogonal(n, g, batch=(1, K), columns=d) for d in (3, 2)]
    both = dae.HardMaxDAE(torch.cat([U0[0], torch.nn.functional.pad(U0[1], (0, 1))]), d=torch.tensor([3, 2]))
    alone = [dae.HardMaxDAE(u) for u in U0]
    settings = dae.TrainSettings(lr=0.05, optimizer=optimizer)
    opt_both = dae.make_optimizer(both, settings)
    opt_alone = [dae.make_optimizer(m, settings) for m in alone]
    s_grid, g_grid = dae.time_grid("edm", 50)
    for _ in range(3):
        x0 = torch.randn(2, 8, n, generator=g, dtype=F64)
        t = torch.randint(50, (2, 8), generator=g)
        eps = torch.randn(2, 8, n, generator=g, dtype=F64)
        s, gm = s_grid[t].unsqueeze(-1), g_grid[t].unsqueeze(-1)
        w = torch.ones_like(s)
        lb = dae.dae_step(both, opt_both, x0, s, gm, w, eps)
        for p in range(2):
            la = dae.dae_step(alone[p], opt_alone[p], x0[p : p + 1], s[p : p + 1], gm[p : p + 1], w[p : p + 1], eps[p : p + 1])
            assert torch.allclose(lb[p], la[0], atol=1e-12)
    assert torch.allclose(both.bases()[0], alone[0].bases()[0], atol=1e-12)
    assert torch.allclose(both.bases()[1, :, :, :2], alone[1].bases()[0], atol=1e-12)
    assert (both.bases()[1, :, :, 2] == 0).all()  # the masked column stays empty


def test_unknown_choices_name_their_config_key():
    with pytest.raises(ValueError, match="theory.dae.loss_weight"):
        dae.loss_weight("sqrt", torch.ones(1), torch.ones(1))
    with pytest.raises(ValueError, match="theory.dae.lr_decay"):
        dae.lr_factor("step", 0, 10)
    with pytest.raises(ValueError, match="theory.dae.gradient"):
        dae.train_dae(dae.LowRankDAE(torch.eye(4, 2, dtype=F64).unsqueeze(0)), torch.ones(1, 2, 4, dtype=F64),
                      torch.tensor([2]), dae.TrainSettings(gradient="natural"), torch.Generator())
    with pytest.raises(ValueError, match="theory.dae.optimizer"):
        dae.make_optimizer(dae.LowRankDAE(torch.eye(4, 2, dtype=F64).unsqueeze(0)), dae.TrainSettings(optimizer="lbfgs"))


@pytest.mark.parametrize("K", [1, 2])
def test_expected_objective_matches_the_average_loss_over_the_grid(K):
    """dae.expected_objective (the restarts' selection criterion) = the Eq. 5 loss averaged over the
    training rows, eps and the whole time grid, computed here by brute force with sampled eps; padded
    rows and masked columns (a smaller rank) do not count."""
    g = torch.Generator().manual_seed(11)
    n, d_max, T = 8, 3, 6
    settings = dae.TrainSettings(schedule="edm", T=T, sigma_max=0.5, loss_weight="one")
    U = haar_orthogonal(n, g, batch=(2, K), columns=d_max)
    d = torch.tensor([3, 2])
    U = U * subspace.column_mask(d, d_max)[:, None, None, :].to(F64)
    X = torch.randn(2, 7, n, generator=g, dtype=F64)
    counts = torch.tensor([7, 5])
    exact = dae.expected_objective(U, X, counts, settings)
    m = dae.LowRankDAE(U[:, 0], d) if K == 1 else dae.HardMaxDAE(U, d)
    s_grid, g_grid = dae.time_grid("edm", T, sigma_max=0.5)
    M = 20_000
    for p in range(2):
        x0 = X[p : p + 1, torch.arange(M) % int(counts[p])]
        losses = []
        for s, gam in zip(s_grid, g_grid):
            eps = torch.randn(1, M, n, generator=g, dtype=F64)
            sub = type(m)(U[p : p + 1, 0] if K == 1 else U[p : p + 1], d[p : p + 1])
            losses.append((sub(s * x0 + gam * eps, s, gam, x0) - x0).square().sum(-1).mean())
        mc = torch.stack(losses).mean()
        assert abs(mc - exact[p]) < 0.02 * exact[p], (mc, exact[p])
    # the lower objective belongs to the better bases: the data's own subspace beats a random one
    Xl = torch.einsum("pnd,pmd->pmn", U[:, 0], torch.randn(2, 7, d_max, generator=g, dtype=F64))
    assert (dae.expected_objective(U, Xl, counts, settings)
            < dae.expected_objective(haar_orthogonal(n, g, batch=(2, K), columns=d_max) * (U.abs().sum(-2, keepdim=True) > 0),
                                     Xl, counts, settings)).all()
