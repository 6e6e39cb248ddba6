"""Statistics of the editing experiment (Fig 5), on the tidy table `editing_distances.csv` (one row
per image, direction and strength; columns below). Pure numpy/pandas, shared by the editing rule
(summary table), the figure and the claim (molrg.claims.fig5).

Table columns used here: image, direction (v1..vk | r1..rm), kind (singular | random), strength (as
configured, in `strength_units`), strength_fraction (the EDM step over ||x_t||), l2_change (L2
distance of the final edited image from the unedited DDIM reconstruction), changed (the classifier's
label of the edited image differs from that of the reconstruction; empty where no classifier).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

SINGULAR, RANDOM = "singular", "random"


def wilson_ci(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion k / n (95 % for z = 1.96); (nan, nan) if n = 0.
    Unlike the Wald interval it stays inside [0, 1] and is not empty at k = 0 or k = n."""
    if n <= 0:
        return float("nan"), float("nan")
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


def two_proportion(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float, float]:
    """p1 - p2, its standard error under H0: p1 = p2 (pooled binomial), and z = difference / SE.
    SE = 0 only when both rates are 0 or both are 1; the difference is then 0 and z is 0."""
    if n1 <= 0 or n2 <= 0:
        return float("nan"), float("nan"), float("nan")
    p1, p2 = k1 / n1, k2 / n2
    p = (k1 + k2) / (n1 + n2)
    se = math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    diff = p1 - p2
    z = diff / se if se > 0 else 0.0
    return diff, se, z


def _changed(series: pd.Series) -> pd.Series:
    """The `changed` column as booleans, rows without a label (no classifier) dropped."""
    s = series.dropna()
    if s.dtype == object:
        s = s.astype(str).str.strip().str.lower().map({"true": True, "false": False, "1": True, "0": False})
        s = s.dropna()
    return s.astype(bool)


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Per strength and kind: number of edits and images, the L2 change's median, 5 % and 95 %
    quantiles and mean, the median strength fraction, the label-change count, rate and its
    Wilson 95 % interval (empty without a classifier), and for the singular edits the number of
    images whose median change exceeds the 95 % quantile of their random ones at that |strength|
    (`image_exceedance`; the text 'not applicable' for the random edits, the reference)."""
    rows = []
    for (strength, kind), g in table.groupby(["strength", "kind"], sort=True):
        ch = _changed(g["changed"]) if "changed" in g else pd.Series(dtype=bool)
        k, n = int(ch.sum()), int(len(ch))
        lo, hi = wilson_ci(k, n)
        l2 = g["l2_change"].to_numpy(dtype=float)
        rows.append({
            "strength": float(strength), "kind": kind, "strength_fraction": float(g["strength_fraction"].median()),
            "n_edits": int(len(g)), "n_images": int(g["image"].nunique()),
            "l2_median": float(np.median(l2)), "l2_q05": float(np.quantile(l2, 0.05)),
            "l2_q95": float(np.quantile(l2, 0.95)), "l2_mean": float(l2.mean()),
            "label_changes": k, "n_labelled": n, "label_change_rate": k / n if n else float("nan"),
            "rate_ci_lo": lo, "rate_ci_hi": hi,
            "images_exceeding_q95": (int(image_exceedance(table[table.strength.abs() == abs(strength)]).exceeds.sum())
                                     if kind == SINGULAR else "not applicable"),
        })
    return pd.DataFrame(rows)


def image_exceedance(table: pd.DataFrame, q: float = 0.95) -> pd.DataFrame:
    """Per image (of the rows given, normally one strength, both signs pooled): the median L2
    change over its singular-vector edits, the q-quantile of its random-direction edits, their
    ratio, whether the first exceeds the second, and how many random edits the quantile rests on."""
    rows = []
    for image, g in table.groupby("image", sort=True):
        s = g.loc[g["kind"] == SINGULAR, "l2_change"].to_numpy(dtype=float)
        r = g.loc[g["kind"] == RANDOM, "l2_change"].to_numpy(dtype=float)
        if len(s) == 0 or len(r) == 0:
            continue
        med, rq = float(np.median(s)), float(np.quantile(r, q))
        rows.append({"image": image, "singular_median": med, "random_quantile": rq,
                     "random_median": float(np.median(r)), "n_random": int(len(r)),
                     "ratio": med / rq if rq > 0 else float("inf"), "exceeds": bool(med > rq)})
    return pd.DataFrame(rows, columns=["image", "singular_median", "random_quantile", "random_median",
                                       "n_random", "ratio", "exceeds"])


def label_change_test(table: pd.DataFrame) -> dict:
    """Label-change counts of singular and random edits (rows given, one strength) and the
    two-proportion comparison: rates, Wilson intervals, difference, pooled SE and z."""
    out = {}
    for kind in (SINGULAR, RANDOM):
        ch = _changed(table.loc[table["kind"] == kind, "changed"]) if "changed" in table else pd.Series(dtype=bool)
        out[kind] = (int(ch.sum()), int(len(ch)))
    (k1, n1), (k2, n2) = out[SINGULAR], out[RANDOM]
    diff, se, z = two_proportion(k1, n1, k2, n2)
    return {"k_singular": k1, "n_singular": n1, "k_random": k2, "n_random": n2,
            "rate_singular": k1 / n1 if n1 else float("nan"), "rate_random": k2 / n2 if n2 else float("nan"),
            "ci_singular": wilson_ci(k1, n1), "ci_random": wilson_ci(k2, n2), "diff": diff, "se": se, "z": z}


def edit_table(dataset: str, image_ids, result: dict, labels: dict | None = None,
               classifier_accuracy: float = float("nan"), sigma_train=(float("nan"), float("nan")),
               inside_train: bool | None = None) -> pd.DataFrame:
    """The tidy table of molrg.edit_experiment.edit_experiment's `result`: one row per image, direction and
    strength with the columns above and strength_units, edit_norm (the EDM-space length of the edit),
    state_norm, rms, jacobian_gain, the classifier's labels (label_original, label_before, label_after:
    `labels` of molrg.edit_experiment.edit_labels, empty without a classifier) and its accuracy, sigma_edit,
    t_edit, the trained sigma range and whether the edit's sigma lies inside it, subspace_iters."""
    rows = []
    for b, image in enumerate(image_ids):
        scale, norm = result["scales"][b], result["state_norm"][b]
        before = None if labels is None else int(labels["before"][b])
        for i, (name, kind) in enumerate(zip(result["names"], result["kinds"])):
            for j, lam in enumerate(result["strengths"]):
                after = None if labels is None else int(labels["after"][b, i, j])
                rows.append({
                    "dataset": dataset, "image": image, "direction": name, "kind": kind, "strength": float(lam),
                    "strength_units": result["units"], "strength_fraction": float(lam) * scale / norm,
                    "edit_norm": abs(float(lam)) * scale, "state_norm": norm,
                    "l2_change": float(result["l2"][b, i, j]), "rms": float(result["rms"][b, i, j]),
                    "jacobian_gain": result["gains"][b][i],
                    "label_original": None if labels is None else int(labels["original"][b]),
                    "label_before": before, "label_after": after,
                    "changed": None if before is None else bool(after != before),
                    "classifier_heldout_accuracy": classifier_accuracy, "sigma_edit": result["sigma_edit"],
                    "t_edit": result["t_edit"], "sigma_train_lo": sigma_train[0], "sigma_train_hi": sigma_train[1],
                    "edit_inside_train": inside_train, "subspace_iters": result["iters"][b],
                })
    table = pd.DataFrame(rows)
    for col in ("label_original", "label_before", "label_after"):
        table[col] = table[col].astype("Int64")
    return table
