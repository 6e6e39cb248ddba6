"""Eq. 47 sigmoid fit: recovers known parameters (with a fitted or fixed plateau), solves
N*/d_intr at a fraction of the plateau, flags an x* outside the data, bootstraps an interval with
degenerate resamples counted, is deterministic given the seed, and prefers N/d_intr over N when
the data collapse in N/d_intr."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from molrg.sigmoid import bootstrap_x_at, fit_groups, fit_report, fit_sigmoid, logistic_log2, x_at

A, B = 1.6, 3.2  # true slope (per octave) and log2 midpoint


def _points(noise=0.02, seed=0, reps=3):
    rng = np.random.default_rng(seed)
    x = np.repeat(2.0 ** np.arange(-1, 9, 1.0), reps)
    return x, logistic_log2(x, A, B) + rng.normal(0, noise, len(x))


def test_recovers_known_parameters():
    x, y = _points()
    f = fit_sigmoid(x, y)
    assert f["a"] == pytest.approx(A, rel=0.1) and f["b"] == pytest.approx(B, abs=0.1)
    assert f["rmse"] == pytest.approx(0.02, rel=0.4)  # the residuals are the added noise
    assert np.allclose(f["residuals"], y - logistic_log2(x, f["a"], f["b"]))
    assert f["r2"] > 0.99


def test_exact_points_are_fitted_exactly_from_a_far_start():
    x = 2.0 ** np.arange(0, 10, 0.5)
    f = fit_sigmoid(x, logistic_log2(x, 0.8, 6.0), p0=(5.0, 1.0))
    assert f["a"] == pytest.approx(0.8, rel=1e-4) and f["b"] == pytest.approx(6.0, abs=1e-4)


def test_threshold_crossing():
    assert x_at(A, B, 0.95) == pytest.approx(2 ** (B + math.log(19) / A))
    for t in (0.5, 0.9, 0.95):
        assert logistic_log2(x_at(A, B, t), A, B) == pytest.approx(t)
    with pytest.raises(ValueError):
        x_at(A, B, 1.0)


def test_bootstrap_interval_covers_the_truth():
    x, y = _points(noise=0.03, seed=1)
    ci = bootstrap_x_at(x, y, threshold=0.95, n_boot=200, ci=0.95, seed=0)
    truth = x_at(A, B, 0.95)
    assert ci["n_ok"] >= 190
    assert ci["low"] < truth < ci["high"]
    assert ci["high"] / ci["low"] < 2  # informative, not the whole axis


def test_collapse_in_N_over_d_intr_is_fitted_better_than_in_N():
    rng = np.random.default_rng(2)
    rows = []
    for d_intr in (4, 8, 16):
        for r in 2.0 ** np.arange(0, 8):
            rows.append((d_intr * r, r, logistic_log2(r, A, B) + rng.normal(0, 0.02)))
    N, ratio, gl = map(np.array, zip(*rows))
    by_ratio, by_N = fit_report(ratio, gl, "N_over_d_intr", n_boot=20), fit_report(N, gl, "N", n_boot=20)
    assert by_ratio["rmse"] < 0.5 * by_N["rmse"]
    assert by_ratio["x_at_threshold"] == pytest.approx(x_at(A, B), rel=0.15)
    assert set(by_ratio) >= {"a", "b", "sse", "rmse", "max_abs_residual", "x_at_threshold", "ci_low", "ci_high"}


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        fit_sigmoid([1.0], [0.5])
    with pytest.raises(ValueError):
        fit_sigmoid([0.0, 1.0], [0.1, 0.5])


def test_recovers_known_plateau_slope_and_midpoint():
    rng = np.random.default_rng(3)
    x = np.repeat(2.0 ** np.arange(-1, 9, 1.0), 3)
    y = logistic_log2(x, A, B, 0.9) + rng.normal(0, 0.02, len(x))
    f = fit_sigmoid(x, y, plateau="fit")
    assert f["a"] == pytest.approx(A, rel=0.1) and f["b"] == pytest.approx(B, abs=0.15)
    assert f["p"] == pytest.approx(0.9, abs=0.02) and not f["plateau_fixed"]
    r = fit_report(x, y, "x", n_boot=100, plateau="fit", fraction=0.95)
    truth = x_at(A, B, 0.95)  # f reaches 0.95 p there, whatever p
    assert r["x_star"] == pytest.approx(truth, rel=0.15) and r["x_star_inside"]
    assert r["threshold"] == pytest.approx(0.95 * r["plateau"])
    assert r["ci_low"] < truth < r["ci_high"] and r["status"] == "ok"
    # fixed plateau: p is not fitted and is reported as given
    g = fit_report(x, y, "x", n_boot=0, plateau=0.9, fraction=0.95)
    assert g["plateau"] == 0.9 and g["plateau_fixed"] and g["a"] == pytest.approx(A, rel=0.1)
    assert {"plateau", "plateau_fixed", "fraction", "x_star", "x_star_inside", "ci_low", "ci_high", "a", "b",
            "rmse", "r2", "n_cells", "n_boot", "n_boot_ok", "n_boot_degenerate", "status"} <= set(g)


def test_plateau_fitted_below_one_avoids_the_extrapolation_of_a_plateau_at_one():
    # GL saturating at 0.95 (spec 6.2): a plateau of 1 puts x* far to the right of where the
    # curve really levels off; the fitted plateau puts it where 95 % of the plateau is reached
    x = np.repeat(2.0 ** np.arange(0, 8, 1.0), 2)
    y = logistic_log2(x, 2.0, 3.0, 0.95)
    fitted = fit_report(x, y, "x", n_boot=0, plateau="fit", fraction=0.95)
    assert fitted["plateau"] == pytest.approx(0.95, abs=1e-4)
    assert fitted["x_star"] == pytest.approx(x_at(2.0, 3.0, 0.95), rel=1e-3)
    at_one = fit_report(x, y, "x", n_boot=0)  # the defaults: plateau 1, threshold 0.95
    assert not at_one["x_star_inside"] and at_one["status"].startswith("degenerate: below_target")


def test_x_star_inside_false_on_a_curve_that_never_reaches_the_fraction():
    x = 2.0 ** np.arange(0, 6, 1.0)
    y = logistic_log2(x, 1.0, 6.0, 0.95)  # midpoint beyond the data: at most ~0.47 here
    for plateau in (0.95, "fit"):
        r = fit_report(x, y, "x", n_boot=50, plateau=plateau, fraction=0.95)
        assert not r["x_star_inside"], plateau
        assert r["x_star"] > x.max()
        assert r["status"] in ("ok", "degenerate: below_target")
    # with a fixed plateau every resample is below the target: counted, and the interval says
    # "above the data" (censored at x_max), not a number
    r = fit_report(x, y, "x", n_boot=50, plateau=0.95, fraction=0.95)
    assert r["n_boot_degenerate"] == 50 and r["n_boot_ok"] == 0
    assert r["ci_low_censored"] and r["ci_high_censored"] and r["ci_low"] == r["ci_high"] == x.max()


def test_degenerate_resamples_are_counted_not_fitted():
    # two distinct x with 3 cells each: 2 of 2**6 resamples hold a single x value on average
    x = np.repeat([4.0, 64.0], 3)
    y = np.array([0.30, 0.32, 0.28, 0.96, 0.97, 0.95])
    r = fit_report(x, y, "x", n_boot=400, seed=1, plateau=1.0, fraction=0.95)
    assert r["n_boot_degenerate"] > 0 and "too_few_x" in r["boot_degenerate"]
    assert r["n_boot_ok"] + r["n_boot_degenerate"] + r["n_boot_failed"] == 400
    # flat data: every resample is flat/saturated, none is fitted
    flat = fit_report(2.0 ** np.arange(6), np.full(6, 0.97), "x", n_boot=100, plateau="fit")
    assert flat["n_boot_ok"] == 0 and flat["n_boot_degenerate"] == 100
    assert not flat["x_star_inside"] and flat["status"].startswith("degenerate")
    # all y above the target with a fixed plateau: saturated, censored at x_min
    sat = fit_report(2.0 ** np.arange(6), np.linspace(0.93, 0.95, 6), "x", n_boot=100, plateau=0.95,
                     fraction=0.95)
    assert "saturated=100" in sat["boot_degenerate"] and sat["ci_high"] == 1.0 and sat["ci_high_censored"]
    # a fit with a fitted plateau needs 3 distinct x
    with pytest.raises(ValueError, match="distinct x"):
        fit_report(x, y, "x", n_boot=10, plateau="fit")


def test_deterministic_given_seed():
    x, y = _points(noise=0.03, seed=4)
    r1 = fit_report(x, y, "x", n_boot=200, seed=7, plateau="fit")
    r2 = fit_report(x, y, "x", n_boot=200, seed=7, plateau="fit")
    r3 = fit_report(x, y, "x", n_boot=200, seed=8, plateau="fit")
    assert r1 == r2
    assert (r1["ci_low"], r1["ci_high"]) != (r3["ci_low"], r3["ci_high"])


def test_bad_plateau_and_fraction_are_rejected():
    x, y = _points()
    with pytest.raises(ValueError, match="fit.plateau"):
        fit_report(x, y, "x", n_boot=0, plateau=1.5)
    with pytest.raises(ValueError, match="fit.plateau"):
        fit_report(x, y, "x", n_boot=0, plateau="eps")
    with pytest.raises(ValueError, match="fit.fraction"):
        fit_report(x, y, "x", n_boot=0, fraction=1.0)


def test_no_nan_for_constant_data_or_no_bootstrap():
    # tables carry no NaN: R^2 of constant data follows sklearn (1 exact, else 0); no usable
    # replicate gives the uninformative interval [x_min, x_max] with both ends censored
    x = 2.0 ** np.arange(4)
    r = fit_report(x, np.ones(4), "x", n_boot=0, plateau=1.0, fraction=0.5)
    assert r["r2"] == 1.0 and (r["ci_low"], r["ci_high"]) == (1.0, 8.0)
    assert r["ci_low_censored"] and r["ci_high_censored"] and r["n_boot_ok"] == 0
    r = fit_report(x, np.ones(4), "x", n_boot=20, plateau=0.95, fraction=0.95)
    assert r["r2"] == 0.0 and all(np.isfinite(v) for v in r.values() if isinstance(v, float))


def test_fit_groups_recovers_each_groups_midpoint():
    # two groups on exact sigmoids with midpoints 2^2 and 2^5; a third with one x (skipped) and a
    # fourth with x <= 0 (fit_report raises: a 'failed' row)
    x = 2.0 ** np.arange(0, 9, 0.5)
    parts = [pd.DataFrame({"g": g, "x": x, "gl": logistic_log2(x, 1.5, b)}) for g, b in ((1, 2.0), (2, 5.0))]
    parts += [pd.DataFrame({"g": 3, "x": [4.0] * 3, "gl": [0.1, 0.2, 0.3]}),
              pd.DataFrame({"g": 4, "x": [-1.0, 2.0, 3.0], "gl": [0.1, 0.2, 0.3]})]
    df = pd.concat(parts, ignore_index=True)
    fits = fit_groups(df, ["x"], "gl", "g", label=lambda k: f"g={k}", n_boot=0, plateau=1.0, fraction=0.5)
    assert list(fits.scope) == ["all", "g=1", "g=2", "g=3", "g=4"]
    assert list(fits.columns[:2]) == ["scope", "x_variable"] and set(fits.x_variable) == {"x"}
    by = fits.set_index("scope")
    for scope, b in (("g=1", 2.0), ("g=2", 5.0)):
        assert by.loc[scope, "status"] == "ok"
        assert by.loc[scope, "x_star"] == pytest.approx(2**b, rel=1e-4)  # f = 0.5 at the midpoint
        assert by.loc[scope, "n_cells"] == len(x)
    assert by.loc["g=3", "status"] == "skipped: fewer than 2 distinct x"
    assert by.loc["g=4", "status"].startswith("failed: ")
    assert by.loc["all", "status"].startswith("failed: ")  # x <= 0 in the pooled rows too
