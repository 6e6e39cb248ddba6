"""Subspace recovery: PCA (Problem 12), K-subspaces with spectral initialisation (Problem 17) and
the recovery error after the best permutation of components.

Spec references (../shared/paper_spec.md): §3.5 (Thm 1/3: the DAE losses reduce to PCA / KSS),
§4.2 (success criterion, UNCONFIRMED threshold), §4.4 (KSS with spectral initialisation).

Conventions:
* data sets hold samples as rows: X has shape (B, N, n) for B independent problems;
* a basis is an (n, d) matrix with orthonormal columns; a batch of K-component bases is
  (B, K, n, d). Problems of one batch may have different ranks d_b <= d: their bases are padded
  with zero columns (`column_mask`), and every function below treats a zero column as absent;
* nothing here draws random numbers: every solver is a deterministic function of its input,
  so a batched call and a per-problem loop return the same bases (tests/test_subspace.py).
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

Tensor = torch.Tensor


# ----------------------------------------------------------------------------------------------
# PCA and the rank mask


def column_mask(d: Tensor, d_max: int) -> Tensor:
    """(B, d_max) mask, True for the first d_b columns of problem b."""
    return torch.arange(d_max, device=d.device).unsqueeze(0) < d.unsqueeze(-1)


def top_subspace(X: Tensor, d: int) -> Tensor:
    """Top-d principal directions of the rows of X (..., N, n): the top-d left singular vectors of
    the data matrix [x_1, ..., x_N], shape (..., n, d). No centring (the model has mu_k = 0).

    With N < d the data span only N directions; the SVD then completes the basis with directions
    orthogonal to the data (any completion is an optimum of Problem 12, which gives no weight to
    them). LAPACK's completion was checked to overlap the truth no more than a random one would.

    For N > n the eigenvectors of the n x n scatter matrix X^T X are used instead of an SVD of X:
    the same subspace, and about 3x cheaper for the tall matrices of K-subspaces."""
    N, n = X.shape[-2:]
    if N > n:
        _, V = torch.linalg.eigh(X.mT @ X)  # ascending eigenvalues
        return V[..., -d:].flip(-1)
    _, _, Vh = torch.linalg.svd(X, full_matrices=N < d)
    return Vh[..., :d, :].mT


def pca(X: Tensor, d: int | Tensor) -> Tensor:
    """Problem (12): the closed-form optimum of the Eq. 11 DAE (Thm 1), shape (B, n, d_max).

    `d` is one rank for every problem or a (B,) tensor of ranks (zero-padded to the largest)."""
    if isinstance(d, int):
        return top_subspace(X, d)
    d_max = int(d.max())
    return top_subspace(X, d_max) * column_mask(d, d_max).unsqueeze(-2).to(X.dtype)


# ----------------------------------------------------------------------------------------------
# Recovery error


def projection_distance(A: Tensor, B: Tensor) -> Tensor:
    """||A A^T - B B^T||_F for bases (..., n, da) and (..., n, db) with orthonormal columns (zero-padded
    columns allowed: they count as absent).

    Computed as sqrt(||(I - AA^T) B||^2 + ||(I - BB^T) A||^2), which equals the definition for such
    bases and costs O(n d^2) instead of forming n x n projectors. Both terms are norms of residuals,
    so equal subspaces give ~1e-16 instead of the ~1e-8 that d_a + d_b - 2 ||A^T B||^2 would leave."""
    res_B = B - A @ (A.mT @ B)
    res_A = A - B @ (B.mT @ A)
    return (res_A.square().sum((-2, -1)) + res_B.square().sum((-2, -1))).sqrt()


def pairwise_distances(U_hat: Tensor, U_true: Tensor) -> Tensor:
    """D[b, j, k] = projection distance between estimated component j and true component k.

    U_hat, U_true: (B, K, n, d). Returns (B, K, K)."""
    return projection_distance(U_hat.unsqueeze(-3), U_true.unsqueeze(-4))


def best_permutation(D: np.ndarray) -> np.ndarray:
    """For each problem, the matching perm[b, k] = estimated component assigned to true component k
    that minimises the summed projection distance (scipy's Hungarian solver; spec §4.2)."""
    B, K, _ = D.shape
    perm = np.empty((B, K), dtype=np.int64)
    for b in range(B):
        rows, cols = linear_sum_assignment(D[b])
        perm[b, cols] = rows
    return perm


def recovery_error(U_hat: Tensor, U_true: Tensor, reduce: str = "max") -> Tensor:
    """The recovery error of spec §4.2: ||U_hat_{pi(k)} U_hat_{pi(k)}^T - U*_k U*_k^T||_F after the
    best permutation pi, reduced over the K components by `reduce` ("max" or "mean"). Shape (B,).

    U_hat, U_true: (B, K, n, d) or (B, n, d) for K = 1."""
    if U_hat.ndim == 3:
        U_hat, U_true = U_hat.unsqueeze(1), U_true.unsqueeze(1)
    D = pairwise_distances(U_hat, U_true)
    if D.shape[-1] == 1:
        matched = D[..., 0, :]
    else:
        perm = torch.as_tensor(best_permutation(D.detach().cpu().numpy()), device=D.device)
        matched = D.gather(-2, perm.unsqueeze(-2)).squeeze(-2)  # (B, K): D[b, perm[b, k], k]
    if reduce == "max":
        return matched.amax(-1)
    if reduce == "mean":
        return matched.mean(-1)
    raise ValueError(f"unknown reduction {reduce!r}: use 'max' or 'mean' (config key theory.error_reduce)")


# ----------------------------------------------------------------------------------------------
# Spectral initialisation (spec §4.4 steps 1-3)


def thresholded_affinity(X: Tensor, q: int) -> Tensor:
    """Steps 1-2 of §4.4: A_ij = |<x_i/||x_i||, x_j/||x_j||>| (i != j), keep the q largest entries of
    each row, symmetrise. Shape (B, N, N).

    q is UNCONFIRMED (theory.kss.spectral_q); it is capped at N - 1. Ties at the q-th value are all
    kept, and entries that are exactly zero (points on orthogonal subspaces) are never kept."""
    N = X.shape[-2]
    Xn = X / X.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(X.dtype).tiny)
    A = (Xn @ Xn.mT).abs()
    A = A * (1 - torch.eye(N, dtype=A.dtype, device=A.device))
    q = max(1, min(q, N - 1))
    kth = torch.topk(A, q, dim=-1).values[..., -1:]
    keep = (A >= kth) & (A > 0)
    A = A * keep
    return A + A.mT


def spectral_embedding(W: Tensor, K: int, self_loop: float = 1e-6) -> Tensor:
    """Top-K eigenvectors of the normalised affinity D^{-1/2} (W + eps I) D^{-1/2}, rows normalised
    (Ng-Jordan-Weiss). Shape (B, N, K).

    The small self-loop gives an isolated point its own eigenvalue 1 (its own cluster) instead of
    an undefined row; it changes nothing else measurably."""
    N = W.shape[-1]
    W = W + self_loop * torch.eye(N, dtype=W.dtype, device=W.device)
    dinv = W.sum(-1).rsqrt()
    M = dinv.unsqueeze(-1) * W * dinv.unsqueeze(-2)
    _, vecs = torch.linalg.eigh(M)  # ascending eigenvalues
    Y = vecs[..., -K:]
    return Y / Y.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(Y.dtype).tiny)


def kmeans(Y: Tensor, K: int, iters: int = 30) -> Tensor:
    """Batched Lloyd's k-means on the rows of Y (B, N, m), labels (B, N).

    Deterministic farthest-point initialisation (first centre: row 0; each next centre: the row
    farthest from the centres so far), so that no random numbers are drawn. On a spectral embedding
    with well-separated clusters this start is already one point per cluster."""
    B, N, m = Y.shape
    idx = torch.zeros(B, dtype=torch.long, device=Y.device)
    centres = [Y[torch.arange(B, device=Y.device), idx]]
    mind = (Y - centres[0].unsqueeze(1)).square().sum(-1)
    for _ in range(1, K):
        idx = mind.argmax(-1)
        c = Y[torch.arange(B, device=Y.device), idx]
        centres.append(c)
        mind = torch.minimum(mind, (Y - c.unsqueeze(1)).square().sum(-1))
    C = torch.stack(centres, 1)  # (B, K, m)
    labels = torch.cdist(Y, C).argmin(-1)
    for _ in range(iters):
        onehot = torch.nn.functional.one_hot(labels, K).to(Y.dtype)  # (B, N, K)
        count = onehot.sum(1)  # (B, K)
        newC = (onehot.mT @ Y) / count.clamp_min(1).unsqueeze(-1)
        C = torch.where(count.unsqueeze(-1) > 0, newC, C)  # an empty cluster keeps its centre
        new = torch.cdist(Y, C).argmin(-1)
        if torch.equal(new, labels):
            break
        labels = new
    return labels


def spectral_clustering(X: Tensor, K: int, q: int, kmeans_iters: int = 30) -> Tensor:
    """Spectral initialisation of KSS (spec §4.4 steps 1-3): labels (B, N)."""
    return kmeans(spectral_embedding(thresholded_affinity(X, q), K), K, kmeans_iters)


# ----------------------------------------------------------------------------------------------
# K-subspaces (spec §4.4 step 4; Problem 17)


def fit_clusters(X: Tensor, labels: Tensor, K: int, d: int | Tensor) -> Tensor:
    """Per-cluster PCA: U_k = top-d directions of the samples labelled k. Shape (B, K, n, d_max).

    An empty cluster gets the SVD's basis of a zero matrix (fixed coordinate axes), which the next
    assignment step can still use."""
    onehot = torch.nn.functional.one_hot(labels, K).to(X.dtype)  # (B, N, K)
    Xk = X.unsqueeze(1) * onehot.mT.unsqueeze(-1)  # (B, K, N, n), other clusters' rows zeroed
    if isinstance(d, int):
        return top_subspace(Xk, d)
    d_max = int(d.max())
    return top_subspace(Xk, d_max) * column_mask(d, d_max)[:, None, None, :].to(X.dtype)


def assign(X: Tensor, U: Tensor) -> Tensor:
    """Hard assignment of Eq. 16 / Problem 17: k(x) = argmax_k ||U_k^T x||, labels (B, N)."""
    energy = torch.einsum("bni,bkid->bnkd", X, U).square().sum(-1)  # (B, N, K)
    return energy.argmax(-1)


def kss(X: Tensor, K: int, d: int | Tensor, labels: Tensor, max_iters: int = 30) -> tuple[Tensor, Tensor, Tensor]:
    """K-subspaces from initial labels: alternate per-cluster PCA and reassignment until the labels
    stop changing (per problem) or `max_iters` reassignments were made.

    Returns (U (B, K, n, d_max) fitted to the final labels, labels (B, N), iterations (B,))."""
    iters = torch.zeros(labels.shape[0], dtype=torch.long, device=labels.device)
    U = fit_clusters(X, labels, K, d)
    for _ in range(max_iters):
        new = assign(X, U)
        changed = (new != labels).any(-1)
        if not changed.any():
            break
        iters += changed.long()
        labels = new
        U = fit_clusters(X, labels, K, d)
    return U, labels, iters


def kss_spectral(
    X: Tensor, K: int, d: int | Tensor, q: int, kmeans_iters: int = 30, max_iters: int = 30
) -> tuple[Tensor, Tensor, Tensor]:
    """Problem (17) in closed form: spectral initialisation, then K-subspaces (spec §4.4)."""
    labels = spectral_clustering(X, K, q, kmeans_iters)
    return kss(X, K, d, labels, max_iters)
