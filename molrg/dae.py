"""The theoretical denoising autoencoders (DAEs) of §3 and their training by Algorithm 1.

Spec references (../shared/paper_spec.md): §2.3 (loss Eq. 5), §2.4 (theory schedule,
UNCONFIRMED), §3.4 (Eqs. 7, 11, 15, 16), §3.5 (Thm 1/3), §4.1 (Algorithm 1 and the retraction),
§4.2 (hyper-parameters, all UNCONFIRMED: they are arguments here and config keys in
`theory.dae`).

Every module holds P independent problems at once (parameters with a leading axis P) and takes
inputs x_t of shape (P, b, n) with s, gamma of shape (P, b, 1). Training sums the P per-problem
losses: each parameter receives the gradient of its own problem only, and Adam/SGD update every
entry from its own gradient history, so one batched run is exactly P separate runs
(tests/test_dae.py checks one step against separate modules).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .mixture import MoLRG, posterior_mean
from .progress import progress

Tensor = torch.Tensor

# VP schedule constants of the authors' EDM code (spec §2.4): alpha_bar(t) = exp(-(beta_d t^2 / 2 + beta_min t)).
VP_BETA_D = 19.9
VP_BETA_MIN = 0.1


# ----------------------------------------------------------------------------------------------
# Time grid and weighting (Algorithm 1 step 1)


def time_grid(kind: str, T: int, dtype=torch.float64, sigma_max: float = 1.0) -> tuple[Tensor, Tensor]:
    """(s_t, gamma_t) on the uniform grid t_i = i/T, i = 1..T (spec §2.4, UNCONFIRMED choice).

    "vp":  s_t = sqrt(alpha_bar_t), gamma_t = sqrt(1 - alpha_bar_t), so s_t^2 + gamma_t^2 = 1
           (sigma_max is not used);
    "edm": s_t = 1, gamma_t = sigma_max * t (noise std up to sigma_max; 1 = the scale of the data)."""
    t = torch.arange(1, T + 1, dtype=dtype) / T
    if kind == "vp":
        log_abar = -(0.5 * VP_BETA_D * t * t + VP_BETA_MIN * t)
        return torch.exp(0.5 * log_abar), torch.sqrt(-torch.expm1(log_abar))
    if kind == "edm":
        return torch.ones_like(t), sigma_max * t
    raise ValueError(f"unknown schedule {kind!r}: use 'vp' or 'edm' (config key theory.dae.schedule)")


def loss_weight(kind: str, s: Tensor, gamma: Tensor) -> Tensor:
    """lambda_t of Eq. 5 (UNCONFIRMED): "one" (lambda = 1, the spec's recommendation) or "snr"
    (s^2 / gamma^2). The optimum does not depend on it (Thm 1/3); the speed of SGD does."""
    if kind == "one":
        return torch.ones_like(s)
    if kind == "snr":
        return (s / gamma).square()
    raise ValueError(f"unknown loss weight {kind!r}: use 'one' or 'snr' (config key theory.dae.loss_weight)")


def shrinkage(s: Tensor, gamma: Tensor) -> Tensor:
    """c_t = s_t / (s_t^2 + gamma_t^2), the gain of Eqs. 11 and 15 (unit eigenvalues)."""
    return s / (s * s + gamma * gamma)


# ----------------------------------------------------------------------------------------------
# Stiefel retraction


def tangent_project(U: Tensor, G: Tensor) -> Tensor:
    """The Riemannian gradient on the Stiefel manifold (embedded metric): G - U sym(U^T G), for
    orthonormal U (..., n, d) and a Euclidean gradient G of the same shape.

    For the losses of Eqs. 11 and 15 (functions of U U^T only) U^T G is symmetric and this is
    (I - U U^T) G, the component of the step that changes the subspace. Dropping the component along
    U matters for large steps: U - eta G = U (I - eta A) - eta G_perp with A = U^T G, and the QR
    retraction of that is ill-conditioned (the span can jump) where I - eta A is near singular.
    Zero (masked) columns of U and G stay zero."""
    A = U.mT @ G
    return G - U @ (0.5 * (A + A.mT))


def stiefel_retract(U: Tensor) -> Tensor:
    """Nearest-by-QR point of the Stiefel manifold: the Q factor of U (..., n, d) with the signs
    fixed so that diag(R) > 0 (a retraction; for U already orthonormal it returns U)."""
    Q, R = torch.linalg.qr(U)
    sign = torch.sign(torch.diagonal(R, dim1=-2, dim2=-1))
    return Q * torch.where(sign == 0, torch.ones_like(sign), sign).unsqueeze(-2)


class _StiefelDAE(nn.Module):
    """Shared parts: orthonormal bases U of shape (P, K, n, d_max), retracted after each step.

    `d` (P,) gives each problem its own rank d_p <= d_max: columns beyond d_p are held at zero
    (masked in the forward pass, so they get no gradient, and re-zeroed after each retraction;
    QR treats columns left to right, so trailing zero columns leave the others unchanged). A batch
    of problems with different ranks is then exactly the separate problems."""

    def __init__(self, U0: Tensor, d: Tensor | None = None):
        super().__init__()
        P, K, n, d_max = U0.shape
        d = torch.full((P,), d_max) if d is None else d
        mask = torch.arange(d_max).unsqueeze(0) < d.cpu().unsqueeze(-1)  # (P, d_max)
        self.register_buffer("mask", mask[:, None, None, :].to(U0.dtype))
        self.U = nn.Parameter(stiefel_retract(U0.clone() * self.mask) * self.mask)

    @torch.no_grad()
    def retract(self) -> None:
        self.U.copy_(stiefel_retract(self.U) * self.mask)

    def bases(self) -> Tensor:
        """The current bases, detached, (P, K, n, d_max), zero beyond each problem's rank."""
        return (self.U * self.mask).detach()

    def masked(self) -> Tensor:
        return self.U * self.mask


# ----------------------------------------------------------------------------------------------
# Eq. 11 (K = 1)


class LowRankDAE(_StiefelDAE):
    """Eq. 11: x_theta(x_t, t) = c_t U U^T x_t with U in O^{n x d} (the K = 1 DAE).

    U0: (P, n, d) or (P, 1, n, d) initial bases (orthonormalised here)."""

    def __init__(self, U0: Tensor, d: Tensor | None = None):
        super().__init__(U0.unsqueeze(1) if U0.ndim == 3 else U0, d)
        if self.U.shape[1] != 1:
            raise ValueError("LowRankDAE holds one basis per problem: U0 must be (P, n, d)")

    def forward(self, x_t: Tensor, s: Tensor, gamma: Tensor, x0: Tensor | None = None) -> Tensor:
        U = self.masked()[:, 0]  # (P, n, d)
        return shrinkage(s, gamma) * ((x_t @ U) @ U.mT)


# ----------------------------------------------------------------------------------------------
# Eqs. 15/16 (hard-max, K > 1)


class HardMaxDAE(_StiefelDAE):
    """Eq. 15 with the hard weights of Eq. 16: x_theta(x_t, t) = c_t U_k U_k^T x_t for the component
    k = argmax_l ||U_l^T x_0|| chosen on the *clean* sample with the current bases (spec §3.4, §4.1).
    Only U_k receives the gradient of that sample.

    U0: (P, K, n, d). The forward pass needs x0 (training only: the hard weight is not a
    function of x_t)."""

    def forward(self, x_t: Tensor, s: Tensor, gamma: Tensor, x0: Tensor | None = None) -> Tensor:
        if x0 is None:
            raise ValueError("HardMaxDAE needs the clean sample x0 for its hard weights (Eq. 16)")
        U = self.masked()  # (P, K, n, d)
        with torch.no_grad():
            k = torch.einsum("pbn,pknd->pbkd", x0, U).square().sum(-1).argmax(-1)  # (P, b)
        w = nn.functional.one_hot(k, U.shape[1]).to(x_t.dtype)  # (P, b, K)
        coef = torch.einsum("pbn,pknd->pbkd", x_t, U) * w.unsqueeze(-1)
        return shrinkage(s, gamma) * torch.einsum("pbkd,pknd->pbn", coef, U)


# ----------------------------------------------------------------------------------------------
# Eq. 7 (soft-max mixture of experts)


class SoftMaxDAE(_StiefelDAE):
    """Eq. 7: the Lemma-1 posterior mean with learnable parameters theta = {pi_k, mu_k, U_k, Lambda_k}
    (spec §3.4). Gates are the soft-max of the components' Gaussian log-likelihoods of x_t.

    Each problem's parameters are handed to `mixture.posterior_mean` through torch.vmap, so the
    closed form is written once. `learn` names the trained parameters among "U", "lam", "pi", "mu";
    the others stay at their initial values (defaults: unit eigenvalues, uniform weights, zero
    means, i.e. the theory model of Eq. 9). Masked columns (ranks d_p < d_max) keep lambda = 1 but a
    zero basis vector: they add the same constant to every component's log-likelihood of a problem,
    which the soft-max cancels, and nothing to the mean."""

    def __init__(self, U0: Tensor, d: Tensor | None = None, lam0: Tensor | None = None,
                 pi0: Tensor | None = None, mu0: Tensor | None = None, learn: tuple[str, ...] = ("U",)):
        super().__init__(U0, d)
        P, K, n, d = self.U.shape
        dt = self.U.dtype
        unknown = set(learn) - {"U", "lam", "pi", "mu"}
        if unknown:
            raise ValueError(f"SoftMaxDAE cannot learn {sorted(unknown)}: choose among U, lam, pi, mu")
        lam0 = torch.ones(P, K, d, dtype=dt) if lam0 is None else lam0
        pi0 = torch.full((P, K), 1.0 / K, dtype=dt) if pi0 is None else pi0
        mu0 = torch.zeros(P, K, n, dtype=dt) if mu0 is None else mu0
        self.U.requires_grad_("U" in learn)
        # log-parameterisations keep lambda > 0 and pi on the simplex
        self.log_lam = nn.Parameter(lam0.log(), requires_grad="lam" in learn)
        self.pi_logits = nn.Parameter(pi0.log(), requires_grad="pi" in learn)
        self.mu = nn.Parameter(mu0.clone(), requires_grad="mu" in learn)

    def molrg(self, p: int) -> MoLRG:
        """Problem p's parameters as a MoLRG (detached), e.g. for the EDM denoiser."""
        return MoLRG(torch.softmax(self.pi_logits[p], -1).detach(), self.mu[p].detach(),
                     self.bases()[p], self.log_lam[p].exp().detach())

    def forward(self, x_t: Tensor, s: Tensor, gamma: Tensor, x0: Tensor | None = None) -> Tensor:
        def one(x, logits, mu, U, log_lam, s_, g_):
            return posterior_mean(x, MoLRG(torch.softmax(logits, -1), mu, U, log_lam.exp()), s_, g_)

        return torch.vmap(one)(x_t, self.pi_logits, self.mu, self.masked(), self.log_lam, s, gamma)


# ----------------------------------------------------------------------------------------------
# Algorithm 1


@dataclass(frozen=True)
class TrainSettings:
    """Algorithm 1's hyper-parameters (all UNCONFIRMED, spec §4.2; config section theory.dae)."""

    iterations: int = 600
    batch: int = 64
    lr: float = 0.1
    optimizer: str = "sgd"  # sgd | adam
    lr_decay: str = "cosine"  # cosine | constant
    schedule: str = "edm"  # edm | vp
    T: int = 1000
    loss_weight: str = "one"  # one | snr
    sigma_max: float = 1.0  # edm grid: gamma_t = sigma_max * t
    gradient: str = "riemannian"  # riemannian (tangent-projected) | euclidean


def make_optimizer(module: nn.Module, settings: TrainSettings) -> torch.optim.Optimizer:
    params = [p for p in module.parameters() if p.requires_grad]
    if settings.optimizer == "adam":
        return torch.optim.Adam(params, lr=settings.lr)
    if settings.optimizer == "sgd":
        return torch.optim.SGD(params, lr=settings.lr)
    raise ValueError(f"unknown optimizer {settings.optimizer!r}: use 'adam' or 'sgd' (config key theory.dae.optimizer)")


def lr_factor(kind: str, step: int, total: int) -> float:
    """Multiplier of the learning rate at `step` (0-based): constant, or a cosine decay to zero, which
    removes the noise floor that a constant step size leaves around the optimum."""
    if kind == "constant":
        return 1.0
    if kind == "cosine":
        return 0.5 * (1 + math.cos(math.pi * step / max(total, 1)))
    raise ValueError(f"unknown lr decay {kind!r}: use 'cosine' or 'constant' (config key theory.dae.lr_decay)")


def dae_loss(module: nn.Module, x0: Tensor, s: Tensor, gamma: Tensor, weight: Tensor, eps: Tensor) -> Tensor:
    """Eq. 5 on one mini-batch, per problem: mean_b lambda_t ||x_theta(s x0 + gamma eps, t) - x0||^2, shape (P,)."""
    x_t = s * x0 + gamma * eps
    err = (module(x_t, s, gamma, x0) - x0).square().sum(-1, keepdim=True)
    return (weight * err).mean((-2, -1))


def dae_step(module: nn.Module, optimizer: torch.optim.Optimizer, x0: Tensor, s: Tensor, gamma: Tensor,
             weight: Tensor, eps: Tensor, riemannian: bool = False) -> Tensor:
    """One step of Algorithm 1 on given draws, followed by the Stiefel retraction; returns the
    per-problem losses before the step. The P losses are summed, never averaged (see module doc).

    riemannian: step along the tangent-projected gradient of the bases (`tangent_project`) instead
    of the Euclidean one (the other parameters of the soft-max DAE are unconstrained)."""
    optimizer.zero_grad(set_to_none=True)
    loss = dae_loss(module, x0, s, gamma, weight, eps)
    loss.sum().backward()
    if riemannian and module.U.grad is not None:
        with torch.no_grad():
            module.U.grad.copy_(tangent_project(module.U, module.U.grad))
    optimizer.step()
    module.retract()
    return loss.detach()


def train_dae(module: nn.Module, X: Tensor, counts: Tensor, settings: TrainSettings,
              generator: torch.Generator) -> Tensor:
    """Algorithm 1 for P problems at once.

    X: (P, N_max, n) training sets padded with unused rows; counts: (P,) the number of real rows.
    Each step draws, per problem, `batch` sample indices uniformly from its own rows (with
    replacement), times uniformly from the grid and Gaussian noises, takes one (Riemannian, by
    default) SGD step on the Eq. 5 loss of that mini-batch and retracts. Returns the per-problem
    losses of every step, (iterations, P)."""
    P, _, n = X.shape
    dev, dt = X.device, X.dtype
    if settings.gradient not in ("riemannian", "euclidean"):
        raise ValueError(f"unknown gradient {settings.gradient!r}: use 'riemannian' or 'euclidean' "
                         "(config key theory.dae.gradient)")
    s_grid, g_grid = time_grid(settings.schedule, settings.T, sigma_max=settings.sigma_max)
    w_grid = loss_weight(settings.loss_weight, s_grid, g_grid)
    s_grid, g_grid, w_grid = (v.to(dev, dt) for v in (s_grid, g_grid, w_grid))
    opt = make_optimizer(module, settings)
    rows = torch.arange(P, device=dev).unsqueeze(-1)
    history = torch.empty(settings.iterations, P, dtype=dt)
    b = settings.batch
    for it in progress(range(settings.iterations), f"DAE training of {P} problems", unit="steps"):
        for group in opt.param_groups:
            group["lr"] = settings.lr * lr_factor(settings.lr_decay, it, settings.iterations)
        u = torch.rand(P, b, generator=generator, device=dev, dtype=dt)
        idx = (u * counts.unsqueeze(-1)).long().clamp_max(counts.unsqueeze(-1) - 1)
        t = torch.randint(settings.T, (P, b), generator=generator, device=dev)
        eps = torch.randn(P, b, n, generator=generator, device=dev, dtype=dt)
        x0 = X[rows, idx]
        s, g, w = (v[t].unsqueeze(-1) for v in (s_grid, g_grid, w_grid))
        history[it] = dae_step(module, opt, x0, s, g, w, eps, settings.gradient == "riemannian").cpu()
    return history


def expected_loss_eq11(U: Tensor, X: Tensor, s: float, gamma: float) -> Tensor:
    """E_eps ||c U U^T (s x + gamma eps) - x||^2 averaged over the rows of X (spec §3.5), in closed form:
    ||x||^2 - (2 c s - c^2 s^2) ||U^T x||^2 + c^2 gamma^2 d. The basis of Thm 1: minimising it over
    U is PCA because 2cs - c^2 s^2 > 0."""
    c = s / (s * s + gamma * gamma)
    d = U.shape[-1]
    return (X.square().sum(-1) - (2 * c * s - c * c * s * s) * (X @ U).square().sum(-1)).mean(-1) + c * c * gamma * gamma * d


def expected_objective(U: Tensor, X: Tensor, counts: Tensor, settings: TrainSettings) -> Tensor:
    """The training objective of Algorithm 1 in closed form, per problem, for the Eq. 11 (K = 1) and
    hard-max Eqs. 15/16 DAEs: the Eq. 5 loss averaged over the training set, over eps and over the
    time grid with its weights lambda_t,

        mean_t lambda_t [ mean_i ||x_i||^2 - (2 c_t s_t - c_t^2 s_t^2) mean_i max_k ||U_k^T x_i||^2 + c_t^2 gamma_t^2 d ]

    (spec §3.5; the hard weight of x_i is its argmax over k, so the inner term is exact). It uses the
    training data only, never the true bases: `phase.dae_restarts_grid` keeps the restart with the
    lowest value. For one problem it is a decreasing function of the K-subspaces objective
    sum_i max_k ||U_k^T x_i||^2 (Thm 3).

    U: (P, K, n, d_max) bases (zero columns beyond each rank), X: (P, N_max, n) padded data,
    counts: (P,) real rows. Returns (P,) in X's dtype."""
    s, g = time_grid(settings.schedule, settings.T, dtype=X.dtype, sigma_max=settings.sigma_max)
    w = loss_weight(settings.loss_weight, s, g)
    c = shrinkage(s, g)
    gain, const = (w * (2 * c * s - c * c * s * s)).mean(), (w * c * c * g * g).mean()
    real = (torch.arange(X.shape[1], device=X.device).unsqueeze(0) < counts.unsqueeze(-1)).to(X.dtype)  # (P, N)
    energy = torch.einsum("pnm,pkmd->pnkd", X, U.to(X.dtype)).square().sum(-1).amax(-1)  # (P, N)
    rank = (U.square().sum(-2) > 0.5).sum((-1)).amax(-1).to(X.dtype)  # (P,): columns in use (the same for every k)
    n_real = counts.to(X.dtype)
    return (w.mean() * (X.square().sum(-1) * real).sum(-1) - gain * (energy * real).sum(-1)) / n_real + const * rank
