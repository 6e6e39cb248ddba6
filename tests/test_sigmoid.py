"""Eq. 47 sigmoid fit: recovers known parameters, solves N*/d_intr, bootstraps an interval, and
prefers N/d_intr over N when the data collapse in N/d_intr."""
from __future__ import annotations

import math

import numpy as np
import pytest

from molrg.sigmoid import bootstrap_x_at, fit_report, fit_sigmoid, logistic_log2, x_at

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
