"""Mixture of low-rank Gaussians (MoLRG): the data model and its exact denoiser.

Spec references (../shared/paper_spec.md): §1 (Def. 1, Eqs. 6, 9, 10, authors' sampler),
§3.1 (Prop. 1, score and log-space weights), §3.2 (Lemma 1, posterior mean).

Conventions used across the package:
* a forward process x_t = s_t x_0 + gamma_t * eps (gamma_t = s_t * sigma_t is the noise std);
  the EDM case is s = 1, gamma = sigma;
* all components share the same rank d (unequal ranks are expressed by zero-padded eigenvalues:
  a padded column with lambda = 0 contributes nothing to the mean and exactly log(gamma^2) to the
  log-determinant, so the formulas below stay exact);
* every function is batched over samples (first axis) and accepts s/gamma as python floats or as
  tensors broadcastable to the batch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

Tensor = torch.Tensor


@dataclass
class MoLRG:
    """Parameters {pi_k, mu_k, U_k, Lambda_k} of a K-component MoLRG in R^n (spec §1.1).

    pi: (K,) mixing weights summing to one; mu: (K, n) means; U: (K, n, d) orthonormal bases;
    lam: (K, d) non-negative eigenvalues of the component covariances U_k diag(lam_k) U_k^T.
    """

    pi: Tensor
    mu: Tensor
    U: Tensor
    lam: Tensor

    def __post_init__(self):
        K, n, d = self.U.shape
        if self.pi.shape != (K,) or self.mu.shape != (K, n) or self.lam.shape != (K, d):
            raise ValueError(
                f"inconsistent MoLRG shapes: pi {tuple(self.pi.shape)}, mu {tuple(self.mu.shape)}, "
                f"U {tuple(self.U.shape)}, lam {tuple(self.lam.shape)}"
            )

    @property
    def K(self) -> int:
        return self.U.shape[0]

    @property
    def n(self) -> int:
        return self.U.shape[1]

    @property
    def d(self) -> int:
        return self.U.shape[2]

    def to(self, *args, **kwargs) -> "MoLRG":
        return MoLRG(*(t.to(*args, **kwargs) for t in (self.pi, self.mu, self.U, self.lam)))

    def state_dict(self) -> dict:
        return {"pi": self.pi, "mu": self.mu, "U": self.U, "lam": self.lam}

    @classmethod
    def from_state_dict(cls, sd: dict) -> "MoLRG":
        return cls(sd["pi"], sd["mu"], sd["U"], sd["lam"])


def haar_orthogonal(
    n: int, generator: torch.Generator, dtype=torch.float64, batch: tuple[int, ...] = (), columns: int | None = None
) -> Tensor:
    """A Haar-distributed n x n orthogonal matrix (the authors' construction, spec §1.4 step 2:
    a rotation-invariant factor of a Gaussian matrix), or a stack of independent ones of shape
    (*batch, n, n).

    `columns = m` returns an n x m matrix with the law of the first m columns of a Haar matrix
    (QR of an n x m Gaussian matrix; Householder QR treats columns left to right, so these are
    the first m columns of the full construction applied to a Gaussian matrix extended to n x n).
    It draws n*m numbers instead of n*n, hence different values than the full call for one seed."""
    m = n if columns is None else columns
    G = torch.randn(*batch, n, m, generator=generator, dtype=dtype)
    Q, R = torch.linalg.qr(G)
    # QR with the diagonal of R made positive gives exactly the Haar measure (Mezzadri 2007);
    # written here instead of an SVD because the SVD's column signs are implementation-defined.
    return Q * torch.sign(torch.diagonal(R, dim1=-2, dim2=-1)).unsqueeze(-2)


def orthogonal_bases(
    n: int,
    K: int,
    d: int,
    generator: torch.Generator,
    dtype=torch.float64,
    batch: tuple[int, ...] = (),
    thin: bool = False,
) -> Tensor:
    """K mutually orthogonal rank-d bases: disjoint column blocks of one Haar matrix (spec §1.4 step 3).

    Shape (K, n, d), or (*batch, K, n, d) for independent draws (one Haar matrix each).
    `thin=True` draws only the K*d columns that are used (same law, cheaper; the phase grids)."""
    if K * d > n:
        raise ValueError(f"K*d = {K}*{d} = {K * d} exceeds the ambient dimension n = {n}")
    Q = haar_orthogonal(n, generator, dtype, batch=batch, columns=K * d if thin else None)
    return torch.stack([Q[..., k * d : (k + 1) * d] for k in range(K)], dim=-3)


def standard_molrg(U: Tensor) -> MoLRG:
    """The theory model (Eq. 9): mu_k = 0, unit eigenvalues, uniform pi."""
    K, n, d = U.shape
    return MoLRG(
        pi=torch.full((K,), 1.0 / K, dtype=U.dtype),
        mu=torch.zeros(K, n, dtype=U.dtype),
        U=U,
        lam=torch.ones(K, d, dtype=U.dtype),
    )


def sample_balanced(
    U: Tensor, n_per_class: int, generator: torch.Generator, noise_std: float = 0.0
) -> tuple[Tensor, Tensor]:
    """Eq. 9 with exactly balanced classes: x = U_k a + e, a ~ N(0, I_d), e ~ N(0, noise_std^2 I_n).

    U is (K, n, d), or (*batch, K, n, d) for independent problems (one data set each).
    Returns x of shape (*batch, K * n_per_class, n), ordered class by class, and the labels
    (long, shape (K * n_per_class,), the same for every problem of the batch)."""
    *batch, K, n, d = U.shape
    a = torch.randn(*batch, K, n_per_class, d, generator=generator, dtype=U.dtype)
    x = torch.einsum("...knd,...kmd->...kmn", U, a).reshape(*batch, K * n_per_class, n)
    if noise_std > 0:
        x = x + noise_std * torch.randn(x.shape, generator=generator, dtype=U.dtype)
    labels = torch.arange(K).repeat_interleave(n_per_class)
    return x, labels


def sample(model: MoLRG, num: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """i.i.d. samples of a general MoLRG (component drawn from pi)."""
    labels = torch.multinomial(model.pi.double(), num, replacement=True, generator=generator)
    a = torch.randn(num, model.d, generator=generator, dtype=model.U.dtype)
    a = a * model.lam[labels].clamp_min(0).sqrt()
    x = model.mu[labels] + torch.einsum("bnd,bd->bn", model.U[labels], a)
    return x, labels


def _col(v, x: Tensor) -> Tensor:
    """s or gamma as a (B, 1) tensor on x's device/dtype."""
    t = torch.as_tensor(v, dtype=x.dtype, device=x.device)
    return t.reshape(-1, 1) if t.ndim else t.reshape(1, 1)


def _projections(x: Tensor, model: MoLRG, s: Tensor):
    """U_k^T r_k and ||r_k||^2 for r_k = x - s mu_k without forming the (B, K, n) residuals."""
    Ux = torch.einsum("bn,knd->bkd", x, model.U)  # (B, K, d)
    Umu = torch.einsum("kn,knd->kd", model.mu, model.U)  # (K, d)
    proj = Ux - s.unsqueeze(-1) * Umu.unsqueeze(0)  # (B, K, d)
    r2 = (
        (x * x).sum(-1, keepdim=True)
        - 2 * s * (x @ model.mu.T)
        + s * s * (model.mu * model.mu).sum(-1).unsqueeze(0)
    )  # (B, K)
    return proj, r2.clamp_min(0)


def component_log_likelihood(x: Tensor, model: MoLRG, s, gamma) -> Tensor:
    """log N(x; s mu_k, s^2 Sigma_k + gamma^2 I) for every component, shape (B, K) (spec §3.1)."""
    s, g = _col(s, x), _col(gamma, x)
    g2 = g * g
    proj, r2 = _projections(x, model, s)
    var = g2.unsqueeze(-1) + (s * s).unsqueeze(-1) * model.lam.unsqueeze(0)  # (B|1, K, d)
    D = (s * s).unsqueeze(-1) * model.lam.unsqueeze(0) / var  # s^2 lam / (gamma^2 + s^2 lam)
    quad = (r2 - (D * proj * proj).sum(-1)) / g2
    n, d = model.n, model.d
    logdet = (n - d) * torch.log(g2) + torch.log(var).sum(-1)
    return -0.5 * (n * math.log(2 * math.pi) + logdet + quad)


def posterior_weights(x: Tensor, model: MoLRG, s, gamma) -> Tensor:
    """w_k(x_t) = softmax_k(log pi_k + log N_k(x_t)), computed in log space (spec §3.1)."""
    logits = torch.log(model.pi).unsqueeze(0) + component_log_likelihood(x, model, s, gamma)
    return torch.softmax(logits, dim=-1)


def log_density(x: Tensor, model: MoLRG, s, gamma) -> Tensor:
    """log p_t(x) of the noised MoLRG (Prop. 1), shape (B,)."""
    logits = torch.log(model.pi).unsqueeze(0) + component_log_likelihood(x, model, s, gamma)
    return torch.logsumexp(logits, dim=-1)


def posterior_mean(x: Tensor, model: MoLRG, s, gamma) -> Tensor:
    """E[x_0 | x_t = x] (Lemma 1): sum_k w_k [mu_k + U_k diag(s lam/(gamma^2 + s^2 lam)) U_k^T (x - s mu_k)]."""
    s_, g = _col(s, x), _col(gamma, x)
    proj, _ = _projections(x, model, s_)
    w = posterior_weights(x, model, s, gamma)  # (B, K)
    gain = s_.unsqueeze(-1) * model.lam.unsqueeze(0) / (
        (g * g).unsqueeze(-1) + (s_ * s_).unsqueeze(-1) * model.lam.unsqueeze(0)
    )
    coef = w.unsqueeze(-1) * gain * proj  # (B, K, d)
    return w @ model.mu + torch.einsum("bkd,knd->bn", coef, model.U)


def posterior_covariance_factor(x: Tensor, model: MoLRG, s, gamma) -> Tensor:
    """V of shape (B, n, K*d + K) with Cov[x_0 | x_t = x] = V V^T, by the law of total covariance
    over the components: sum_k w_k C_k + sum_k w_k (m_k - m)(m_k - m)^T, where component k's
    posterior is N(m_k, C_k), C_k = U_k diag(gamma^2 lam / (gamma^2 + s^2 lam)) U_k^T, m_k its
    posterior mean (Lemma 1's bracket) and m = sum_k w_k m_k. The first K*d columns are
    U_k sqrt(w_k C_k's variances), the last K are sqrt(w_k) (m_k - m)."""
    s_, g = _col(s, x), _col(gamma, x)
    proj, _ = _projections(x, model, s_)
    w = posterior_weights(x, model, s, gamma)  # (B, K)
    g2 = (g * g).unsqueeze(-1)  # (B|1, 1, 1)
    s2lam = (s_ * s_).unsqueeze(-1) * model.lam.unsqueeze(0)  # (B|1, K, d)
    gain = s_.unsqueeze(-1) * model.lam.unsqueeze(0) / (g2 + s2lam)
    post_var = g2 * model.lam.unsqueeze(0) / (g2 + s2lam)  # (B|1, K, d)
    m_k = model.mu.unsqueeze(0) + torch.einsum("bkd,knd->bkn", gain * proj, model.U)  # (B, K, n)
    m = torch.einsum("bk,bkn->bn", w, m_k)
    B, (K, n, d) = x.shape[0], model.U.shape
    cov_cols = model.U.unsqueeze(0) * (w.unsqueeze(-1) * post_var).sqrt().unsqueeze(-2)  # (B, K, n, d)
    spread = (m_k - m.unsqueeze(1)) * w.sqrt().unsqueeze(-1)  # (B, K, n)
    return torch.cat([cov_cols.permute(0, 2, 1, 3).reshape(B, n, K * d), spread.transpose(1, 2)], dim=-1)


def posterior_mean_jacobian(x: Tensor, model: MoLRG, s, gamma) -> Tensor:
    """d E[x_0 | x_t = x] / dx exactly, shape (B, n, n): Tweedie's second-order identity
    (s / gamma^2) Cov[x_0 | x_t = x] with the covariance of `posterior_covariance_factor`.
    Symmetric positive semi-definite by construction. Written out rather than left to autodiff
    because it costs n^2 (K d + K) flops instead of n reverse passes through the model: at
    n = 3072 the full-rank Gaussian (d = n) takes seconds instead of ~30 s (one thread)."""
    s_, g = _col(s, x), _col(gamma, x)
    V = posterior_covariance_factor(x, model, s, gamma)
    J = (V @ V.transpose(-1, -2)) * (s_ / (g * g)).unsqueeze(-1)
    return (J + J.transpose(-1, -2)) / 2  # exactly symmetric (the matmul may round the halves apart)


def score(x: Tensor, model: MoLRG, s, gamma) -> Tensor:
    """grad_x log p_t(x) via Tweedie (Eq. 4): (s E[x_0|x_t] - x_t) / gamma^2 (equals Prop. 1)."""
    s_, g = _col(s, x), _col(gamma, x)
    return (s_ * posterior_mean(x, model, s, gamma) - x) / (g * g)


class MoLRGDenoiser(torch.nn.Module):
    """The closed-form EDM denoiser D(x; sigma) = E[x_0 | x_0 + sigma * eps = x] (spec §3.2, EDM case).

    Works on any input shape (B, ...) whose trailing dimensions flatten to n, so that it plugs into
    the same samplers and Jacobian code as a U-Net taking images."""

    def __init__(self, model: MoLRG):
        super().__init__()
        for name, t in model.state_dict().items():
            self.register_buffer(name, t)

    @property
    def model(self) -> MoLRG:
        return MoLRG(self.pi, self.mu, self.U, self.lam)

    def _flat(self, x: Tensor) -> tuple[Tensor, MoLRG]:
        """x as (B, n) and the model in x's dtype."""
        flat = x.reshape(x.shape[0], -1)
        m = self.model
        return flat, (m if m.U.dtype == flat.dtype else m.to(flat.dtype))

    def forward(self, x: Tensor, sigma) -> Tensor:
        flat, m = self._flat(x)
        return posterior_mean(flat, m, 1.0, sigma).reshape(x.shape)

    def jacobian(self, x: Tensor, sigma) -> Tensor:
        """dD(x; sigma)/dx of every sample, (B, n, n), exactly (posterior_mean_jacobian, the EDM
        case s = 1, gamma = sigma); molrg.jacobian.jacobian uses it in place of autodiff."""
        flat, m = self._flat(x)
        return posterior_mean_jacobian(flat, m, 1.0, sigma)
