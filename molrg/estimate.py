"""Fitting the models of Table 1 / Fig. 1 to real images (spec §5.1, §5.2).

* ``class_molrg``     -- per-class MoLRG: class means, the rank-d truncated eigendecomposition of
                         each class covariance from a thin SVD of the centred class data (never the
                         dense n x n covariance), mixing weights;
* ``gmm_clusters``    -- labels for unlabelled sets (FFHQ, CelebA, AFHQ, MetFaces): EM for a
                         Gaussian mixture in a PCA-reduced space;
* ``gaussian_model``  -- the single full-rank Gaussian baseline, written as a K = 1 MoLRG with d = n.

Both models plug into ``molrg.mixture.MoLRGDenoiser`` (EDM denoiser D(x; sigma)) and so into the
shared Heun sampler. Inputs are arrays of flattened images (N, n).
"""
from __future__ import annotations

import numpy as np
import torch

from molrg.mixture import MoLRG


def _as_tensor(x, dtype=torch.float64) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x, dtype=dtype)


def complete_basis(V: torch.Tensor, d: int) -> torch.Tensor:
    """Extend orthonormal columns V (n, r) with r < d to d orthonormal columns (n, d).

    Used when a class has fewer samples than d: the extra directions get eigenvalue 0, so they
    change nothing in the denoiser, but U stays orthonormal for code that relies on it."""
    n, r = V.shape
    if r >= d:
        return V[:, :d]
    # A fixed-seed Gaussian block projected off span(V), then orthonormalised: O(n d), deterministic.
    G = torch.randn(n, d - r, generator=torch.Generator().manual_seed(0), dtype=V.dtype)
    G = G - V @ (V.T @ G)
    Q, _ = torch.linalg.qr(G)
    return torch.cat([V, Q], dim=1)


def top_eigenpairs(xc: torch.Tensor, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-d eigenpairs of the sample covariance xc^T xc / (N - 1) of centred data xc (N, n),
    from the thin SVD of xc (cost O(N n min(N, n)); the n x n covariance is never formed).
    Returns U (n, d) orthonormal and lam (d,) >= 0 (zero-padded beyond the data's rank)."""
    N, n = xc.shape
    if d > n:
        raise ValueError(f"rank d = {d} exceeds the dimension n = {n}")
    _, S, Vh = torch.linalg.svd(xc, full_matrices=False)
    lam = S**2 / max(N - 1, 1)
    r = min(d, len(S))
    U = complete_basis(Vh[:r].T, d)
    lam = torch.cat([lam[:r], torch.zeros(d - r, dtype=lam.dtype)])
    return U, lam


def class_molrg(x, labels, d: int, weights: str = "uniform") -> MoLRG:
    """Per-class MoLRG (App. C): mu_k = class mean, (U_k, Lambda_k) = rank-d truncated
    eigendecomposition of the class covariance, pi_k = 1/K ('uniform', spec §5.1; UNCONFIRMED)
    or N_k / N ('empirical'). ``labels`` are 0..K-1 (every class present)."""
    X = _as_tensor(x).reshape(len(x), -1)
    y = np.asarray(labels)
    classes = np.unique(y)
    if classes.min() < 0 or not np.array_equal(classes, np.arange(len(classes))):
        raise ValueError(f"labels must be 0..K-1 with every class present, got classes {classes.tolist()}")
    mus, Us, lams, counts = [], [], [], []
    for k in classes:
        Xk = X[torch.as_tensor(y == k)]
        mu = Xk.mean(0)
        U, lam = top_eigenpairs(Xk - mu, d)
        mus.append(mu), Us.append(U), lams.append(lam), counts.append(len(Xk))
    counts = torch.tensor(counts, dtype=X.dtype)
    if weights == "uniform":
        pi = torch.full((len(classes),), 1.0 / len(classes), dtype=X.dtype)
    elif weights == "empirical":
        pi = counts / counts.sum()
    else:
        raise ValueError(f"weights must be 'uniform' or 'empirical', got {weights!r}")
    return MoLRG(pi=pi, mu=torch.stack(mus), U=torch.stack(Us), lam=torch.stack(lams))


def gaussian_model(x) -> MoLRG:
    """The full-rank Gaussian baseline N(mu, Sigma) of all samples (spec §5.2) as a K = 1 MoLRG with
    d = n: its denoiser is mu + Sigma (Sigma + sigma^2 I)^{-1} (x - mu)."""
    X = _as_tensor(x).reshape(len(x), -1)
    mu = X.mean(0)
    U, lam = top_eigenpairs(X - mu, X.shape[1])
    return MoLRG(pi=torch.ones(1, dtype=X.dtype), mu=mu[None], U=U[None], lam=lam[None])


def pca_project(x, dim: int) -> np.ndarray:
    """Scores on the top-``dim`` principal axes (thin SVD of the centred data)."""
    X = _as_tensor(x).reshape(len(x), -1)
    Xc = X - X.mean(0)
    dim = min(dim, *Xc.shape)
    _, _, Vh = torch.linalg.svd(Xc, full_matrices=False)
    return (Xc @ Vh[:dim].T).numpy()


def gmm_clusters(x, K: int, pca_dim: int, seed: int, max_iter: int = 200, n_init: int = 1) -> np.ndarray:
    """Cluster labels for unlabelled images: EM for a K-component full-covariance Gaussian mixture
    (scikit-learn) on the top-``pca_dim`` PCA scores. Labels are renumbered by decreasing cluster
    size, so they do not depend on EM's arbitrary component order; empty clusters are dropped."""
    from sklearn.mixture import GaussianMixture

    Z = pca_project(x, pca_dim)
    gm = GaussianMixture(
        n_components=K, covariance_type="full", max_iter=max_iter, n_init=n_init,
        reg_covar=1e-4, random_state=seed,
    )
    raw = gm.fit_predict(Z)
    sizes = np.bincount(raw, minlength=K)
    order = [k for k in np.argsort(-sizes, kind="stable") if sizes[k] > 0]
    remap = np.full(K, -1, np.int64)
    remap[order] = np.arange(len(order))
    return remap[raw]


class Float64Denoiser(torch.nn.Module):
    """A closed-form denoiser evaluated in float64 whatever the caller's dtype, so that the
    Gaussian / MoLRG models can share float32 initial noises (and the sampler calls) with the U-Net
    while their log-space posterior weights keep full precision at small sigma."""

    def __init__(self, model: MoLRG):
        super().__init__()
        from molrg.mixture import MoLRGDenoiser

        self.inner = MoLRGDenoiser(model.to(torch.float64))

    def forward(self, x: torch.Tensor, sigma) -> torch.Tensor:
        s = sigma.to(torch.float64) if torch.is_tensor(sigma) else float(sigma)
        return self.inner(x.to(torch.float64), s).to(x.dtype)


def save_model(model: MoLRG, path, shape, kind: str, extra: dict | None = None) -> None:
    """A fitted MoLRG / Gaussian with the image shape it was fitted on (for reshaping samples)."""
    torch.save({"kind": kind, "shape": [int(s) for s in shape], "state_dict": model.state_dict(),
                **(extra or {})}, path)


def load_model(path) -> tuple[MoLRG, list[int], dict]:
    ck = torch.load(path, map_location="cpu", weights_only=True)
    return MoLRG.from_state_dict(ck["state_dict"]), ck["shape"], ck
