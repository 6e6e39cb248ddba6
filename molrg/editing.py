"""Semantic editing along the leading singular vectors of the denoiser's Jacobian (Section 4.2,
Fig. 5, Eq. 22): DDIM inversion to the edit time, subspace iteration for the right singular
vectors v_i of J_t = d x0_hat / d x_t, edits x_t + lambda v_i, DDIM back to t = 0.

Spec reference (../shared/paper_spec.md): §8 (LOCO-Edit setting). Everything is written in EDM
sigma-space (s = 1) for any denoiser `D(x, sigma)` of the package interface:

* deterministic DDIM (eta = 0) is the Euler step of the probability-flow ODE in sigma,
      x_{sigma'} = D(x; sigma) + (sigma' / sigma) (x - D(x; sigma)),
  which is exactly DDPM's DDIM update after the change of variables x_vp = x / sqrt(1 + sigma^2),
  sigma = sqrt((1 - abar) / abar); inversion runs the same update with sigma' > sigma;
* the edit time is a fraction t of T on the VP schedule of the DDPMs the paper edits with:
  sigma(t) = sqrt(exp(beta_d t^2 / 2 + beta_min t) - 1) (beta_d = 19.9, beta_min = 0.1 is the
  continuous form of the linear 1e-4 .. 0.02 DDPM schedule over 1000 steps), so t = 0.7 gives
  sigma ~ 11.8 whatever network is edited;
* edit strengths are given in one of three units (`edit_scale`): `norm_fraction` (default of the
  pipeline) moves the state by f ||x_t|| v, a fraction f of the state's own norm, which means the
  same thing at any resolution and in either coordinate system (x_vp is x scaled by a constant);
  `vp` is LOCO-Edit's absolute lambda on the variance-preserving state x_vp = x / sqrt(1 + sigma^2),
  i.e. the EDM state moves by lambda sqrt(1 + sigma^2) v; `edm` applies lambda to x unchanged.
  LOCO-Edit's |lambda| = 6 was chosen for 256 x 256 x 3 images (||x_vp|| ~ 443, 1.4 %); on an
  8 x 8 image (||x_vp|| ~ 8) the same lambda is most of the state.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

from .progress import progress

Tensor = torch.Tensor
Denoiser = Callable[[Tensor, object], Tensor]


# --------------------------------------------------------------------------------------------
# Time grid
# --------------------------------------------------------------------------------------------
def vp_sigma(t, beta_d: float = 19.9, beta_min: float = 0.1):
    """sigma(t) of the VP schedule (spec §2.4); works on floats and tensors."""
    if isinstance(t, Tensor):
        return torch.sqrt(torch.expm1(0.5 * beta_d * t**2 + beta_min * t))
    return math.sqrt(math.expm1(0.5 * beta_d * t**2 + beta_min * t))


def ddim_sigmas(t_edit: float, num_steps: int, t_min: float = 1e-3, beta_d: float = 19.9, beta_min: float = 0.1) -> Tensor:
    """Increasing noise levels sigma_0 < ... < sigma_M = sigma(t_edit), uniform in VP time
    between t_min and t_edit (DDIM's uniformly spaced timesteps), float64. The clean image is
    taken as the state at sigma_0 = sigma(t_min) (~0.01 for t_min = 1e-3, below the 8-bit
    quantisation step of an image in [-1, 1])."""
    if not 0 < t_min < t_edit <= 1:
        raise ValueError(f"need 0 < t_min < t_edit <= 1, got t_min={t_min}, t_edit={t_edit}")
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    t = torch.linspace(t_min, t_edit, num_steps + 1, dtype=torch.float64)
    return vp_sigma(t, beta_d, beta_min)


# --------------------------------------------------------------------------------------------
# DDIM (eta = 0) in sigma-space
# --------------------------------------------------------------------------------------------
@torch.no_grad()
def ddim_step(denoiser: Denoiser, x: Tensor, sigma: float, sigma_next: float) -> Tensor:
    """One deterministic DDIM step from sigma to sigma_next (either direction)."""
    d = denoiser(x, float(sigma))
    return d + (float(sigma_next) / float(sigma)) * (x - d)


def ddim_invert(denoiser: Denoiser, x0: Tensor, sigmas: Tensor) -> Tensor:
    """DDIM inversion: from the clean image (the state at sigmas[0]) up to sigmas[-1]."""
    x = x0
    for s, s_next in zip(sigmas[:-1], sigmas[1:]):
        x = ddim_step(denoiser, x, s, s_next)
    return x


def ddim_generate(denoiser: Denoiser, x: Tensor, sigmas: Tensor) -> Tensor:
    """DDIM generation: from the state at sigmas[-1] down to sigmas[0] (returned as the image,
    the inverse of `ddim_invert` up to discretisation error)."""
    for s, s_next in zip(reversed(sigmas[1:]), reversed(sigmas[:-1])):
        x = ddim_step(denoiser, x, s, s_next)
    return x


# --------------------------------------------------------------------------------------------
# Leading singular vectors without a dense Jacobian
# --------------------------------------------------------------------------------------------
def _canonical_signs(V: Tensor) -> Tensor:
    """Make the largest-magnitude entry of every row positive (the SVD's sign is arbitrary; this
    makes the result reproducible and independent of the random start)."""
    idx = V.abs().argmax(dim=1, keepdim=True)
    return V * torch.sign(torch.gather(V, 1, idx))


def leading_singular_vectors(
    denoiser: Denoiser,
    x: Tensor,
    sigma: float,
    k: int,
    iters: int = 50,
    tol: float = 1e-4,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor, int]:
    """The k leading right singular vectors of J = dD(x; sigma)/dx at one point x (shape
    (1, ...) or (...)), by subspace iteration on J^T J with Jacobian-vector products only:
    J V by forward mode (jvp) and J^T W by reverse mode (vjp), each vmapped over the k columns,
    then QR; a final Rayleigh-Ritz step orders the vectors and gives the singular values.

    Stops when the projector onto span(V) moves by less than `tol` (Frobenius norm / sqrt(2k))
    or after `iters` iterations. Returns V (k, n) with unit rows, the singular values (k,), and
    the number of iterations used.
    """
    shape = tuple(x.shape[1:]) if x.shape[0] == 1 else tuple(x.shape)
    n = math.prod(shape)
    if not 1 <= k <= n:
        raise ValueError(f"number of singular vectors k={k} must lie in [1, n={n}]")
    x0 = x.detach().reshape(n)

    def f(v: Tensor) -> Tensor:
        return denoiser(v.reshape(1, *shape), float(sigma)).reshape(n)

    def J_mul(V: Tensor) -> Tensor:  # rows: J v_i
        return torch.func.vmap(lambda v: torch.func.jvp(f, (x0,), (v,))[1])(V)

    _, vjp_fn = torch.func.vjp(f, x0)

    def Jt_mul(W: Tensor) -> Tensor:  # rows: J^T w_i
        return torch.func.vmap(vjp_fn)(W)[0]

    g = torch.randn(n, k, generator=generator, dtype=torch.float64).to(x0)
    V = torch.linalg.qr(g).Q.T  # (k, n), orthonormal rows
    used = 0
    for used in progress(range(1, iters + 1), f"subspace iteration for {k} singular vectors (ends early once converged)",
                         unit="iterations"):
        V_new = torch.linalg.qr(Jt_mul(J_mul(V)).T).Q.T
        moved = torch.linalg.matrix_norm(V_new.T @ V_new - V.T @ V) / math.sqrt(2 * k)
        V = V_new
        if moved < tol:
            break
    # Rayleigh-Ritz: J V^T = P S Q^T  =>  right singular vectors (V^T Q) ordered by S.
    _, S, Qh = torch.linalg.svd(J_mul(V).T, full_matrices=False)
    V = Qh @ V
    return _canonical_signs(V), S, used


def random_unit_direction(n: int, generator: torch.Generator, dtype=torch.float32) -> Tensor:
    """A uniform direction on the unit sphere in R^n (a normalised Gaussian): the baseline edit."""
    v = torch.randn(n, generator=generator, dtype=torch.float64)
    return (v / v.norm()).to(dtype)


def random_unit_directions(m: int, n: int, generator: torch.Generator, dtype=torch.float32) -> Tensor:
    """m independent uniform directions on the unit sphere in R^n, (m, n): the random baseline,
    drawn in order from one generator (row i is what the i-th `random_unit_direction` call gives)."""
    if m < 0:
        raise ValueError(f"number of random directions must be >= 0, got {m}")
    rows = [random_unit_direction(n, generator, dtype) for _ in range(m)]
    return torch.stack(rows) if rows else torch.zeros(0, n, dtype=dtype)


# --------------------------------------------------------------------------------------------
# Directions of an edit and their gains
# --------------------------------------------------------------------------------------------
def jacobian_gains(denoiser: Denoiser, x: Tensor, sigma: float, directions: Tensor) -> Tensor:
    """||J v|| of each row v of `directions` (m, n), J = dD(x; sigma)/dx at one point x of shape
    (1, ...): one batched jvp."""
    if not len(directions):
        return directions[:, 0]
    f = lambda v: denoiser(v.reshape(1, *x.shape[1:]), sigma).reshape(-1)  # noqa: E731
    return torch.func.vmap(lambda r: torch.func.jvp(f, (x.reshape(-1),), (r,))[1].norm())(directions)


def edit_directions(denoiser: Denoiser, x: Tensor, sigma: float, num_vectors: int, num_random: int,
                    power_iters: int, tol: float, seeds: tuple[int, int]) -> tuple[Tensor, list, int]:
    """The directions of one state x (1, ...): the leading right singular vectors v_1..v_k of the
    Jacobian (subspace iteration, seeded by seeds[0]), then `num_random` uniform unit directions
    (seeds[1]). Returns them (k + num_random, n), their gains ||J v|| (the singular values for the
    v_i) and the subspace iterations used."""
    V, S, used = leading_singular_vectors(denoiser, x, sigma, num_vectors, power_iters, tol,
                                          torch.Generator().manual_seed(seeds[0]))
    R = random_unit_directions(num_random, x.numel(), torch.Generator().manual_seed(seeds[1])).to(x)
    return torch.cat([V, R]), S.tolist() + jacobian_gains(denoiser, x, sigma, R).tolist(), used


# --------------------------------------------------------------------------------------------
# Edits
# --------------------------------------------------------------------------------------------
EDIT_UNITS = ("norm_fraction", "vp", "edm")


def edit_scale(sigma: float, units: str = "vp", state_norm: float | None = None) -> float:
    """EDM-space length of a unit edit:
    * `norm_fraction`: ||x_t|| (`state_norm`), so that strength f moves the state by f ||x_t||;
    * `vp`: sqrt(1 + sigma^2), lambda in the variance-preserving units of LOCO-Edit
      (x_vp = x / sqrt(1 + sigma^2), so x_vp + lambda v <=> x + lambda sqrt(1 + sigma^2) v);
    * `edm`: 1, lambda applied to the EDM state x directly."""
    if units == "norm_fraction":
        if state_norm is None or not state_norm > 0:
            raise ValueError(f"strength_units = norm_fraction needs the state's norm > 0, got {state_norm}")
        return float(state_norm)
    if units == "vp":
        return math.sqrt(1.0 + float(sigma) ** 2)
    if units == "edm":
        return 1.0
    raise ValueError(f"editing.strength_units must be one of {EDIT_UNITS}, got {units!r}")


def edit_starts(x_t: Tensor, directions: Tensor, strengths: Sequence[float], sigma: float, units: str = "vp") -> Tensor:
    """The edited EDM states x_t + lambda * edit_scale(sigma, units, ||x_t||) * v for every direction
    v (m, n) and strength lambda, shape (m, L, n). x_t is one state ((1, ...) or (...))."""
    scale = edit_scale(sigma, units, float(x_t.norm()) if units == "norm_fraction" else None)
    lam = torch.as_tensor(list(strengths), dtype=x_t.dtype, device=x_t.device) * scale
    m, L = directions.shape[0], lam.shape[0]
    return x_t.reshape(1, 1, -1) + lam.reshape(1, L, 1) * directions.to(x_t).reshape(m, 1, -1)


def generate_batched(denoiser: Denoiser, starts: Tensor, sigmas: Tensor, batch_size: int = 64) -> Tensor:
    """DDIM from sigmas[-1] to sigmas[0] for many states (N, ...), `batch_size` at a time (the
    batches are independent; the size changes memory and speed only)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return torch.cat([ddim_generate(denoiser, b, sigmas)
                      for b in progress(starts.split(batch_size), "editing", unit="batches")])


def edit_grid(
    denoiser: Denoiser,
    x_t: Tensor,
    directions: Tensor,
    strengths: Sequence[float],
    sigmas: Tensor,
    batch_size: int = 64,
    units: str = "vp",
) -> Tensor:
    """Edit the inverted state x_t (shape (1, ...) or (...), at sigma = sigmas[-1]) along each
    direction (m, n) with each strength lambda (in `units`, see `edit_scale`) and run DDIM back to
    sigmas[0]. Returns images of shape (m, L, ...).

    lambda = 0 returns exactly the unedited DDIM reconstruction (same input, same arithmetic)."""
    shape = tuple(x_t.shape[1:]) if x_t.shape[0] == 1 else tuple(x_t.shape)
    starts = edit_starts(x_t, directions, strengths, float(sigmas[-1]), units)
    m, L = starts.shape[:2]
    out = generate_batched(denoiser, starts.reshape(m * L, *shape), sigmas, batch_size)
    return out.reshape(m, L, *shape)


def edit_distances(edited: Tensor, reference: Tensor) -> dict[str, Tensor]:
    """How far every edited image (m, L, ...) moved from the unedited reconstruction (...):
    the L2 distance over all pixels and the root-mean-square per pixel, each (m, L)."""
    diff = edited.flatten(2) - reference.reshape(1, 1, -1).to(edited)
    l2 = diff.norm(dim=-1)
    return {"l2": l2, "rms": l2 / math.sqrt(diff.shape[-1])}
