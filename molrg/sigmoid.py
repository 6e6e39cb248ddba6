"""Sigmoid fit of the GL score (Eq. 47, spec §6.5) and the solved sample-complexity constant (Eq. 20).

The form is UNCONFIRMED in the paper text; we use the spec's recommendation, a logistic in log2 x:

    f(x) = 1 / (1 + exp(-a (log2 x - b))),   a > 0,

fitted by least squares (scipy.optimize.curve_fit) on all cells. Solving f(x*) = t gives
x* = 2^(b + ln(t / (1 - t)) / a), i.e. 2^(b + ln(19)/a) for t = 0.95. With x = N / d_intr this is
N*/d_intr = c of Eq. 20; the same fit with x = N shows how much worse N alone explains GL.
An interval for x* comes from a bootstrap over cells (resample the cells, refit, take percentiles).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit


def logistic_log2(x, a: float, b: float):
    """Eq. 47 (recommended form): 1 / (1 + exp(-a (log2 x - b)))."""
    z = -a * (np.log2(np.asarray(x, dtype=float)) - b)
    return 1.0 / (1.0 + np.exp(np.clip(z, -500, 500)))


def x_at(a: float, b: float, threshold: float = 0.95) -> float:
    """The x where the fitted curve reaches `threshold`: 2^(b + ln(t/(1-t))/a)."""
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    return float(2.0 ** (b + math.log(threshold / (1 - threshold)) / a))


def _initial_guess(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """b: log2 x where y is closest to 1/2; a: 2 (a rise over about two octaves)."""
    return 2.0, float(np.log2(x[np.argmin(np.abs(y - 0.5))]))


def fit_sigmoid(x, y, p0=None, a_max: float = 100.0) -> dict:
    """Least-squares fit of `logistic_log2` to the points (x, y); x > 0.

    Returns a, b, the residuals y - f(x), their sum of squares (sse), root mean square (rmse), R^2
    and the number of points. Raises RuntimeError if curve_fit does not converge."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-d of equal length, got {x.shape} and {y.shape}")
    if len(x) < 2 or np.any(x <= 0):
        raise ValueError("need at least 2 points with x > 0")
    p0 = _initial_guess(x, y) if p0 is None else p0
    lo_b, hi_b = np.log2(x.min()) - 20, np.log2(x.max()) + 20
    p0 = (min(max(p0[0], 1e-3), a_max), min(max(p0[1], lo_b), hi_b))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        (a, b), _ = curve_fit(logistic_log2, x, y, p0=p0, bounds=([1e-3, lo_b], [a_max, hi_b]), maxfev=20000)
    res = y - logistic_log2(x, a, b)
    sse = float(np.sum(res**2))
    sst = float(np.sum((y - y.mean()) ** 2))
    return {"a": float(a), "b": float(b), "residuals": res, "sse": sse, "rmse": math.sqrt(sse / len(x)),
            "r2": 1 - sse / sst if sst > 0 else float("nan"), "n": len(x)}


def bootstrap_x_at(x, y, threshold: float = 0.95, n_boot: int = 1000, ci: float = 0.95,
                   seed: int = 0) -> dict:
    """Percentile bootstrap over cells of x* (the x where the fit reaches `threshold`).

    Each replicate resamples the cells with replacement and refits; replicates whose fit fails or
    that hold a single distinct x are skipped and counted. Returns low, high, median, n_ok."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    rng = np.random.default_rng(seed)
    full = fit_sigmoid(x, y)
    stars = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(x), len(x))
        if len(np.unique(x[idx])) < 2:
            continue
        try:
            f = fit_sigmoid(x[idx], y[idx], p0=(full["a"], full["b"]))
        except (RuntimeError, ValueError):
            continue
        stars.append(x_at(f["a"], f["b"], threshold))
    if not stars:
        return {"low": float("nan"), "high": float("nan"), "median": float("nan"), "n_ok": 0}
    # percentiles of log2 x* (the fit lives in log2 x), mapped back
    logs = np.log2(stars)
    q = [(1 - ci) / 2 * 100, 50, (1 + ci) / 2 * 100]
    low, med, high = 2.0 ** np.percentile(logs, q)
    return {"low": float(low), "high": float(high), "median": float(med), "n_ok": len(stars)}


def fit_report(x, y, x_name: str, threshold: float = 0.95, n_boot: int = 1000, ci: float = 0.95,
               seed: int = 0) -> dict:
    """One row of the fit table: parameters, residual summary, x* at the threshold and its bootstrap CI."""
    f = fit_sigmoid(x, y)
    boot = bootstrap_x_at(x, y, threshold, n_boot, ci, seed)
    return {"x_variable": x_name, "a": f["a"], "b": f["b"], "n_cells": f["n"], "sse": f["sse"],
            "rmse": f["rmse"], "max_abs_residual": float(np.max(np.abs(f["residuals"]))), "r2": f["r2"],
            "threshold": threshold, "x_at_threshold": x_at(f["a"], f["b"], threshold),
            "ci_level": ci, "ci_low": boot["low"], "ci_high": boot["high"], "n_boot": n_boot,
            "n_boot_ok": boot["n_ok"]}
