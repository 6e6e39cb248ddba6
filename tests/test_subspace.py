"""Subspace recovery (molrg/subspace.py): the projection distance, the best permutation, PCA (Problem
12), spectral initialisation and K-subspaces (Problem 17), rank masks, and batch == per-problem loop."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from molrg import subspace
from molrg.mixture import haar_orthogonal, orthogonal_bases, sample_balanced

F64 = torch.float64


def projector_distance(A, B):
    """The definition, with n x n projectors."""
    return torch.linalg.matrix_norm(A @ A.mT - B @ B.mT)


def test_projection_distance_matches_projector_definition():
    g = torch.Generator().manual_seed(0)
    A = haar_orthogonal(9, g, batch=(20,), columns=3)
    B = haar_orthogonal(9, g, batch=(20,), columns=4)
    assert torch.allclose(subspace.projection_distance(A, B), projector_distance(A, B), atol=1e-12)
    # zero-padded columns count as absent
    Ap = torch.nn.functional.pad(A, (0, 2))
    assert torch.allclose(subspace.projection_distance(Ap, B), projector_distance(A, B), atol=1e-12)


def test_projection_distance_extremes():
    g = torch.Generator().manual_seed(1)
    Q = haar_orthogonal(10, g)
    U, V = Q[:, :3], Q[:, 3:6]
    R = haar_orthogonal(3, g)
    assert subspace.projection_distance(U, U @ R).item() < 1e-12  # same subspace, other basis
    assert abs(subspace.projection_distance(U, V).item() - np.sqrt(6)) < 1e-12  # orthogonal: sqrt(2d)


def test_best_permutation_is_optimal_against_brute_force():
    rng = np.random.default_rng(0)
    D = rng.random((200, 3, 3))
    perm = subspace.best_permutation(D)
    for b in range(200):
        cost = D[b, perm[b], np.arange(3)].sum()
        brute = min(D[b, list(p), np.arange(3)].sum() for p in itertools.permutations(range(3)))
        assert abs(cost - brute) < 1e-12


def test_recovery_error_ignores_component_order():
    g = torch.Generator().manual_seed(2)
    U = orthogonal_bases(20, 3, 4, g, batch=(6,))
    Uhat = U + 0.02 * torch.randn(U.shape, generator=g, dtype=F64)
    Uhat = torch.linalg.qr(Uhat).Q
    e = subspace.recovery_error(Uhat, U, "max")
    e_perm = subspace.recovery_error(Uhat[:, [2, 0, 1]], U, "max")
    assert torch.allclose(e, e_perm) and (e < 0.5).all()
    assert (subspace.recovery_error(Uhat, U, "mean") <= e + 1e-15).all()
    with pytest.raises(ValueError, match="error_reduce"):
        subspace.recovery_error(Uhat, U, "median")


@pytest.mark.parametrize("N,d", [(8, 4), (4, 4), (3, 6), (1, 5)])
def test_pca_recovers_the_subspace_iff_enough_samples(N, d):
    g = torch.Generator().manual_seed(3)
    U = orthogonal_bases(30, 1, d, g, batch=(10,))[:, 0]
    X, _ = sample_balanced(U.unsqueeze(1), N, g)
    Uhat = subspace.pca(X, d)
    assert Uhat.shape == (10, 30, d)
    assert torch.allclose(Uhat.mT @ Uhat, torch.eye(d, dtype=F64).expand(10, d, d), atol=1e-10)
    err = subspace.projection_distance(Uhat, U)
    if N >= d:
        assert err.max() < 1e-6
    else:  # N directions are found; the other d - N are orthogonal to the data: error about sqrt(2(d - N))
        assert err.min() > 1.0 and err.max() < np.sqrt(2 * (d - N)) + 1e-9


def test_pca_tall_data_uses_the_same_subspace_as_svd():
    """N > n switches to the scatter-matrix eigenvectors: the subspace equals the SVD's."""
    g = torch.Generator().manual_seed(4)
    X = torch.randn(5, 40, 12, generator=g, dtype=F64) * torch.linspace(3, 0.1, 12, dtype=F64)
    Vh = torch.linalg.svd(X, full_matrices=False).Vh
    assert subspace.projection_distance(subspace.pca(X, 4), Vh[:, :4].mT).max() < 1e-8


def test_pca_with_per_problem_ranks_equals_separate_calls():
    g = torch.Generator().manual_seed(5)
    X = torch.randn(6, 7, 15, generator=g, dtype=F64)
    d = torch.tensor([1, 2, 3, 5, 8, 2])
    Uhat = subspace.pca(X, d)
    assert Uhat.shape == (6, 15, 8)
    for b in range(6):
        assert (Uhat[b, :, d[b]:] == 0).all()
        assert subspace.projection_distance(Uhat[b, :, : d[b]], subspace.pca(X[b : b + 1], int(d[b]))[0]) < 1e-10


def same_partition(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal up to renaming the clusters."""
    a, b = a.tolist(), b.tolist()
    mapping = {}
    return all(mapping.setdefault(x, y) == y for x, y in zip(a, b)) and len(set(mapping.values())) == len(mapping)


def test_spectral_clustering_finds_the_components():
    g = torch.Generator().manual_seed(6)
    U = orthogonal_bases(30, 3, 3, g, batch=(8,))
    X, labels = sample_balanced(U, 10, g, noise_std=0.02)
    found = subspace.spectral_clustering(X, 3, q=5)
    assert all(same_partition(found[b], labels) for b in range(8))


def test_kss_repairs_a_bad_start():
    """From labels with about 15% of the points moved to a wrong cluster, K-subspaces converges to the truth."""
    g = torch.Generator().manual_seed(7)
    U = orthogonal_bases(40, 2, 3, g, batch=(5,))
    X, labels = sample_balanced(U, 20, g)
    start = labels.repeat(5, 1)
    flip = torch.rand(start.shape, generator=g) < 0.15
    start = torch.where(flip, 1 - start, start)
    Uhat, final, iters = subspace.kss(X, 2, 3, start, max_iters=20)
    assert all(same_partition(final[b], labels) for b in range(5))
    assert (iters >= 1).all()
    assert subspace.recovery_error(Uhat, U).max() < 1e-6


def test_kss_spectral_batched_equals_per_problem_loop():
    g = torch.Generator().manual_seed(8)
    U = orthogonal_bases(24, 3, 4, g, batch=(12,))
    X, _ = sample_balanced(U, 6, g, noise_std=0.05)
    d = torch.tensor([4, 3, 2, 4, 1, 2, 3, 4, 4, 2, 1, 3])
    Ub, lb, ib = subspace.kss_spectral(X, 3, d, q=4)
    for b in range(12):
        Ul, ll, il = subspace.kss_spectral(X[b : b + 1], 3, d[b : b + 1], q=4)
        assert torch.equal(lb[b], ll[0]) and ib[b] == il[0]
        assert subspace.pairwise_distances(Ub[b : b + 1, :, :, : d[b]], Ul[:, :, :, : d[b]]).diagonal(dim1=-2, dim2=-1).max() < 1e-10


def test_thresholded_affinity_keeps_q_neighbours_and_drops_orthogonal_pairs():
    g = torch.Generator().manual_seed(9)
    U = orthogonal_bases(20, 2, 4, g)
    X, labels = sample_balanced(U, 6, g)
    A = subspace.thresholded_affinity(X.unsqueeze(0), q=2)[0]
    assert torch.allclose(A, A.T) and (A.diagonal() == 0).all()
    cross = labels.unsqueeze(0) != labels.unsqueeze(1)
    assert A[cross].abs().max() < 1e-12  # orthogonal subspaces: no edge between components
    assert ((A > 0).sum(-1) >= 2).all()
