"""Sigmoid fit of the GL score (Eq. 47, spec §6.5) and the solved sample-complexity constant (Eq. 20).

The form is UNCONFIRMED in the paper text; we use the spec's recommended logistic in log2 x, with a
plateau p:

    f(x) = p / (1 + exp(-a (log2 x - b))),   a > 0,  0 < p <= 1,

p either fitted or fixed (config `fit.plateau`). For MoLRG a perfectly generalising model scores
GL = 1 - eps_quantile (0.95) by construction (spec §6.2; eps_quantile as in molrg.gl), so a plateau
fixed at 1 would make "f = 0.95" an extrapolation. N*/d_intr (Eq. 20) is therefore read where f reaches `fraction` x p:

    f(x*) = fraction p   <=>   x* = 2^(b + ln(fraction / (1 - fraction)) / a),

independent of p (config `fit.fraction`, default 0.95, UNCONFIRMED: Eq. 20 says "GL >= 0.95", an
absolute level that the ε-construction puts exactly at the plateau). The report says whether x*
lies inside the data's x range (`x_star_inside`); an x* outside it is an extrapolation and flagged,
never silently used. With x = N / d_intr, x* is the constant c of Eq. 20; the same fit with x = N
shows how much worse N alone explains GL.

Cost is bounded whatever the data. Refitting 1000 bootstrap resamples one by one with
curve_fit(maxfev=20000) sends the fits of flat or saturated resamples to their bounds and costs
~12 CPU-minutes per fit job. Instead:
  * the bootstrap resamples are cell weights (multiplicities), and all replicates are refitted at
    once by a vectorised, bounded Levenberg-Marquardt in numpy (`_lm_batch`): a fixed maximum of
    `max_iter` iterations, each a handful of (B, n, k) array operations and B k x k solves
    (k <= 3). A scipy call per replicate costs ~1-5 ms of Python overhead, i.e. seconds per fit and
    minutes per job under load; the batch costs milliseconds per iteration for B = 1000 (see
    benchmarks/bench_fits.py), so here hand-written numpy is clearly faster than a scipy loop.
  * degenerate resamples are detected before fitting and counted, never fitted: fewer distinct x
    than parameters, flat y, all y at or above the target (saturated), and with a fixed plateau all
    y below the target (never reaches it).
  * the fit on the full data uses the same batched solver over a small grid of starts and is then
    polished with scipy.optimize.least_squares (bounded, max_nfev bounded).

Bootstrap interval: percentiles of log2 x* over replicates (no usable replicate: [x_min, x_max]
with both ends censored). Replicates whose x* falls outside the
full data's x range enter as -inf / +inf (censored), as do, with a fixed plateau, saturated
(x* below the data) and never-reaching (x* above the data) resamples; with a fitted plateau those
two kinds leave x* undetermined and are left out (counted in n_boot_degenerate). A bound that
lands on a censored value is reported as the data's x_min / x_max with ci_low_censored /
ci_high_censored = True: "below / above the data", not a number we could measure.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from .progress import progress

A_MIN, A_MAX = 1e-3, 100.0  # bounds of the slope per octave
B_MARGIN = 20.0  # b within [log2 x_min - B_MARGIN, log2 x_max + B_MARGIN]
P_MIN = 1e-3  # a fitted plateau lies in [P_MIN, 1]
FLAT_TOL = 1e-9  # y with max - min below this is flat
DEFAULT_MAX_ITER = 100  # Levenberg-Marquardt iterations per replicate (bounded cost)


def logistic_log2(x, a: float, b: float, p: float = 1.0):
    """Eq. 47 (recommended form, with plateau p): p / (1 + exp(-a (log2 x - b)))."""
    z = -a * (np.log2(np.asarray(x, dtype=float)) - b)
    return p / (1.0 + np.exp(np.clip(z, -500, 500)))


def x_at(a: float, b: float, threshold: float = 0.95) -> float:
    """The x where the fitted curve reaches `threshold` x its plateau: 2^(b + ln(t/(1-t))/a)."""
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    return float(2.0 ** (b + math.log(threshold / (1 - threshold)) / a))


def _parse_plateau(plateau) -> float | None:
    """'fit' -> None (fitted); a number in (0, 1] -> that fixed plateau."""
    if isinstance(plateau, str):
        if plateau == "fit":
            return None
        raise ValueError(f"fit.plateau must be 'fit' or a number in (0, 1], got {plateau!r}")
    p = float(plateau)
    if not 0 < p <= 1:
        raise ValueError(f"fit.plateau must be 'fit' or a number in (0, 1], got {plateau!r}")
    return p


def resolve_plateau(plateau, eps_quantile=None):
    """Config `fit.plateau` -> what fit_report takes: 'fit' stays 'fit'; 'eps' becomes
    1 - eps_quantile (the GL of a perfectly generalising model, spec §6.2; eps_quantile is the
    lower-tail probability of molrg.gl's convention, e.g. the `eps_quantile` column of
    molrg_gl_scores.csv); a number stays."""
    if plateau == "eps":
        if eps_quantile is None or not 0 <= float(eps_quantile) < 1:
            raise ValueError("fit.plateau: eps needs the GL eps quantile of the figure (got "
                             f"{eps_quantile!r}); set fit.plateau to 'fit' or a number in (0, 1]")
        return 1.0 - float(eps_quantile)
    _parse_plateau(plateau)
    return plateau


def _model_and_jac(u, theta, p_fixed):
    """f and its Jacobian w.r.t. theta for u = log2 x of shape (n,), theta (B, k).
    k = 3 (a, b, p) if p_fixed is None else 2 (a, b). Returns f (B, n), J (B, n, k)."""
    a, b = theta[:, :1], theta[:, 1:2]
    p = theta[:, 2:3] if p_fixed is None else p_fixed
    s = 1.0 / (1.0 + np.exp(np.clip(-a * (u[None, :] - b), -500, 500)))
    ds = s * (1 - s)
    cols = [p * ds * (u[None, :] - b), -p * ds * a]
    if p_fixed is None:
        cols.append(s)
    return p * s, np.stack(cols, axis=-1)


def _lm_batch(u, y, w, theta0, p_fixed, lo, hi, max_iter=DEFAULT_MAX_ITER):
    """Bounded (projected) Levenberg-Marquardt for B weighted least-squares problems at once.

    u, y: (n,); w: (B, n) cell weights; theta0: (B, k); lo, hi: (k,) bounds. At most max_iter
    iterations whatever the data. Returns theta (B, k) and the weighted SSE (B,)."""
    theta = np.clip(np.array(theta0, dtype=float), lo, hi)
    f, J = _model_and_jac(u, theta, p_fixed)
    r = y[None, :] - f
    sse = np.sum(w * r * r, axis=1)
    lam = np.full(len(theta), 1e-2)
    k = theta.shape[1]
    eye = np.eye(k)
    active = np.ones(len(theta), bool)
    for _ in progress(range(max_iter), f"{len(theta)} sigmoid fits (ends early once converged)", unit="LM iterations"):
        if not active.any():
            break
        idx = np.flatnonzero(active)
        Ja, ra, wa = J[idx], r[idx], w[idx]
        JtW = Ja.transpose(0, 2, 1) * wa[:, None, :]
        H = JtW @ Ja
        g = (JtW @ ra[:, :, None])[:, :, 0]
        diag = np.einsum("bii->bi", H)
        M = H + lam[idx, None, None] * (diag[:, :, None] * eye + 1e-12 * eye)
        step = np.linalg.solve(M, g[:, :, None])[:, :, 0]
        new = np.clip(theta[idx] + step, lo, hi)
        fn, Jn = _model_and_jac(u, new, p_fixed)
        rn = y[None, :] - fn
        ssen = np.sum(wa * rn * rn, axis=1)
        better = ssen <= sse[idx]
        acc = idx[better]
        rel = (sse[acc] - ssen[better]) / np.maximum(sse[acc], 1e-300)
        moved = np.max(np.abs(new[better] - theta[acc]), axis=1)
        theta[acc], sse[acc], J[acc], r[acc] = new[better], ssen[better], Jn[better], rn[better]
        lam[acc] = np.maximum(lam[acc] / 3, 1e-12)
        lam[idx[~better]] *= 4
        done = np.zeros(len(theta), bool)
        done[acc] = (rel < 1e-12) | (moved < 1e-10)
        done[idx[~better]] = lam[idx[~better]] > 1e12
        active &= ~done
    return theta, sse


def _bounds(u, p_fixed):
    lo = [A_MIN, u.min() - B_MARGIN] + ([P_MIN] if p_fixed is None else [])
    hi = [A_MAX, u.max() + B_MARGIN] + ([1.0] if p_fixed is None else [])
    return np.array(lo), np.array(hi)


def _starts(u, y, p_fixed):
    """A small grid of starting points: b at the data's log2 x values where y is closest to half its
    maximum and at its quartiles, a in {0.5, 2, 8}, p at max y (clipped to the bounds)."""
    p0 = float(np.clip(y.max(), P_MIN, 1.0)) if p_fixed is None else p_fixed
    bs = {float(u[np.argmin(np.abs(y - p0 / 2))])} | set(np.quantile(u, [0.25, 0.5, 0.75]).tolist())
    starts = [[a, b] + ([p0] if p_fixed is None else []) for a in (0.5, 2.0, 8.0) for b in sorted(bs)]
    return np.array(starts)


def _classify(u_groups, y, w, target_fixed, fraction, k):
    """Degenerate resamples, detected before fitting. w: (B, n) weights; u_groups: (n,) index of the
    distinct x of each cell. Returns an array of codes: '' (fit it), 'too_few_x', 'flat',
    'saturated', 'below_target'."""
    inc = w > 0
    n_groups = u_groups.max() + 1
    present = np.zeros((len(w), n_groups), bool)
    rows = np.repeat(np.arange(len(w)), w.shape[1])
    present[rows[inc.ravel()], np.tile(u_groups, len(w))[inc.ravel()]] = True
    distinct = present.sum(axis=1)
    ymax = np.where(inc, y[None, :], -np.inf).max(axis=1)
    ymin = np.where(inc, y[None, :], np.inf).min(axis=1)
    target = target_fixed if target_fixed is not None else fraction * ymax
    code = np.full(len(w), "", dtype=object)
    code[ymin >= target] = "saturated"
    if target_fixed is not None:
        code[ymax < target] = "below_target"
    code[ymax - ymin <= FLAT_TOL] = "flat"
    code[distinct < k] = "too_few_x"
    return code


def fit_sigmoid(x, y, p0=None, a_max: float = A_MAX, plateau=1.0,
                max_iter: int = DEFAULT_MAX_ITER, max_nfev: int = 200) -> dict:
    """Least-squares fit of `logistic_log2` to the points (x, y); x > 0.

    plateau: 'fit' (p fitted in [P_MIN, 1]) or a number in (0, 1] (p fixed; default 1, the
    original form). p0: optional start (a, b) or (a, b, p). Cost bounded: a batched
    Levenberg-Marquardt over a grid of starts (max_iter iterations), then a scipy least_squares
    polish (max_nfev evaluations). Returns a, b, p, plateau_fixed, the residuals y - f(x), their
    sum of squares (sse), root mean square (rmse), R^2 and the number of points."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-d of equal length, got {x.shape} and {y.shape}")
    if len(x) < 2 or np.any(x <= 0) or not np.all(np.isfinite(x)) or not np.all(np.isfinite(y)):
        raise ValueError("need at least 2 finite points with x > 0")
    p_fixed = _parse_plateau(plateau)
    k = 2 if p_fixed is not None else 3
    u = np.log2(x)
    if len(np.unique(u)) < k:
        raise ValueError(f"need at least {k} distinct x for a fit with {k} parameters, got {len(np.unique(u))}")
    lo, hi = _bounds(u, p_fixed)
    hi[0] = a_max
    starts = _starts(u, y, p_fixed)
    if p0 is not None:
        p0 = list(p0)[:k] + ([float(np.clip(y.max(), P_MIN, 1.0))] if (k == 3 and len(p0) < 3) else [])
        starts = np.vstack([np.asarray(p0, float)[None, :], starts])
    theta, sse = _lm_batch(u, y, np.ones((len(starts), len(u))), starts, p_fixed, lo, hi, max_iter)
    best = theta[np.argmin(sse)]

    def resid(t):
        return logistic_log2(x, t[0], t[1], t[2] if p_fixed is None else p_fixed) - y

    pol = least_squares(resid, np.clip(best, lo, hi), bounds=(lo, hi), method="trf", max_nfev=max_nfev,
                        x_scale="jac")
    if np.sum(pol.fun**2) <= float(np.min(sse)):
        best = pol.x
    a, b = float(best[0]), float(best[1])
    p = float(best[2]) if p_fixed is None else p_fixed
    res = y - logistic_log2(x, a, b, p)
    sse_v = float(np.sum(res**2))
    sst = float(np.sum((y - y.mean()) ** 2))
    # R^2 of constant data is undefined; as sklearn's r2_score: 1 for an exact fit, else 0 (no NaN in tables)
    r2 = 1 - sse_v / sst if sst > 0 else (1.0 if sse_v <= 1e-24 else 0.0)
    return {"a": a, "b": b, "p": p, "plateau_fixed": p_fixed is not None, "residuals": res, "sse": sse_v,
            "rmse": math.sqrt(sse_v / len(x)), "r2": r2, "n": len(x)}


def bootstrap_x_at(x, y, threshold: float = 0.95, n_boot: int = 1000, ci: float = 0.95, seed: int = 0,
                   plateau=1.0, max_iter: int = DEFAULT_MAX_ITER, full: dict | None = None) -> dict:
    """Percentile bootstrap over cells of x* (the x where the fit reaches `threshold` x plateau).

    All replicates are refitted at once (vectorised Levenberg-Marquardt, warm-started at the full
    fit and at a generic start, at most max_iter iterations). Degenerate resamples are detected
    before fitting and counted (see the module docstring for how they enter the interval).
    Returns low, high, median (of the non-excluded replicates), low_censored, high_censored,
    n_ok (fitted replicates), n_degenerate (by kind in `degenerate`), n_used (entering the
    percentiles)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if not 0 < threshold < 1:
        raise ValueError(f"fraction/threshold must be in (0, 1), got {threshold}")
    p_fixed = _parse_plateau(plateau)
    k = 2 if p_fixed is not None else 3
    n = len(x)
    u = np.log2(x)
    # no usable replicate (or n_boot = 0): the uninformative interval [x_min, x_max], both ends
    # censored ("anywhere around the data"), rather than NaN
    out = {"low": float(x.min()), "high": float(x.max()), "median": float("nan"), "low_censored": True,
           "high_censored": True, "n_ok": 0, "n_degenerate": 0, "n_used": 0, "degenerate": {}}
    if n_boot <= 0:
        return out
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, (n_boot, n))
    w = np.zeros((n_boot, n))
    np.add.at(w, (np.repeat(np.arange(n_boot), n), idx.ravel()), 1.0)
    _, groups = np.unique(u, return_inverse=True)
    target_fixed = threshold * p_fixed if p_fixed is not None else None
    code = _classify(groups, y, w, target_fixed, threshold, k)
    logs = np.full(n_boot, np.nan)
    if p_fixed is not None:  # censored: x* below / above the data
        logs[code == "saturated"] = -np.inf
        logs[code == "below_target"] = np.inf
        flat = code == "flat"
        if flat.any():  # a flat resample at or above the target is saturated, below it never reaches it
            yv = np.where(w[flat] > 0, y[None, :], np.nan)
            logs[np.flatnonzero(flat)] = np.where(np.nanmax(yv, axis=1) >= target_fixed, -np.inf, np.inf)
    fit_me = np.flatnonzero(code == "")
    if len(fit_me):
        if full is None:
            full = fit_sigmoid(x, y, plateau=plateau, max_iter=max_iter)
        lo, hi = _bounds(u, p_fixed)
        warm = [full["a"], full["b"]] + ([full["p"]] if p_fixed is None else [])
        generic = [2.0, float(np.median(u))] + ([float(np.clip(y.max(), P_MIN, 1.0))] if p_fixed is None else [])
        theta0 = np.vstack([np.tile(warm, (len(fit_me), 1)), np.tile(generic, (len(fit_me), 1))])
        ww = np.vstack([w[fit_me], w[fit_me]])
        theta, sse = _lm_batch(u, y, ww, theta0, p_fixed, lo, hi, max_iter)
        m = len(fit_me)
        pick = np.where(sse[:m] <= sse[m:], 0, 1)
        th = theta[np.arange(m) + pick * m]
        ok = np.all(np.isfinite(th), axis=1)
        ls = th[:, 1] + math.log(threshold / (1 - threshold)) / th[:, 0]
        ls = np.where(ls < u.min(), -np.inf, np.where(ls > u.max(), np.inf, ls))
        logs[fit_me[ok]] = ls[ok]
        out["n_ok"] = int(ok.sum())
        code[fit_me[~ok]] = "failed"
    kinds, counts = np.unique(code[code != ""], return_counts=True)
    out["degenerate"] = {str(kd): int(c) for kd, c in zip(kinds, counts) if kd != "failed"}
    out["n_degenerate"] = int(sum(out["degenerate"].values()))
    used = logs[~np.isnan(logs)]
    out["n_used"] = int(len(used))
    if len(used) == 0:
        return out
    alpha = (1 - ci) / 2
    low = float(np.quantile(used, alpha, method="lower"))
    high = float(np.quantile(used, 1 - alpha, method="higher"))
    med = float(np.quantile(used, 0.5, method="lower"))
    out["low_censored"], out["high_censored"] = bool(np.isinf(low)), bool(np.isinf(high))
    clip = lambda v: float(2.0 ** min(max(v, u.min()), u.max()))  # noqa: E731
    out.update(low=clip(low), high=clip(high), median=clip(med))
    return out


def fit_report(x, y, x_name: str, threshold: float = 0.95, n_boot: int = 1000, ci: float = 0.95,
               seed: int = 0, *, plateau=1.0, fraction: float | None = None,
               max_iter: int = DEFAULT_MAX_ITER) -> dict:
    """One row of the fit table (the one entry point of the fit rules).

    x, y: cells (x > 0, e.g. N / d_intr or N; y = GL). x_name: label stored in `x_variable`.
    threshold: legacy argument, used as `fraction` when `fraction` is None (with the default
        plateau = 1 this is the original fit: x* where f = threshold).
    n_boot, ci, seed: bootstrap replicates over cells (0: no interval), interval level, seed.
    plateau (keyword): 'fit' (p fitted in (0, 1]) or a number in (0, 1] (p fixed, e.g.
        1 - eps_quantile for MoLRG, spec §6.2). Config `fit.plateau`.
    fraction (keyword): x* is where f reaches fraction x plateau. Config `fit.fraction`.
    max_iter (keyword): iteration bound of every refit (config `fit.max_iter`).

    Returns a dict with x_variable, a, b, plateau, plateau_fixed, fraction, threshold
    (= fraction x plateau, the GL level at x*), x_star (and its legacy name x_at_threshold),
    x_star_inside (x* within [x_min, x_max] and the data bracket the target), x_min, x_max,
    n_cells, sse, rmse, max_abs_residual, r2, ci_level, ci_low, ci_high, ci_low_censored,
    ci_high_censored, n_boot, n_boot_ok, n_boot_degenerate, n_boot_failed, boot_degenerate
    (text: counts by kind), status ('ok', or 'degenerate: <kind>' when the full data are
    themselves flat/saturated/below the target; an x* outside the data shows in x_star_inside). Raises ValueError on input that cannot be fitted
    (fewer distinct x than parameters, x <= 0)."""
    fraction = threshold if fraction is None else fraction
    if not 0 < fraction < 1:
        raise ValueError(f"fit.fraction must be in (0, 1), got {fraction}")
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    f = fit_sigmoid(x, y, plateau=plateau, max_iter=max_iter)
    p_fixed = _parse_plateau(plateau)
    boot = bootstrap_x_at(x, y, fraction, n_boot, ci, seed, plateau=plateau, max_iter=max_iter, full=f)
    x_star = x_at(f["a"], f["b"], fraction)
    _, groups = np.unique(np.log2(x), return_inverse=True)
    code = _classify(groups, y, np.ones((1, len(x))), None if p_fixed is None else fraction * p_fixed,
                     fraction, 2 if p_fixed is not None else 3)[0]
    # inside: x* within the data's x range AND the data bracket the target (not all above it, not
    # all below it): otherwise x* is an extrapolation, in x or in y
    inside = bool(x.min() <= x_star <= x.max()) and code == ""
    status = "ok" if code == "" else f"degenerate: {code}"
    n_failed = n_boot - boot["n_ok"] - boot["n_degenerate"] if n_boot > 0 else 0
    return {"x_variable": x_name, "a": f["a"], "b": f["b"], "plateau": f["p"], "plateau_fixed": f["plateau_fixed"],
            "fraction": fraction, "n_cells": f["n"], "sse": f["sse"], "rmse": f["rmse"],
            "max_abs_residual": float(np.max(np.abs(f["residuals"]))), "r2": f["r2"],
            "threshold": fraction * f["p"], "x_star": x_star, "x_at_threshold": x_star,
            "x_star_inside": inside, "x_min": float(x.min()), "x_max": float(x.max()),
            "ci_level": ci, "ci_low": boot["low"], "ci_high": boot["high"],
            "ci_low_censored": boot["low_censored"], "ci_high_censored": boot["high_censored"],
            "n_boot": n_boot, "n_boot_ok": boot["n_ok"], "n_boot_degenerate": boot["n_degenerate"],
            "n_boot_failed": int(n_failed),
            "boot_degenerate": ";".join(f"{k}={v}" for k, v in sorted(boot["degenerate"].items())),
            "status": status}


def fit_groups(df: pd.DataFrame, xs, y: str, by: str, label=str, **fit) -> pd.DataFrame:
    """The fit table of a GL table: `fit_report` of column `y` against each column of `xs`, over all
    rows (scope 'all') and per value of column `by` (scope `label(value)`, values sorted).

    `fit` goes to fit_report (threshold, n_boot, ci, seed, plateau, fraction, max_iter). A group that
    cannot be fitted keeps a row whose `status` says why: 'skipped: fewer than 2 distinct x', or
    'failed: <the error>'. Columns: scope, x_variable, then fit_report's."""
    rows = []
    for scope, g in [("all", df)] + [(label(k), g) for k, g in df.groupby(by, sort=True)]:
        for x in xs:
            base = {"scope": scope, "x_variable": x}
            if g[x].nunique() < 2:
                rows.append({**base, "status": "skipped: fewer than 2 distinct x"})
                continue
            try:
                rows.append({**base, **fit_report(g[x].to_numpy(), g[y].to_numpy(), x, **fit)})
            except (RuntimeError, ValueError) as e:  # too few or degenerate points
                rows.append({**base, "status": f"failed: {e}"})
    return pd.DataFrame(rows)
