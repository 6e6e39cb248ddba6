"""Jacobians of denoisers, their numerical rank (Eq. 51) and the intrinsic-dimension estimate
along a deterministic Heun trajectory (App. E.3, Fig. 7, Table 2).

Spec references (../shared/paper_spec.md): §7 (Eqs. 48-51, the authors' `edm/jacobian.py`),
§2.4 (the EDM sigma grid), §9 item 4 (the Jacobian is taken of the preconditioned D(x; sigma)).

Everything works on any denoiser `D(x, sigma)` of the package interface (docs/DEVELOPING.md):
the closed-form `MoLRGDenoiser`, the preconditioned U-Nets and the Gaussian baseline.

torch is imported inside the functions that compute Jacobians and ranks: the jobs that only make
tables and figures from their results (Table 2, the rank-rule calibration, Fig 7) then start
without it, about 1 s less per job (tests/test_layout.py checks that they do).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from molrg.progress import progress
from molrg.runtime import derive_seed

if TYPE_CHECKING:
    from torch import Tensor

Denoiser = Callable[["Tensor", object], "Tensor"]


# --------------------------------------------------------------------------------------------
# Dense Jacobian
# --------------------------------------------------------------------------------------------
def _sigma_batch(sigma, x: Tensor) -> Tensor:
    """sigma as a (B,) tensor on x's device and dtype."""
    import torch

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
    import torch

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


def singular_values(J: Tensor, dtype=None, sym_tol: float = 1e-9) -> Tensor:
    """Singular values (descending) of a batch of Jacobians, computed in float64: the rank rule
    sums squares over thousands of values.

    A symmetric Jacobian (|J - J^T| <= sym_tol * |J|, entrywise max) takes the symmetric
    eigensolver: its singular values are the absolute eigenvalues. This is the case of every exact
    posterior-mean denoiser (Tweedie: dD/dx = Cov[x0 | x] / sigma^2), i.e. the closed-form Gaussian
    and MoLRG models, and it is about 3x faster than the SVD at n = 3072 (0.85 s against 2.5 s on
    one thread of our 2-core CPU, torch 2.14); a network's Jacobian is not symmetric and takes the SVD. `dtype`: default float64."""
    import torch

    J = J.to(torch.float64 if dtype is None else dtype)
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
    import torch

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
    import torch

    from molrg.sampler import heun_sample

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
# Where the U-Net was trained: its training noise distribution
# --------------------------------------------------------------------------------------------
def _vp_t(sigma: float, beta_d: float = 19.9, beta_min: float = 0.1) -> float:
    """The VP time t with vp_sigma(t) = sigma (the positive root of beta_d t^2 / 2 + beta_min t = ln(1 + sigma^2))."""
    c = math.log1p(sigma**2)
    return (-beta_min + math.sqrt(beta_min**2 + 2 * beta_d * c)) / beta_d


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


def train_sigma_quantile(train_config: dict, sigma: float) -> float:
    """P(sigma_train <= sigma) under the network's training noise distribution: where a noise level
    sits relative to what the network was trained on (0.5: the median training noise; 0.999: above
    all but 0.1 % of the training draws). EDM: Phi((ln sigma - P_mean) / P_std); VP: the share of
    t ~ U(epsilon_t, 1) with sigma_vp(t) <= sigma."""
    from statistics import NormalDist

    kind = train_config.get("precond", "edm")
    if kind == "edm":
        mean, std = float(train_config.get("P_mean", -1.2)), float(train_config.get("P_std", 1.2))
        return NormalDist().cdf((math.log(sigma) - mean) / std)
    if kind == "vp":
        eps = float(train_config.get("epsilon_t", 1e-5))
        return min(1.0, max(0.0, (_vp_t(sigma) - eps) / (1 - eps)))
    raise ValueError(f"unknown preconditioning {kind!r} in the model's train_config: cannot tell "
                     f"which noise levels it was trained on")


# --------------------------------------------------------------------------------------------
# The U-shape of the rank curve and its minimum, with uncertainty over the noises
# --------------------------------------------------------------------------------------------
# Fixed in code before any default-run result was seen (not config: a claim's test level):
U_ALPHA = 0.05  # one-sided level of each side's rise test; U-shaped iff both sides pass (an
#                 intersection-union test, so the U-shape as a whole is tested at level 0.05 too)
U_CI = 0.95  # coverage of the bootstrap interval of the minimum's location
U_N_BOOT = 2000  # bootstrap resamples of the noises (a few ms at 15 x 18)
U_MIN_NOISES = 3  # fewer noises: no standard error worth the name, the test has no power


def u_shape_test(sigmas, ranks, alpha: float = U_ALPHA, n_boot: int = U_N_BOOT, seed: int = 0,
                 ci: float = U_CI) -> dict:
    """Is the rank curve U-shaped, where is its minimum and how sure is that? `ranks`: (B, S), one
    row per noise (the trajectory of one latent), one column per evaluated sigma; every noise is
    ranked at every sigma, so all comparisons are paired across the noises.

    * The minimum: the evaluated sigma of the lowest mean rank (ties: the larger sigma, as the
      trajectory meets it first). `d_intr` is the mean rank there, `d_intr_se` its standard error
      over the noises. Its location's uncertainty: the argmin of the mean curve of `n_boot`
      resamples of the noises (with replacement); `sigma_min_ci_lo/hi` are the central `ci` of
      those argmins' sigmas (grid points), `d_intr_at_ci_lo/hi` the mean rank at those two sigmas,
      `argmin_share` the share of resamples whose argmin is the observed one.
    * The rise on each side (high sigma: the evaluated sigmas above the minimum; low sigma: below),
      as paired differences per noise: rank at the side's highest point of the mean curve minimum
      rank at the minimum; mean, standard error and a one-sided paired t-test (B - 1 degrees of
      freedom) of mean > 0. Both points are chosen by the same data, which biases "max minus min"
      upwards (a flat curve with noise would pass a plain t-test on each side ~20 % of the time);
      the p-value is therefore Bonferroni-adjusted for that choice: times (S - 2) candidate minima
      times the side's number of candidate maxima (capped at 1). Conservative, valid whatever the
      noises' correlation across sigmas. `p_high_sigma`, `p_low_sigma` are the adjusted values;
      a side without points (the minimum at an end of the grid) has rise 0 and p = 1.
    * `u_shaped`: both p-values < alpha. With fewer than U_MIN_NOISES noises or 3 sigmas the test
      has no power: `testable` is False and `u_shaped` False, `reason` says so.
    `rise_*` are in the units of `ranks` (ranks or rank ratios: the test is scale-free).
    """
    from scipy.stats import t as student_t

    sig = np.asarray(sigmas, dtype=np.float64)
    R = np.asarray(ranks, dtype=np.float64)
    if R.ndim != 2 or R.shape[1] != len(sig):
        raise ValueError(f"ranks must be (noises, sigmas) = (B, {len(sig)}), got {R.shape}")
    order = np.argsort(-sig, kind="stable")  # trajectory order: sigma decreasing
    sig, R = sig[order], R[:, order]
    B, S = R.shape
    mean = R.mean(axis=0)
    i_min = int(np.argmin(mean))
    se_at = R.std(axis=0, ddof=1) / math.sqrt(B) if B > 1 else np.full(S, np.nan)
    out = {"num_noises": B, "num_sigmas": S, "i_min": i_min, "sigma_min": float(sig[i_min]),
           "d_intr": float(mean[i_min]), "d_intr_se": float(se_at[i_min]),
           "interior_minimum": bool(0 < i_min < S - 1)}
    # location: bootstrap over the noises
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, B, size=(n_boot, B))
    arg = np.argmin(R[idx].mean(axis=1), axis=1)
    q = (1 - ci) / 2
    a_lo, a_hi = int(np.quantile(arg, q, method="lower")), int(np.quantile(arg, 1 - q, method="higher"))
    out.update({"sigma_min_ci_lo": float(sig[a_hi]), "sigma_min_ci_hi": float(sig[a_lo]),
                "d_intr_at_ci_lo": float(mean[a_hi]), "d_intr_at_ci_hi": float(mean[a_lo]),
                "argmin_share": float(np.mean(arg == i_min))})
    # the in-sample depth on each side (what the mean curve shows)
    out["depth_high_sigma"] = float(mean[:i_min].max() - mean[i_min]) if i_min > 0 else 0.0
    out["depth_low_sigma"] = float(mean[i_min + 1:].max() - mean[i_min]) if i_min < S - 1 else 0.0
    testable = B >= U_MIN_NOISES and S >= 3
    out["testable"] = testable
    for side in ("high_sigma", "low_sigma"):
        out.update({f"rise_{side}": float("nan"), f"rise_{side}_se": float("nan"), f"p_{side}": float("nan")})
    if not testable:
        out.update({"u_shaped": False, "reason": f"no power: {B} noise(s) and {S} sigma(s) "
                    f"(the paired test needs >= {U_MIN_NOISES} noises and >= 3 sigmas)"})
        return out
    sides = {"high_sigma": np.arange(0, i_min), "low_sigma": np.arange(i_min + 1, S)}
    fails = []
    for side, cand in sides.items():
        if len(cand) == 0:
            mu, se, p = 0.0, 0.0, 1.0
        else:
            j = int(cand[np.argmax(mean[cand])])
            D = R[:, j] - R[:, i_min]
            mu, se = float(D.mean()), float(D.std(ddof=1) / math.sqrt(B))
            p_raw = float(student_t.sf(mu / se, B - 1)) if se > 0 else (0.0 if mu > 0 else 1.0)
            p = min(1.0, p_raw * (S - 2) * len(cand))
        out.update({f"rise_{side}": mu, f"rise_{side}_se": se, f"p_{side}": p})
        if not p < alpha:
            where = "above" if side == "high_sigma" else "below"
            fails.append(f"no significant rise {where} the minimum (paired rise {mu:.3g} +- {se:.2g}, "
                         f"adjusted one-sided p = {p:.2g} >= {alpha:g})")
    out["u_shaped"] = not fails
    out["reason"] = "; ".join(fails)
    return out


def table2_row(dataset: str, n: int, steps, sigmas, ranks, fixed_sigma: float, train_config: dict,
               train_sigma_mass: float, seed: int = 0) -> dict:
    """One dataset's Table 2 row from its U-Net ranks (B noises x S evaluated steps, columns in the
    order of `steps`/`sigmas`): d_intr at the measured minimum of the mean curve with its
    uncertainty (u_shape_test), d_intr at the fixed sigma, and where the minimum sits relative to
    the training noise distribution (evidence, not a gate).

    `valid` is the U-shape's significance (both rises, u_shape_test): Fig 4 right reads d_intr from
    the measured minimum only where it holds. `reason` says why a row is not valid; `caveat`
    reports a minimum outside the trained range [sigma_train_lo, sigma_train_hi]."""
    steps = np.asarray(steps)
    sigmas = np.asarray(sigmas, dtype=np.float64)
    R = np.asarray(ranks, dtype=np.float64)
    u = u_shape_test(sigmas, R, seed=seed)
    fix = intrinsic_dimension(steps, sigmas, R, fixed_sigma)
    step_of = dict(zip(sigmas.tolist(), steps.tolist()))
    lo, hi = trained_sigma_range(train_config, train_sigma_mass)
    inside = bool(lo <= u["sigma_min"] <= hi)
    caveat = "" if inside else (f"minimum at sigma {u['sigma_min']:.4g} (95 % CI [{u['sigma_min_ci_lo']:.3g}, "
                                f"{u['sigma_min_ci_hi']:.3g}]) outside the trained range [{lo:.3g}, {hi:.3g}]: "
                                f"training-noise quantile {train_sigma_quantile(train_config, u['sigma_min']):.6g}")
    row = {
        "dataset": dataset, "n": int(n),
        "step_min": int(step_of[u["sigma_min"]]), "sigma_min": u["sigma_min"], "d_intr_min": u["d_intr"],
        "step_fixed": fix["step_fixed"], "sigma_fixed": fix["sigma_fixed"], "d_intr_fixed": fix["d_intr_fixed"],
        "num_noises": u["num_noises"],
        "interior_minimum": u["interior_minimum"],
        "sigma_train_lo": lo, "sigma_train_hi": hi,
        "valid": bool(u["u_shaped"]), "reason": u["reason"],
        "fixed_inside_train": bool(lo <= fix["sigma_fixed"] <= hi),
        "d_intr_min_se": u["d_intr_se"],
        "sigma_min_ci_lo": u["sigma_min_ci_lo"], "sigma_min_ci_hi": u["sigma_min_ci_hi"],
        "d_intr_at_ci_lo": u["d_intr_at_ci_lo"], "d_intr_at_ci_hi": u["d_intr_at_ci_hi"],
        "argmin_share": u["argmin_share"],
        "rise_high_sigma": u["rise_high_sigma"], "rise_high_sigma_se": u["rise_high_sigma_se"],
        "p_high_sigma": u["p_high_sigma"],
        "rise_low_sigma": u["rise_low_sigma"], "rise_low_sigma_se": u["rise_low_sigma_se"],
        "p_low_sigma": u["p_low_sigma"],
        "u_shaped": bool(u["u_shaped"]), "u_testable": bool(u["testable"]), "u_alpha": U_ALPHA,
        "min_inside_train": inside,
        "sigma_min_train_quantile": train_sigma_quantile(train_config, u["sigma_min"]),
        "caveat": caveat,
    }
    # a statistic the test could not compute (fewer than 3 noises, no point on one side of the
    # minimum) is written as text saying so, never as a NaN a reader could take for a number
    for key in ("rise_high_sigma", "rise_high_sigma_se", "p_high_sigma", "rise_low_sigma", "rise_low_sigma_se",
                "p_low_sigma"):
        if not np.isfinite(float(row[key])):
            row[key] = "not computed"
    return row


def rank_records(dataset: str, noise: int, z, closed_form_models=()) -> list[dict]:
    """The tidy rows of one Jacobian rank file (rule jacobian_rank): z maps n, noise_seed, steps, sigma,
    rank (the U-Net's) and rank_<model> of each closed-form model to arrays; one row per model
    (unet first, then `closed_form_models` in order) and step, with rank_ratio = rank / n."""
    missing = [m for m in closed_form_models if f"rank_{m}" not in z]
    if missing:
        raise ValueError(f"the ranks of {dataset} noise {noise} have no ranks of {missing} "
                         "(jacobian.closed_form_models): rerun rule jacobian_rank")
    n = int(z["n"])
    models = {"unet": z["rank"], **{m: z[f"rank_{m}"] for m in closed_form_models}}
    return [{"dataset": dataset, "model": model, "noise": int(noise), "noise_seed": int(z["noise_seed"]),
             "step": int(step), "sigma": float(sigma), "rank": int(rank), "n": n, "rank_ratio": int(rank) / n}
            for model, ranks in models.items() for step, sigma, rank in zip(z["steps"], z["sigma"], ranks)]


def rank_table(records: list[dict], closed_form_models=()) -> "pd.DataFrame":
    """`rank_records` of every file as one table, sorted by dataset, model (unet, then the closed-form
    models in order), noise and step."""
    import pandas as pd

    order = {m: i for i, m in enumerate(["unet", *closed_form_models])}
    ranks = pd.DataFrame(records)
    return (ranks.assign(_m=ranks.model.map(order)).sort_values(["dataset", "_m", "noise", "step"], kind="stable")
            .drop(columns="_m").reset_index(drop=True))


def table2(ranks, datasets, fixed_sigma: float, train_configs: dict, train_sigma_mass: float, seed: int,
           closed_form_models=()) -> "pd.DataFrame":
    """Table 2: one `table2_row` per dataset (in the order of `datasets`) from the U-Net rows of the
    rank table, with the closed-form models at the same states: their mean rank at the row's two
    steps (`<model>_rank_at_min`, `<model>_rank_at_fixed`) and their own curve's minimum and shape
    by the same test (`<model>_sigma_min`, `<model>_u_shaped`). train_configs: {dataset: the U-Net's
    train_config}; the bootstrap seeds derive from `seed`, the dataset and the model."""
    import pandas as pd

    rows = []
    for dataset in datasets:
        df = ranks[(ranks.dataset == dataset) & (ranks.model == "unet")]
        wide = df.pivot(index="noise", columns="step", values="rank")
        sig = df.groupby("step").sigma.first().loc[wide.columns]
        row = table2_row(dataset, int(df.n.iloc[0]), wide.columns.to_numpy(), sig.to_numpy(), wide.to_numpy(),
                         fixed_sigma, train_configs[dataset], train_sigma_mass,
                         seed=derive_seed(seed, "jacobian_u_boot", dataset))
        for m in closed_form_models:
            cfw = ranks[(ranks.dataset == dataset) & (ranks.model == m)].pivot(index="noise", columns="step",
                                                                                 values="rank")
            cf = cfw.mean(axis=0)
            row[f"{m}_rank_at_min"] = float(cf.loc[row["step_min"]])
            row[f"{m}_rank_at_fixed"] = float(cf.loc[row["step_fixed"]])
            u = u_shape_test(sig.loc[cfw.columns].to_numpy(), cfw.to_numpy(),
                             seed=derive_seed(seed, "jacobian_u_boot", dataset, m))
            row[f"{m}_sigma_min"], row[f"{m}_u_shaped"] = u["sigma_min"], u["u_shaped"]
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Calibration of the rank rule on a model of known rank
# --------------------------------------------------------------------------------------------
def energy_fraction(s, r) -> np.ndarray:
    """The share of the Jacobian's energy sum_i s_i^2 held by its r largest singular values (batched
    over the leading axes of s): what the rank rule compares with eta^2."""
    s2 = np.sort(np.abs(np.asarray(s, dtype=np.float64)), axis=-1)[..., ::-1] ** 2
    tot = s2.sum(axis=-1)
    top = s2[..., : int(r)].sum(axis=-1)
    return np.where(tot > 0, top / np.where(tot > 0, tot, 1.0), np.nan)


def rank_rule_calibration(tidy) -> "pd.DataFrame":
    """The rank rule's reading against the known answer, per (source, model, sigma).

    `tidy`: one row per (source, model, noise, step) with `sigma`, `rank` (the rule's reading),
    `truth_d` (the rank of one component: the data's intrinsic dimension, the exact rank where one
    component dominates, small sigma) and `truth_Kd` (the total rank min(K d, n): the exact rank
    where the posterior weights mix, large sigma, and the most any denoiser of that data needs);
    optional `energy_top_d`, `energy_top_Kd` (the share of the Jacobian's energy in its d / K d
    largest singular values, which the rule compares with eta^2).

    Returns one row per (source, model, step): the mean reading with its standard error, min and
    max over the noises, the two truths, `over_d` / `over_Kd` = mean reading / truth, the mean
    energy shares, and `at_minimum` (the step of the lowest mean reading, as Table 2 reads d_intr)
    with `u_shaped` (u_shape_test on that model's curve)."""
    import pandas as pd

    out = []
    for (source, model), g in tidy.groupby(["source", "model"], sort=False):
        wide = g.pivot(index="noise", columns="step", values="rank")
        sig = g.groupby("step").sigma.first().loc[wide.columns]
        u = u_shape_test(sig.to_numpy(), wide.to_numpy(), n_boot=200)
        td, tkd = float(g.truth_d.iloc[0]), float(g.truth_Kd.iloc[0])
        for step in wide.columns:
            col = wide[step].to_numpy(dtype=np.float64)
            sub = g[g.step == step]
            row = {"source": source, "model": model, "step": int(step), "sigma": float(sig.loc[step]),
                   "num_noises": len(col), "reading_mean": float(col.mean()),
                   "reading_se": float(col.std(ddof=1) / math.sqrt(len(col))) if len(col) > 1 else "one noise",
                   "reading_min": float(col.min()), "reading_max": float(col.max()),
                   "truth_d": td, "truth_Kd": tkd, "over_d": float(col.mean()) / td, "over_Kd": float(col.mean()) / tkd}
            for e in ("energy_top_d", "energy_top_Kd"):  # text where the source has no spectrum energies
                row[e] = float(sub[e].mean()) if e in sub and sub[e].notna().any() else "not computed"
            row["at_minimum"] = bool(float(sig.loc[step]) == u["sigma_min"])
            row["u_shaped"] = bool(u["u_shaped"])
            out.append(row)
    return pd.DataFrame(out)


def mean_band(ranks, n_boot: int = U_N_BOOT, seed: int = 0, ci: float = U_CI) -> tuple[np.ndarray, np.ndarray]:
    """Per column of `ranks` (B noises x S sigmas): the central `ci` percentile interval of the mean
    over bootstrap resamples of the noises (the same rows for every column: paired). Fig 7's band."""
    R = np.asarray(ranks, dtype=np.float64)
    idx = np.random.default_rng(seed).integers(0, R.shape[0], size=(n_boot, R.shape[0]))
    means = R[idx].mean(axis=1)
    q = (1 - ci) / 2
    return np.quantile(means, q, axis=0), np.quantile(means, 1 - q, axis=0)
