"""Jacobians via torch.func, the rank rule of Eq. 51, the Heun trajectory and Table 2's summary
(molrg/jacobian.py), checked against matrices and spectra known by construction and against the
closed-form MoLRG denoiser (rank d where one component dominates, K*d where the weights mix)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from molrg.jacobian import (
    energy_fraction,
    intrinsic_dimension,
    jacobian,
    mean_band,
    nearest_step,
    numerical_rank,
    rank_along_trajectory,
    rank_records,
    rank_rule_calibration,
    rank_table,
    singular_values,
    table2,
    table2_row,
    train_sigma_quantile,
    trained_sigma_range,
    u_shape_test,
)
from molrg.estimate import gaussian_model
from molrg.mixture import (
    MoLRG,
    MoLRGDenoiser,
    orthogonal_bases,
    posterior_mean,
    posterior_mean_jacobian,
    sample_balanced,
    standard_molrg,
)
from molrg.sampler import edm_sigma_steps


class LinearDenoiser(torch.nn.Module):
    """D(x; sigma) = A x / (1 + sigma) on images of shape (C, H, W): its Jacobian is known."""

    def __init__(self, A, shape):
        super().__init__()
        self.A, self.shape = A, shape

    def forward(self, x, sigma):
        s = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, 1)
        return ((x.reshape(x.shape[0], -1) @ self.A.T) / (1 + s)).reshape(x.shape)


def _molrg(n=48, K=2, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    U = orthogonal_bases(n, K, d, g)
    return MoLRGDenoiser(standard_molrg(U)), U, g


@pytest.mark.parametrize("chunk_size", [5, 12, 100])
def test_jacobian_of_linear_denoiser_equals_its_matrix(chunk_size):
    shape = (3, 2, 2)  # n = 12; chunk 5 does not divide n, 100 exceeds it
    g = torch.Generator().manual_seed(1)
    A = torch.randn(12, 12, generator=g, dtype=torch.float64)
    D = LinearDenoiser(A, shape)
    x = torch.randn(4, *shape, generator=g, dtype=torch.float64)
    sigma = torch.tensor([0.5, 1.0, 2.0, 10.0], dtype=torch.float64)  # one sigma per sample
    J = jacobian(D, x, sigma, chunk_size=chunk_size)
    assert J.shape == (4, 12, 12)
    for b in range(4):
        torch.testing.assert_close(J[b], A / (1 + sigma[b]), rtol=1e-12, atol=1e-12)


def test_jacobian_matches_autograd_for_the_nonlinear_molrg_denoiser():
    D, _, g = _molrg(n=16, K=2, d=3)
    x = torch.randn(3, 16, generator=g, dtype=torch.float64)
    J = jacobian(D, x, 0.7, chunk_size=7)
    for b in range(3):
        ref = torch.autograd.functional.jacobian(lambda v: D(v.unsqueeze(0), 0.7)[0], x[b])
        torch.testing.assert_close(J[b], ref, rtol=1e-10, atol=1e-12)


def _general_molrg(n=20, K=3, d=4, seed=5):
    """Unequal weights, non-zero means, unequal eigenvalues, one zero-padded eigenvalue."""
    g = torch.Generator().manual_seed(seed)
    U = orthogonal_bases(n, K, d, g)
    lam = torch.rand(K, d, generator=g, dtype=torch.float64) * 3 + 0.2
    lam[0, -1] = 0.0
    pi = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)[:K]
    return MoLRG(pi / pi.sum(), 0.7 * torch.randn(K, n, generator=g, dtype=torch.float64), U, lam), g


def test_exact_molrg_jacobian_equals_autodiff():
    """The closed-form denoiser's Tweedie Jacobian (what jacobian() uses for it) against the
    autodiff path, per-sample sigmas from the mixed regime to the one-component regime."""
    model, g = _general_molrg()
    D = MoLRGDenoiser(model)
    x = model.mu[[0, 1, 2, 0]] + torch.randn(4, 20, generator=g, dtype=torch.float64)
    sigma = torch.tensor([0.05, 0.5, 2.0, 30.0], dtype=torch.float64)
    exact = jacobian(D, x, sigma)
    auto = jacobian(D, x, sigma, chunk_size=7, exact=False)
    torch.testing.assert_close(exact, auto, rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(exact, exact.transpose(1, 2), rtol=0, atol=0)
    assert (torch.linalg.eigvalsh(exact) > -1e-12).all()  # a covariance / sigma^2


def test_exact_jacobian_of_the_full_rank_gaussian_is_its_wiener_filter():
    """K = 1, d = n (the Gaussian baseline): J = Sigma (Sigma + sigma^2 I)^{-1} at every x."""
    g = torch.Generator().manual_seed(6)
    X = torch.randn(40, 12, generator=g, dtype=torch.float64) @ torch.randn(12, 12, generator=g, dtype=torch.float64)
    model = gaussian_model(X)
    Sigma = torch.cov(X.T)  # the N - 1 normalisation of molrg.estimate.top_eigenpairs
    sigma = 0.8
    wiener = Sigma @ torch.linalg.inv(Sigma + sigma**2 * torch.eye(12, dtype=torch.float64))
    J = jacobian(MoLRGDenoiser(model), torch.randn(3, 12, generator=g, dtype=torch.float64), sigma)
    torch.testing.assert_close(J, wiener.expand(3, 12, 12), rtol=1e-8, atol=1e-10)


def test_posterior_mean_jacobian_with_a_scale_factor():
    """General forward process x = s x0 + gamma eps: dE[x0|x]/dx = (s / gamma^2) Cov[x0|x]."""
    model, g = _general_molrg(n=10, K=2, d=3, seed=7)
    x = torch.randn(2, 10, generator=g, dtype=torch.float64)
    s, gamma = 0.6, 0.9
    J = posterior_mean_jacobian(x, model, s, gamma)
    for b in range(2):
        ref = torch.autograd.functional.jacobian(lambda v: posterior_mean(v.unsqueeze(0), model, s, gamma)[0], x[b])
        torch.testing.assert_close(J[b], ref, rtol=1e-9, atol=1e-11)


class ParamLinear(torch.nn.Module):
    """D(x; sigma) = W x with W a trainable Parameter: jacobian() must treat it as a constant."""

    def __init__(self, W):
        super().__init__()
        self.W = torch.nn.Parameter(W)

    def forward(self, x, sigma):
        return (x.reshape(x.shape[0], -1) @ self.W.T).reshape(x.shape)


def test_jacobian_of_a_module_with_parameters_leaves_the_module_untouched():
    g = torch.Generator().manual_seed(3)
    W = torch.randn(6, 6, generator=g, dtype=torch.float64)
    D = ParamLinear(W.clone())
    J = jacobian(D, torch.randn(2, 6, generator=g, dtype=torch.float64), 1.0, chunk_size=4)
    torch.testing.assert_close(J, W.expand(2, 6, 6), rtol=1e-12, atol=1e-12)
    assert D.W.requires_grad and D.W.grad is None


def test_singular_values_symmetric_and_general_paths_agree_with_the_svd():
    g = torch.Generator().manual_seed(4)
    A = torch.randn(3, 20, 20, generator=g, dtype=torch.float64)
    S = A + A.transpose(1, 2)  # symmetric and indefinite: singular values are |eigenvalues|
    for M in (S, A):
        torch.testing.assert_close(singular_values(M), torch.linalg.svdvals(M), rtol=1e-10, atol=1e-10)
    # the closed-form MoLRG Jacobian (a posterior covariance / sigma^2) is symmetric: eigensolver path
    D, _, g2 = _molrg(n=24, K=2, d=3)
    J = jacobian(D, torch.randn(2, 24, generator=g2, dtype=torch.float64), 0.8, chunk_size=10)
    torch.testing.assert_close(J, J.transpose(1, 2), rtol=0, atol=1e-12)
    torch.testing.assert_close(singular_values(J), torch.linalg.svdvals(J), rtol=1e-9, atol=1e-12)


def test_rank_rule_on_a_constructed_spectrum():
    # energies 9, 13, 14, 14.25, 14.26 (total 14.26). Frobenius ratio > 0.99 means energy >
    # 0.9801 * 14.26 = 13.976, first reached at r = 3. (An energy ratio > 0.99, 14.117, would
    # give 4: the test pins the authors' Frobenius-norm reading of Eq. 51.)
    s = torch.tensor([3.0, 2.0, 1.0, 0.5, 0.1], dtype=torch.float64)
    assert int(numerical_rank(s, 0.99)) == 3
    assert int(numerical_rank(s.flip(0), 0.99)) == 3  # order does not matter
    # smaller eta: energy > 0.25 * 14.26 = 3.565 at r = 1; eta = 0.9: > 11.55 at r = 2
    assert int(numerical_rank(s, 0.5)) == 1
    assert int(numerical_rank(s, 0.9)) == 2
    # batched, with the zero matrix (rank 0) and an exactly rank-2 spectrum
    batch = torch.stack([s, torch.zeros(5, dtype=torch.float64), torch.tensor([1.0, 1.0, 0, 0, 0], dtype=torch.float64)])
    assert numerical_rank(batch, 0.99).tolist() == [3, 0, 2]
    with pytest.raises(ValueError):
        numerical_rank(s, 1.0)


def test_closed_form_molrg_jacobian_rank_is_d_at_small_sigma_and_Kd_when_mixed():
    n, K, d = 48, 3, 5
    D, U, g = _molrg(n, K, d)
    x0, _ = sample_balanced(U, 4, g)
    # small sigma: near a data point one component dominates, J ~ U_k U_k^T / (1 + sigma^2)
    sigma = 0.05
    xt = x0 + sigma * torch.randn(x0.shape, generator=g, dtype=torch.float64)
    ranks = numerical_rank(singular_values(jacobian(D, xt, sigma)))
    assert ranks.tolist() == [d] * len(x0)
    # mixed weights: at x = 0 all posterior weights are equal (and their gradient vanishes),
    # and at sigma = 80 on pure noise they are nearly equal: rank K*d
    assert int(numerical_rank(singular_values(jacobian(D, torch.zeros(1, n, dtype=torch.float64), 1.0)))[0]) == K * d
    z = 80.0 * torch.randn(4, n, generator=g, dtype=torch.float64)
    assert numerical_rank(singular_values(jacobian(D, z, 80.0))).tolist() == [K * d] * 4


def test_fixed_table2_step_on_the_edm_grid():
    s = edm_sigma_steps(18)[:-1]  # molrg.sampler's grid without the final 0
    assert float(s[3]) == pytest.approx(28.37, abs=0.01)  # spec §7
    assert nearest_step(s.tolist(), 28.4) == 3
    # a coarser grid (80, 24.4, 5.84, ...): the nearest sigma in log scale is 24.4, step 1
    assert nearest_step(edm_sigma_steps(6)[:-1].tolist(), 28.4) == 1
    assert nearest_step([80.0, 20.0, 1.0], 30.0) == 1  # log(30/20) < log(80/30)


def test_rank_along_trajectory_of_closed_form_molrg_goes_from_Kd_to_d():
    n, K, d = 24, 2, 3
    D, _, g = _molrg(n, K, d)
    z = torch.randn(3, n, generator=g, dtype=torch.float64)
    out = rank_along_trajectory(D, z, 18, steps=[17, 0, 3], chunk_size=10)
    assert out["steps"].tolist() == [0, 3, 17]
    assert out["sigma"].tolist() == pytest.approx(edm_sigma_steps(18)[[0, 3, 17]].tolist())
    assert out["rank"].shape == (3, 3) and out["singular_values"].shape == (3, 3, n)
    assert out["rank"][:, 0].tolist() == [K * d] * 3  # sigma = 80: mixed
    assert out["rank"][:, -1].tolist() == [d] * 3  # sigma = 0.002: one component
    with pytest.raises(ValueError, match="outside"):
        rank_along_trajectory(D, z, 18, steps=[18])


def test_intrinsic_dimension_takes_the_lowest_mean_rank_and_the_fixed_sigma_step():
    steps = np.array([0, 2, 3, 5])
    sigmas = np.array([80.0, 40.8, 28.37, 12.9])
    ranks = np.array([[50, 20, 12, 30], [60, 18, 16, 10]])  # means 55, 19, 14, 20
    out = intrinsic_dimension(steps, sigmas, ranks, fixed_sigma=40.0)
    assert (out["step_min"], out["sigma_min"], out["d_intr_min"]) == (3, 28.37, 14.0)
    assert (out["step_fixed"], out["sigma_fixed"], out["d_intr_fixed"]) == (2, 40.8, 19.0)


def test_trained_sigma_range_covers_the_training_noise_draws():
    from molrg.precond import VPPrecond

    # EDM: ln sigma ~ N(-1.2, 1.2^2); central 95 %: exp(-1.2 -+ 1.96 * 1.2) = [0.0287, 3.16]
    lo, hi = trained_sigma_range({"precond": "edm", "P_mean": -1.2, "P_std": 1.2}, 0.95)
    assert (lo, hi) == pytest.approx((0.02867, 3.1644), rel=1e-3)
    g = torch.Generator().manual_seed(0)
    draws = (torch.randn(200_000, generator=g, dtype=torch.float64) * 1.2 - 1.2).exp()
    assert float(((draws >= lo) & (draws <= hi)).double().mean()) == pytest.approx(0.95, abs=0.003)
    assert trained_sigma_range({"precond": "edm", "P_mean": 0.0, "P_std": 1.0}, 0.5) == pytest.approx(
        (np.exp(-0.6745), np.exp(0.6745)), rel=1e-3)
    # VP: t ~ U(eps_t, 1) through sigma(t) of molrg.precond.VPPrecond
    lo, hi = trained_sigma_range({"precond": "vp"}, 0.9)
    pre = VPPrecond(torch.nn.Identity())
    sig = pre.sigma(torch.rand(200_000, generator=g, dtype=torch.float64) * (1 - 1e-5) + 1e-5)
    assert float(((sig >= lo) & (sig <= hi)).double().mean()) == pytest.approx(0.9, abs=0.003)
    with pytest.raises(ValueError, match="preconditioning"):
        trained_sigma_range({"precond": "ve"})
    with pytest.raises(ValueError, match="train_sigma_mass"):
        trained_sigma_range({"precond": "edm"}, 1.0)


def _noisy(curve, sd=1.0, noises=15, seed=0):
    return np.asarray(curve) + np.random.default_rng(seed).normal(0, sd, (noises, len(curve)))


def test_u_shape_test_on_constructed_curves():
    sig = edm_sigma_steps(18)[:-1].numpy()  # 80 ... 0.002, trajectory order
    u = 10 + 10 * np.minimum(1, np.abs(np.log(sig)) / 3)  # bottom at the grid point nearest sigma = 1
    out = u_shape_test(sig, _noisy(u))
    assert out["u_shaped"] and out["testable"] and out["reason"] == "" and out["interior_minimum"]
    assert out["sigma_min"] == pytest.approx(1.088, abs=1e-3)
    assert out["sigma_min_ci_lo"] <= out["sigma_min"] <= out["sigma_min_ci_hi"] and 0 < out["argmin_share"] <= 1
    assert out["p_high_sigma"] < 1e-6 and out["p_low_sigma"] < 1e-6 and out["rise_high_sigma"] > 5
    assert out["d_intr_se"] == pytest.approx(1 / np.sqrt(15), rel=0.5)
    # the column order does not matter (sorted to the trajectory's order inside)
    perm = np.random.default_rng(1).permutation(len(sig))
    assert u_shape_test(sig[perm], _noisy(u)[:, perm])["sigma_min"] == out["sigma_min"]
    # falling as sigma grows (a closed-form denoiser's shape): no point above the minimum
    out = u_shape_test(sig, _noisy(np.log(80.0 / sig) + 1, sd=0.1))
    assert not out["u_shaped"] and out["p_high_sigma"] == 1.0 and "above the minimum" in out["reason"]
    # a shallow rise on one side only
    half = np.where(sig > 1, 10.0, u)
    out = u_shape_test(sig, _noisy(half, sd=0.5))
    assert not out["u_shaped"] and "above the minimum" in out["reason"] and out["p_low_sigma"] < 0.05
    # too few noises: no power, the numbers still there
    out = u_shape_test(sig, _noisy(u, noises=2))
    assert not out["testable"] and not out["u_shaped"] and "no power" in out["reason"] and np.isfinite(out["d_intr"])


def test_u_shape_test_false_positive_rate_on_flat_noisy_curves_is_below_its_level():
    # the points compared are chosen by the data: without the adjustment a flat curve "rises" on each
    # side ~20 % of the time; with it, the U-shape (both sides) must come out at most at the 5 % level
    sig = edm_sigma_steps(18)[:-1].numpy()
    rng = np.random.default_rng(3)
    hits = [u_shape_test(sig, np.round(10 + rng.normal(0, 1, (15, len(sig)))), n_boot=10)["u_shaped"]
            for _ in range(300)]
    assert np.mean(hits) <= 0.05


def test_train_sigma_quantile():
    edm = {"precond": "edm", "P_mean": -1.2, "P_std": 1.2}
    lo, hi = trained_sigma_range(edm, 0.95)
    assert train_sigma_quantile(edm, lo) == pytest.approx(0.025, abs=1e-6)
    assert train_sigma_quantile(edm, hi) == pytest.approx(0.975, abs=1e-6)
    assert train_sigma_quantile(edm, np.exp(-1.2)) == pytest.approx(0.5)
    assert train_sigma_quantile(edm, 28.37) > 0.999  # the paper's minimum, far above EDM training noise
    lo, hi = trained_sigma_range({"precond": "vp"}, 0.9)
    assert train_sigma_quantile({"precond": "vp"}, lo) == pytest.approx(0.05, abs=1e-4)
    assert train_sigma_quantile({"precond": "vp"}, hi) == pytest.approx(0.95, abs=1e-4)
    with pytest.raises(ValueError, match="preconditioning"):
        train_sigma_quantile({"precond": "ve"}, 1.0)


def test_table2_row_valid_means_u_shape_and_the_training_range_is_a_caveat():
    sig = edm_sigma_steps(18)[:-1].numpy()
    steps = np.arange(len(sig))
    edm = {"precond": "edm", "P_mean": -1.2, "P_std": 1.2}
    u28 = 10 + 10 * np.minimum(1, np.abs(np.log(sig / 28.37)) / 3)  # the paper's minimum
    row = table2_row("x", 64, steps, sig, _noisy(u28), 28.37, edm, 0.95)
    assert row["valid"] and row["u_shaped"] and row["reason"] == ""
    assert row["step_min"] == 3 and row["step_fixed"] == 3 and row["d_intr_min"] == row["d_intr_fixed"]
    assert not row["min_inside_train"] and "outside the trained range" in row["caveat"] and not row["fixed_inside_train"]
    assert row["sigma_min_train_quantile"] > 0.999 and row["num_noises"] == 15 and row["u_alpha"] == 0.05
    flat = table2_row("x", 64, steps, sig, _noisy(np.full(len(sig), 10.0)), 28.37, edm, 0.95)
    assert not flat["valid"] and "no significant rise" in flat["reason"] and np.isfinite(flat["d_intr_min"])


def test_rank_table_and_table2_from_rank_files():
    # one file per noise: a U-shaped U-Net curve (minimum at sigma ~ 1) and a flat closed-form Gaussian at 7
    sig = edm_sigma_steps(18)[:-1].numpy()
    steps = np.arange(len(sig))
    u = 10 + 10 * np.minimum(1, np.abs(np.log(sig)) / 3)
    noisy = np.round(_noisy(u, noises=6))
    records = []
    for noise in (1, 0, 2, 3, 4, 5):  # any file order
        z = {"n": 64, "noise_seed": 100 + noise, "steps": steps, "sigma": sig, "rank": noisy[noise],
             "rank_gaussian": np.full(len(sig), 7)}
        records += rank_records("x", noise, z, ["gaussian"])
    with pytest.raises(ValueError, match="no ranks of \\['molrg'\\]"):
        rank_records("x", 0, z, ["gaussian", "molrg"])
    ranks = rank_table(records, ["gaussian"])
    assert len(ranks) == 2 * 6 * len(sig) and list(ranks.model.unique()) == ["unet", "gaussian"]
    first = ranks.iloc[: len(sig)]
    assert (first.noise == 0).all() and list(first.step) == list(steps) and first.rank_ratio.iloc[0] == noisy[0, 0] / 64
    edm = {"precond": "edm", "P_mean": -1.2, "P_std": 1.2}
    t2 = table2(ranks, ["x"], 1.0, {"x": edm}, 0.95, seed=0, closed_form_models=["gaussian"])
    row = t2.iloc[0]
    assert row.dataset == "x" and row.n == 64 and row.sigma_min == pytest.approx(1.088, abs=1e-3)
    assert row.gaussian_rank_at_min == 7.0 and row.gaussian_rank_at_fixed == 7.0 and not row.gaussian_u_shaped
    assert row.d_intr_min == pytest.approx(noisy[:, row.step_min].mean())


def test_mean_band_covers_the_mean_and_energy_fraction():
    R = _noisy(np.linspace(1, 10, 6), noises=20)
    lo, hi = mean_band(R, n_boot=500)
    assert (lo <= R.mean(axis=0)).all() and (R.mean(axis=0) <= hi).all() and (hi - lo < 2).all()
    s = np.array([[3.0, 2.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    np.testing.assert_allclose(energy_fraction(s, 2), [13 / 14, 0.5])
    assert np.isnan(energy_fraction(np.zeros(3), 1))


def test_rank_rule_calibration_on_the_closed_form_molrg_reads_the_truth():
    # the closed-form MoLRG (equal variances) along the trajectory: the rule reads K*d at sigma = 80
    # and d at sigma = 0.002, never more than K*d (its Jacobian's exact rank)
    import pandas as pd

    n, K, d = 24, 2, 3
    D, _, g = _molrg(n, K, d)
    out = rank_along_trajectory(D, torch.randn(3, n, generator=g, dtype=torch.float64), 18, chunk_size=24)
    tidy = pd.DataFrame([{"source": "check", "model": "closed_form", "noise": b, "step": int(st), "sigma": float(sg),
                          "rank": int(out["rank"][b, j]), "truth_d": d, "truth_Kd": K * d,
                          "energy_top_d": float(energy_fraction(out["singular_values"][b, j], d)),
                          "energy_top_Kd": float(energy_fraction(out["singular_values"][b, j], K * d))}
                         for b in range(3) for j, (st, sg) in enumerate(zip(out["steps"], out["sigma"]))])
    cal = rank_rule_calibration(tidy).sort_values("sigma")
    assert cal.reading_mean.iloc[-1] == K * d and cal.reading_mean.iloc[0] == d
    assert (cal.reading_max <= K * d).all() and (cal.over_Kd <= 1).all()
    assert cal.energy_top_Kd.min() > 0.999  # the exact rank holds all the energy
    assert cal.at_minimum.sum() == 1 and not cal.u_shaped.any()  # monotone: no U


def test_closed_form_gaussian_of_real_like_data_has_no_U_shape_and_fails_the_check():
    # A full-rank Gaussian with a decaying spectrum (as molrg.estimate.gaussian_model of images): its
    # denoiser U diag(lam / (lam + sigma^2)) U^T loses rank as sigma grows - rank is lowest at the
    # largest sigma, so the validity check must refuse it (no interior minimum).
    from molrg.estimate import gaussian_model

    n = 64
    g = torch.Generator().manual_seed(2)
    scales = torch.logspace(0, -2.5, n, dtype=torch.float64)
    x = torch.randn(4000, n, generator=g, dtype=torch.float64) * scales
    D = MoLRGDenoiser(gaussian_model(x))
    z = torch.randn(2, n, generator=g, dtype=torch.float64)
    out = rank_along_trajectory(D, z, 18, others={"again": D})
    mean = out["rank"].mean(axis=0)
    assert (np.diff(mean) >= 0).all() and mean[-1] > 4 * mean[0]  # sigma decreasing: rank rising
    np.testing.assert_array_equal(out["others_rank"]["again"], out["rank"])  # same states, same rule
    check = u_shape_test(out["sigma"], out["rank"])
    assert not check["interior_minimum"] and not check["u_shaped"]


def test_rank_along_trajectory_ranks_other_denoisers_at_the_same_states():
    # the closed-form MoLRG, followed; a Gaussian of the same bases ranked at the MoLRG's states
    n, K, d = 24, 2, 3
    D, U, g = _molrg(n, K, d)
    from molrg.estimate import gaussian_model

    x0, _ = sample_balanced(U, 500, g)
    G = MoLRGDenoiser(gaussian_model(x0))  # rank K*d data: the Gaussian's Jacobian has rank <= K*d
    z = torch.randn(2, n, generator=g, dtype=torch.float64)
    out = rank_along_trajectory(D, z, 18, steps=[0, 17], others={"gaussian": G})
    assert out["rank"][:, 1].tolist() == [d, d]
    assert out["others_rank"]["gaussian"].shape == (2, 2)
    assert out["others_rank"]["gaussian"][:, 1].tolist() == [K * d, K * d]  # no clustering: K*d at small sigma


# --- configuration: schema and cross-field checks of the `jacobian` section ------------------
REPO = __import__("pathlib").Path(__file__).resolve().parent.parent


def _config():
    import yaml

    return yaml.safe_load((REPO / "config.yaml").read_text())


def _validate(section: dict, name: str):
    from snakemake.utils import validate

    validate(section, str(REPO / "workflow" / "schemas" / f"{name}.schema.yaml"))


def test_jacobian_schema_accepts_the_default_and_rejects_bad_values():
    import copy

    from snakemake.exceptions import WorkflowError

    cfg = _config()["jacobian"]
    _validate(copy.deepcopy(cfg), "jacobian")
    for bad in ({"eta": 1.0}, {"num_noises": 0}, {"steps": [-1]}, {"unknown_key": 1},
                {"closed_form_models": ["unet"]}, {"train_sigma_mass": 1.0},
                {"molrg_check": {**cfg["molrg_check"], "unet_cells": ["d4_N256"]}}):
        with pytest.raises(WorkflowError):
            _validate({**copy.deepcopy(cfg), **bad}, "jacobian")


def test_jacobian_cross_checks_name_the_key():
    import copy

    from molrg.config_checks import ConfigError, _jacobian

    full = _config()
    _jacobian(full["jacobian"], full)  # the default passes
    cases = [
        ({"steps": [0, 18]}, "jacobian.steps"),
        ({"datasets": ["no_such_set"]}, "jacobian.datasets"),
        ({"sigma_min": 100.0}, "jacobian.sigma_min"),
        ({"molrg_check": {**full["jacobian"]["molrg_check"], "K": 3}}, "molrg_unet.K"),
        ({"molrg_check": {**full["jacobian"]["molrg_check"], "d": 30, "unet_cells": []}}, "exceeds n"),
        # K*d = 60 fits in n = 200 but equal singular values beyond 1/(1 - 0.99^2) ~ 50 are not resolved
        ({"molrg_check": {**full["jacobian"]["molrg_check"], "n": 200, "d": 30, "unet_cells": []}}, "rank rule resolves"),
    ]
    for change, key in cases:
        cfg = {**copy.deepcopy(full["jacobian"]), **change}
        with pytest.raises(ConfigError, match=key):
            _jacobian(cfg, full)
