"""Jacobians of denoisers, their numerical rank (Eq. 51) and the intrinsic-dimension estimate
along a deterministic Heun trajectory (App. E.3, Fig. 7, Table 2).

Spec references (../shared/paper_spec.md): §7 (Eqs. 48-51, the authors' `edm/jacobian.py`),
§2.4 (the EDM sigma grid), §9 item 4 (the Jacobian is taken of the preconditioned D(x; sigma)).

Everything works on any denoiser `D(x, sigma)` of the package interface (docs/DEVELOPING.md):
the closed-form `MoLRGDenoiser`, the preconditioned U-Nets and the Gaussian baseline.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import torch

from molrg.progress import progress
from molrg.sampler import heun_sample

Tensor = torch.Tensor
Denoiser = Callable[[Tensor, object], Tensor]


# --------------------------------------------------------------------------------------------
# Dense Jacobian
# --------------------------------------------------------------------------------------------
def _sigma_batch(sigma, x: Tensor) -> Tensor:
    """sigma as a (B,) tensor on x's device and dtype."""
    s = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    return s.expand(x.shape[0]) if s.ndim == 0 else s.reshape(x.shape[0])


def jacobian(denoiser: Denoiser, x: Tensor, sigma, chunk_size: int = 256, exact: bool = True) -> Tensor:
    """The full Jacobians J_b = dD(x_b; sigma_b)/dx_b of a batch of points, shape (B, n, n),
    rows indexing the outputs and columns the inputs (n = prod of x's trailing dims).

    A denoiser with its own exact `jacobian(x, sigma)` method (the closed-form
    molrg.mixture.MoLRGDenoiser: Tweedie's identity) is asked for it when `exact` is true; the
    tests check it against the autodiff path below (`exact=False`).

    One forward pass at the whole batch, then reverse-mode products vmapped over chunks of the
    n output coordinates (torch.func): a chunk of c cotangents costs one batched backward pass
    of size c*B, so the n x n Jacobian takes ceil(n / chunk_size) backward calls, never n.

    The cotangent e_i is applied to every sample of the batch at once. This yields row i of
    every sample's Jacobian in the same backward pass *because the denoiser treats the samples
    of a batch independently* (true for every denoiser of the package: U-Nets use GroupNorm and
    run in eval mode, the closed-form denoisers are per-sample). A network with BatchNorm in
    training mode would violate it.
    """
    B = x.shape[0]
    shape = tuple(x.shape[1:])
    n = math.prod(shape)
    sig = _sigma_batch(sigma, x)
    if exact and callable(getattr(denoiser, "jacobian", None)):
        return denoiser.jacobian(x.detach(), sig)

    def f(flat: Tensor) -> Tensor:
        return denoiser(flat.reshape(B, *shape), sig).reshape(B, n)

    _, vjp_fn = torch.func.vjp(f, x.detach().reshape(B, n))
    J = torch.empty(B, n, n, dtype=x.dtype, device=x.device)
    eye = torch.eye(n, dtype=x.dtype, device=x.device)
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        cot = eye[start:stop].unsqueeze(1).expand(stop - start, B, n)  # (c, B, n): e_i for all b
        (rows,) = torch.func.vmap(vjp_fn)(cot)  # (c, B, n): row i of J_b
        J[:, start:stop, :] = rows.transpose(0, 1)
    return J


def singular_values(J: Tensor, dtype=torch.float64, sym_tol: float = 1e-9) -> Tensor:
    """Singular values (descending) of a batch of Jacobians, computed in float64: the rank rule
    sums squares over thousands of values.

    A symmetric Jacobian (|J - J^T| <= sym_tol * |J|, entrywise max) takes the symmetric
    eigensolver: its singular values are the absolute eigenvalues. This is the case of every exact
    posterior-mean denoiser (Tweedie: dD/dx = Cov[x0 | x] / sigma^2), i.e. the closed-form Gaussian
    and MoLRG models, and it is 6x faster than the SVD at n = 3072 (1.9 s against 12 s on one
    thread); a network's Jacobian is not symmetric and takes the SVD."""
    J = J.to(dtype)
    scale = J.abs().amax()
    if J.shape[-1] == J.shape[-2] and bool((J - J.transpose(-1, -2)).abs().amax() <= sym_tol * scale):
        ev = torch.linalg.eigvalsh((J + J.transpose(-1, -2)) / 2)
        return torch.sort(ev.abs(), dim=-1, descending=True).values
    return torch.linalg.svdvals(J)


# --------------------------------------------------------------------------------------------
# Numerical rank (Eq. 51)
# --------------------------------------------------------------------------------------------
def numerical_rank(s: Tensor, eta: float = 0.99) -> Tensor:
    """Smallest r with sqrt(sum_{i<=r} s_i^2) > eta * sqrt(sum_i s_i^2), batched over the leading
    axes of `s` (singular values along the last axis, any order).

    This is Eq. 51 as the authors' code applies it (spec §7): a threshold on the *Frobenius-norm*
    ratio, i.e. a cumulative energy ratio > eta^2 = 0.9801 for eta = 0.99 (not energy > 0.99).
    A zero matrix has rank 0.
    """
    if not 0.0 < eta < 1.0:
        raise ValueError(f"eta must lie in (0, 1), got {eta}")
    s = torch.as_tensor(s)
    s2 = torch.sort(s.abs(), dim=-1, descending=True).values ** 2
    energy = torch.cumsum(s2, dim=-1)
    total = energy[..., -1:]
    # sqrt(a) > eta sqrt(b)  <=>  a > eta^2 b for a, b >= 0; energy is non-decreasing, so the
    # number of prefixes that do NOT pass is r - 1.
    r = (energy <= (eta**2) * total).sum(dim=-1) + 1
    return torch.where(total[..., 0] > 0, r, torch.zeros_like(r))


# --------------------------------------------------------------------------------------------
# Rank along the deterministic EDM Heun trajectory (spec §2.4, §7)
# --------------------------------------------------------------------------------------------
def rank_along_trajectory(
    denoiser: Denoiser,
    latents: Tensor,
    num_steps: int = 18,
    sigma_min: float = 0.002,
    sigma_max: float = 80.0,
    rho: float = 7.0,
    steps: Sequence[int] | None = None,
    eta: float = 0.99,
    chunk_size: int = 256,
    on_step: Callable[[int, float], None] | None = None,
    others: dict[str, Denoiser] | None = None,
) -> dict:
    """Numerical rank of J = dD/dx at the pre-step states (x_i, sigma_i) of the deterministic EDM
    Heun trajectory (molrg.sampler.heun_sample, S_churn = 0) started at x_0 = sigma_max * z for
    each latent z: the authors' `edm/jacobian.py` experiment, batched over the latents.

    `steps`: the step indices that get a Jacobian (None: all). The trajectory itself always runs
    the full grid, so skipping Jacobians does not change the states. Returns numpy arrays
    `steps` (S,), `sigma` (S,), `rank` (B, S) and `singular_values` (B, S, n) (float32).

    `others`: further denoisers (e.g. the closed-form Gaussian and MoLRG of the same data) whose
    Jacobian rank is taken at the *same* states (x_i, sigma_i) of this trajectory, evaluated in
    float64; their ranks come back as `others_rank` {name: (B, S)}. Same states, same rank rule:
    the comparison isolates the denoiser.
    """
    wanted = list(range(num_steps)) if steps is None else sorted(set(int(s) for s in steps))
    bad = [s for s in wanted if not 0 <= s < num_steps]
    if bad:
        raise ValueError(f"Jacobian steps {bad} outside the {num_steps}-step trajectory (0..{num_steps - 1})")
    _, trajectory = heun_sample(denoiser, latents, num_steps, sigma_min, sigma_max, rho, return_trajectory=True)
    others = dict(others or {})
    ranks, svals = [], []
    other_ranks: dict[str, list] = {name: [] for name in others}
    for i in progress(wanted, "Jacobians along the trajectory", unit="steps"):
        x, s = trajectory[i]
        sv = singular_values(jacobian(denoiser, x, s, chunk_size))
        ranks.append(numerical_rank(sv, eta).cpu().numpy())
        svals.append(sv.float().cpu().numpy())
        for name, other in others.items():
            sv_o = singular_values(jacobian(other, x.to(torch.float64), s, chunk_size))
            other_ranks[name].append(numerical_rank(sv_o, eta).cpu().numpy())
        if on_step is not None:
            on_step(i, s)
    return {
        "steps": np.asarray(wanted, dtype=np.int64),
        "sigma": np.asarray([trajectory[i][1] for i in wanted], dtype=np.float64),
        "rank": np.stack(ranks, axis=1),
        "singular_values": np.stack(svals, axis=1),
        "others_rank": {name: np.stack(r, axis=1) for name, r in other_ranks.items()},
    }


# --------------------------------------------------------------------------------------------
# Table 2: intrinsic dimension from the rank curve
# --------------------------------------------------------------------------------------------
def nearest_step(sigmas: Sequence[float], target_sigma: float) -> int:
    """Index of the grid sigma closest to `target_sigma` in log scale (the fixed Table-2 step:
    sigma = 28.37 is step 3 of the 18-step grid, spec §7)."""
    logs = np.log(np.asarray(sigmas, dtype=np.float64))
    return int(np.argmin(np.abs(logs - math.log(target_sigma))))


def intrinsic_dimension(steps, sigmas, ranks, fixed_sigma: float) -> dict:
    """d_intr per Table 2 from one dataset's ranks (B noises x S evaluated steps).

    * `min`: the evaluated step of the lowest *mean* rank over the noises (the bottom of the
      U-shaped curve; ties go to the earlier step), and that mean rank;
    * `fixed`: the evaluated step whose sigma is nearest to `fixed_sigma` (log scale), and the
      mean rank there.
    """
    steps = np.asarray(steps)
    sigmas = np.asarray(sigmas, dtype=np.float64)
    mean = np.asarray(ranks, dtype=np.float64).mean(axis=0)
    i_min = int(np.argmin(mean))
    i_fix = nearest_step(sigmas, fixed_sigma)
    return {
        "step_min": int(steps[i_min]),
        "sigma_min": float(sigmas[i_min]),
        "d_intr_min": float(mean[i_min]),
        "step_fixed": int(steps[i_fix]),
        "sigma_fixed": float(sigmas[i_fix]),
        "d_intr_fixed": float(mean[i_fix]),
    }


# --------------------------------------------------------------------------------------------
# Validity: was the U-Net trained at the noise levels where its rank curve has its minimum?
# --------------------------------------------------------------------------------------------
def trained_sigma_range(train_config: dict, mass: float = 0.95) -> tuple[float, float]:
    """The sigma range a network was trained on: the central `mass` of its training noise
    distribution, from the `train_config` stored in its model file (molrg.training).

    * EDM (`precond: edm`): ln sigma ~ N(P_mean, P_std^2), so the range is
      exp(P_mean -+ z P_std) with z the (1 + mass)/2 normal quantile (mass 0.95: z = 1.96;
      P_mean = -1.2, P_std = 1.2 give [0.029, 3.17]);
    * VP (`precond: vp`): t ~ U(epsilon_t, 1), sigma = sigma_vp(t) increasing, so the range is
      sigma_vp of the (1 -+ mass)/2 quantiles of t (beta_d = 19.9, beta_min = 0.1, epsilon_t = 1e-5
      as molrg.precond.VPPrecond).
    """
    from statistics import NormalDist

    if not 0.0 < mass < 1.0:
        raise ValueError(f"jacobian.train_sigma_mass must lie in (0, 1), got {mass}")
    kind = train_config.get("precond", "edm")
    if kind == "edm":
        z = NormalDist().inv_cdf(0.5 + mass / 2)
        mean, std = float(train_config.get("P_mean", -1.2)), float(train_config.get("P_std", 1.2))
        return math.exp(mean - z * std), math.exp(mean + z * std)
    if kind == "vp":
        from molrg.editing import vp_sigma

        eps = float(train_config.get("epsilon_t", 1e-5))
        t_lo, t_hi = (eps + (1 - eps) * (0.5 - mass / 2), eps + (1 - eps) * (0.5 + mass / 2))
        return vp_sigma(t_lo), vp_sigma(t_hi)
    raise ValueError(f"unknown preconditioning {kind!r} in the model's train_config: cannot tell "
                     f"which noise levels it was trained on")


def minimum_validity(sigmas, mean_rank, sigma_lo: float, sigma_hi: float) -> dict:
    """The check that a rank curve's minimum is an intrinsic dimension and not a training artefact
    (issue #9): `interior_minimum` - the lowest mean rank (ties: the earlier step, as
    `intrinsic_dimension`) lies strictly below the curve's values at both ends of the evaluated
    steps, i.e. the curve rises on both sides; and its sigma lies inside [sigma_lo, sigma_hi], the
    range the network was trained on (`trained_sigma_range`). `valid` is both; `reason` says what
    failed (empty when valid). `sigmas` / `mean_rank` in trajectory order (sigma decreasing)."""
    sig = np.asarray(sigmas, dtype=np.float64)
    mean = np.asarray(mean_rank, dtype=np.float64)
    i = int(np.argmin(mean))
    interior = bool(0 < i < len(mean) - 1 and mean[0] > mean[i] and mean[-1] > mean[i])
    inside = bool(sigma_lo <= sig[i] <= sigma_hi)
    reasons = []
    if not interior:
        end = "largest" if i == 0 or mean[0] <= mean[i] else "smallest"
        reasons.append(f"no interior minimum: the lowest mean rank ({mean[i]:.4g}) is at the {end}-sigma end "
                       f"of the evaluated steps (sigma {sig[i]:.4g})")
    if not inside:
        reasons.append(f"minimum at sigma {sig[i]:.4g} outside the trained range "
                       f"[{sigma_lo:.3g}, {sigma_hi:.3g}]")
    return {"interior_minimum": interior, "min_inside_train": inside, "valid": interior and inside,
            "reason": "; ".join(reasons)}
