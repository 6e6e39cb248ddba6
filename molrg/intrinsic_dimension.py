"""The intrinsic dimension d_intr of a real data set, for Fig 4 right's N / d_intr (spec §6.1, §6.4, §6.5).

* ``select_d_intr``: d_intr per dataset from the chosen source (the set's own GL U-Net's Jacobian
  rank, or Table 2) where its validity check passed, otherwise the config fallback, with the
  source and the reason recorded;
* ``jacobian_d_intr``: d_intr of a set from the Jacobian ranks of one of its U-Nets, with whether
  the minimum is significant;
* ``mle_intrinsic_dimension``, ``mle_fallbacks``: the Levina-Bickel maximum-likelihood estimate
  (the computed config fallback "mle").
"""
from __future__ import annotations

import math

import numpy as np

from .table_values import csv_bool, csv_float


MLE = "mle"  # a realdata.gl.d_intr fallback that is computed: mle_intrinsic_dimension of the training images
MLE_K = 20  # neighbours of that estimate (Pope et al. 2021 use k = 3..20; ours)
MLE_MAX_POINTS = 5000  # the first prepared training images it uses (cost: one n x n distance matrix)


def select_d_intr(datasets, source: str, fallback: dict, table2=None, column: str = "d_intr_min",
                  fallback_source: dict | None = None, jacobian: dict | None = None) -> dict:
    """d_intr per dataset for N / d_intr, with where it came from and why.

    source: 'jacobian' (the set's own GL U-Net's Jacobian rank where its minimum is significant),
        'table2' (use Table 2 where its row is valid) or 'config' (always the fallback).
    jacobian: {dataset: jacobian_d_intr's dict (d_intr, significant, reason)} for source 'jacobian'.
    fallback: {dataset: d_intr} (config realdata.gl.d_intr), used wherever Table 2's row is missing
        or not valid. An entry "mle" must have been replaced by its number (``mle_fallbacks``) and
        its origin given in fallback_source ({dataset: label}, default 'config:realdata.gl.d_intr').
    table2: a pandas DataFrame of results/tables/table2_intrinsic_dimension.csv (column `dataset`,
        the d_intr `column`, and `valid` / `reason` of its validity check), or None.

    A missing fallback is an error only where it is needed (the message names the reason).
    Table 2's value is used only where the row exists, has valid = True and a finite d_intr > 0;
    a table without a `valid` column counts as not valid ("Table 2 has no validity column").
    Returns {dataset: {"d_intr": float, "d_intr_source": str, "d_intr_reason": str}}, where
    d_intr_source is 'table2:<column>' or 'config:realdata.gl.d_intr' and d_intr_reason says why
    the fallback was taken (empty when Table 2 was used)."""
    if source not in ("jacobian", "table2", "config"):
        raise ValueError(f"realdata.gl.d_intr_source must be 'jacobian', 'table2' or 'config', got {source!r}")
    rows = {}
    if source == "table2" and table2 is not None and "dataset" in table2.columns:
        rows = {str(r["dataset"]): r for _, r in table2.iterrows()}
    out = {}
    for name in datasets:
        reason = ""
        if source == "config":
            reason = "realdata.gl.d_intr_source = config"
        elif source == "jacobian":
            j = (jacobian or {}).get(name)
            v = csv_float(j.get("d_intr")) if j else float("nan")
            if j is None:
                reason = f"no Jacobian rank measured for {name}"
            elif not csv_bool(j.get("significant")):
                reason = "Jacobian rank curve has no significant minimum" + (f": {j['reason']}" if j.get("reason") else "")
            elif not (np.isfinite(v) and v > 0):
                reason = f"Jacobian d_intr = {j.get('d_intr')!r} is not a positive number"
            else:
                out[name] = {"d_intr": v, "d_intr_source": "jacobian:gl_unet_min", "d_intr_reason": ""}
                continue
        elif table2 is None:
            reason = "no Table 2 given"
        elif name not in rows:
            reason = f"Table 2 has no row for {name}"
        elif "valid" not in table2.columns:
            reason = "Table 2 has no validity column"
        elif not csv_bool(rows[name]["valid"]):
            why = rows[name].get("reason", "") if "reason" in table2.columns else ""
            why = "" if (why is None or (isinstance(why, float) and math.isnan(why))) else str(why)
            reason = "Table 2 row not valid" + (f": {why}" if why else " (no reason given)")
        elif column not in table2.columns:
            reason = f"Table 2 has no column {column}"
        else:
            v = csv_float(rows[name][column])
            if not (np.isfinite(v) and v > 0):
                reason = f"Table 2's {column} = {rows[name][column]!r} is not a positive number"
            else:
                out[name] = {"d_intr": v, "d_intr_source": f"table2:{column}", "d_intr_reason": ""}
                continue
        if name not in fallback:
            raise ValueError(f"d_intr of {name}: {reason}, and realdata.gl.d_intr has no fallback value for it: "
                             f"add realdata.gl.d_intr.{name} (e.g. molrg.intrinsic_dimension.mle_intrinsic_dimension of its "
                             "training images) or make the chosen source's value valid")
        src = (fallback_source or {}).get(name, "config:realdata.gl.d_intr")
        out[name] = {"d_intr": float(fallback[name]), "d_intr_source": src, "d_intr_reason": reason}
    return out


def mle_fallbacks(fallback: dict, load_images) -> tuple[dict, dict]:
    """Resolve the "mle" entries of realdata.gl.d_intr: load_images(name) -> array (N, ...) of the
    prepared training images; the estimate uses the first MLE_MAX_POINTS of them with k = MLE_K.
    Returns (fallback with numbers only, {dataset: source label} of the computed entries)."""
    values, sources = {}, {}
    for name, v in fallback.items():
        if v == MLE:
            x = np.asarray(load_images(name))[:MLE_MAX_POINTS]
            values[name] = mle_intrinsic_dimension(x, k=min(MLE_K, len(x) - 1))
            sources[name] = f"mle:levina_bickel(k={min(MLE_K, len(x) - 1)}, n={len(x)})"
        else:
            values[name] = float(v)
    return values, sources


def mle_intrinsic_dimension(x, k: int = 20) -> float:
    """Levina & Bickel's (2005) maximum-likelihood intrinsic dimension of the points x (n, ...),
    with MacKay & Ghahramani's pooling (the inverse of the mean inverse local estimate):

        m_k(x_i)^-1 = 1/(k-1) sum_{j<k} log(T_k(x_i) / T_j(x_i)),   m_k = [mean_i m_k(x_i)^-1]^-1,

    T_j the Euclidean distance to the j-th nearest other point. Exact duplicates (T_1 = 0) are
    skipped. Used by Pope et al. (2021, "The intrinsic dimension of images") on image datasets."""
    import torch

    X = torch.as_tensor(np.asarray(x), dtype=torch.float64).reshape(len(x), -1)
    if not 2 <= k < len(X):
        raise ValueError(f"k must be in [2, n - 1] = [2, {len(X) - 1}], got {k}")
    inv = []
    for s in range(0, len(X), 1024):
        d = torch.cdist(X[s : s + 1024], X)
        d[torch.arange(d.shape[0]), torch.arange(s, s + d.shape[0])] = float("inf")  # not itself
        T = d.topk(k, dim=1, largest=False).values  # (b, k), ascending
        ok = T[:, 0] > 0
        inv.append(torch.log(T[ok, -1:] / T[ok, :-1]).mean(1))
    inv = torch.cat(inv)
    if len(inv) == 0:
        raise ValueError("every point has an exact duplicate: no intrinsic dimension estimate")
    return float(1.0 / inv.mean())


def jacobian_d_intr(sigmas, ranks, sigma_lo: float, sigma_hi: float, min_rise: float) -> dict:
    """d_intr of a set from the Jacobian ranks (B noises x S steps, trajectory order: sigma
    decreasing) of one of its U-Nets: the lowest mean rank over the noises (ties: the earlier step).

    It is `significant` where the minimum is interior (the mean curve lies strictly above it at both
    ends of the evaluated steps), its sigma lies inside [sigma_lo, sigma_hi] (the range the U-Net was
    trained on, molrg.jacobian.trained_sigma_range), and the mean rank at both ends lies at least
    `min_rise` (rank units) above it; `reason` says what failed (empty when significant). (Fixed with
    the Fig 4 right grid, before its runs; Table 2's paired U-shape test, molrg.jacobian.u_shape_test,
    is the reference U-Net's counterpart.)"""
    mean = np.asarray(ranks, dtype=np.float64).mean(axis=0)
    sig = np.asarray(sigmas, dtype=np.float64)
    i = int(np.argmin(mean))
    interior = bool(0 < i < len(mean) - 1 and mean[0] > mean[i] and mean[-1] > mean[i])
    inside = bool(sigma_lo <= sig[i] <= sigma_hi)
    rise = float(min(mean[0], mean[-1]) - mean[i])
    reasons = []
    if not interior:
        end = "largest" if i == 0 or mean[0] <= mean[i] else "smallest"
        reasons.append(f"no interior minimum: the lowest mean rank ({mean[i]:.4g}) is at the {end}-sigma end "
                       f"of the evaluated steps (sigma {sig[i]:.4g})")
    if not inside:
        reasons.append(f"minimum at sigma {sig[i]:.4g} outside the trained range [{sigma_lo:.3g}, {sigma_hi:.3g}]")
    if interior and rise < min_rise:
        reasons.append(f"the curve rises only {rise:.3g} (< min_rise {min_rise:g}) from its minimum to its ends")
    return {"d_intr": float(mean[i]), "sigma_min": float(sig[i]), "step_min": i, "rise": rise,
            "interior_minimum": interior, "min_inside_train": inside,
            "significant": not reasons, "reason": "; ".join(reasons)}
