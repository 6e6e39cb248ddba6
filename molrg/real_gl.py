"""Fig 4 right's measurements: the GL score (Eq. 21) and memorisation evidence of one real-data model
in a descriptor's feature space, and the scores table of the whole grid with each set's d_intr.

`descriptor_gl` embeds the generated samples, the model's training subset and the held-out real
images, sets the copy threshold (fixed, or calibrated like Eq. 46 on held-out images) and counts the
generated samples that are not copies; the memorisation evidence (molrg.gl.memorization_stats) uses
the same features: copy rate (samples closer to a training image than copy_fraction x the median
held-out NN distance) and NN ratio (median NN distance of the samples / of the held-out images).

`scores_table` puts one row per model beside its set's d_intr (molrg.intrinsic_dimension.select_d_intr, through
`choose_d_intr`), N / d_intr, both measurements of d_intr (the Jacobian rank and the Levina-Bickel
MLE) and the legend label of Fig 4 right."""
from __future__ import annotations

import textwrap

import pandas as pd

from .descriptors import calibrate_threshold, embed, gl_from_features
from .gl import COPY_FRACTION, memorization_stats
from .intrinsic_dimension import select_d_intr
from .table_values import csv_bool
from .sigmoid import fit_groups

SCORE_COLUMNS = ["dataset", "model", "N", "seed", "gl", "copy_rate", "nn_ratio", "d_intr", "d_intr_source",
                 "d_intr_reason", "N_over_d_intr", "d_intr_jacobian", "d_intr_jacobian_significant", "d_intr_mle"]
SOURCE_NAMES = {"table2": "Table 2", "jacobian": "Jacobian rank", "mle": "MLE"}


def descriptor_gl(descriptor, generated, train_subset, train, heldout, *, threshold=None,
                  calibration: str = "per_subset", eps_quantile: float = 0.05,
                  copy_fraction: float = COPY_FRACTION, descriptor_kind: str = "", device="cpu") -> tuple[dict, dict]:
    """GL and memorisation evidence of one model's samples (B, C, H, W) in [-1, 1] against its
    training subset, with held-out real images as the fresh samples.

    threshold: a fixed similarity threshold, or None: calibrated as the (1 - eps_quantile) quantile of the held-out
    images' max-similarity to the training subset (calibration 'per_subset') or to the whole
    training set `train` (otherwise). Returns (record, nn): the record's fields in table order (gl,
    copy_rate, nn_ratio, copy_threshold, copy_fraction, heldout_copy_rate, median NN distances,
    threshold, threshold_rule, descriptor, num_samples, max_sim_mean, max_sim_median, heldout_gl)
    and each sample's nearest training image (nn_idx, nn_dist) with copy_threshold, copy_rate, gl,
    nn_ratio, for the memorisation figure."""
    f_gen, f_sub = embed(descriptor, generated, device=device), embed(descriptor, train_subset, device=device)
    f_held = embed(descriptor, heldout, device=device)
    if threshold is not None:
        threshold, how = float(threshold), "fixed"
    else:
        ref = f_sub if calibration == "per_subset" else embed(descriptor, train, device=device)
        threshold = calibrate_threshold(f_held, ref, 1 - eps_quantile)
        ref_name = "this U-Net's training subset" if calibration == "per_subset" else "whole training set"
        how = f"calibrated: {1 - eps_quantile:.2f}-quantile of held-out max-similarity to the {ref_name}"
    score, sims = gl_from_features(f_gen, f_sub, threshold)
    # the same count for the held-out real images: about `1 - eps_quantile` when calibrated per subset
    held_score = gl_from_features(f_held, f_sub, threshold)[0]
    # memorisation evidence in descriptor space (unit vectors, L2), fresh samples = held-out real images
    mem = memorization_stats(f_gen, f_sub, f_held, copy_fraction=copy_fraction)
    record = {"gl": score, "copy_rate": mem["copy_rate"], "nn_ratio": mem["nn_ratio"],
              "copy_threshold": mem["copy_threshold"], "copy_fraction": copy_fraction,
              "heldout_copy_rate": mem["fresh_copy_rate"], "median_nn_dist_generated": mem["median_nn_dist_generated"],
              "median_nn_dist_heldout": mem["median_nn_dist_fresh"], "threshold": threshold, "threshold_rule": how,
              "descriptor": descriptor_kind, "num_samples": int(len(generated)), "max_sim_mean": float(sims.mean()),
              "max_sim_median": float(sims.median()), "heldout_gl": held_score}
    nn = {"nn_idx": mem["nn_idx"].numpy().astype("int64"), "nn_dist": mem["nn_dist"].numpy().astype("float64"),
          "copy_threshold": mem["copy_threshold"], "copy_rate": mem["copy_rate"], "gl": score,
          "nn_ratio": mem["nn_ratio"]}
    return record, nn


def choose_d_intr(datasets, gl: dict, mle: dict, mle_source: dict, table2=None, jacobian=None) -> dict:
    """d_intr of each of `datasets` from the configured source (config realdata.gl: d_intr_source,
    d_intr_column), else the fallback realdata.gl.d_intr, whose "mle" entries are the values of
    `mle` (from molrg.intrinsic_dimension.mle_fallbacks, labelled by `mle_source`). Returns select_d_intr's
    {dataset: {d_intr, d_intr_source, d_intr_reason}}."""
    names = set(datasets)
    fallback = {k: (mle[k] if v == "mle" else float(v)) for k, v in gl["d_intr"].items() if k in names}
    fallback_source = {k: mle_source[k] for k, v in gl["d_intr"].items() if v == "mle" and k in mle_source}
    return select_d_intr(sorted(names), gl["d_intr_source"], fallback, table2, gl["d_intr_column"],
                         fallback_source, jacobian)


def reported_jacobian(jacobian: dict, table2, column: str, datasets) -> dict:
    """The Jacobian measurement of d_intr shown beside each set's d_intr: Table 2's row (its `column`
    and `valid`) where Table 2 has them, else the set's own GL U-Net's (`jacobian`)."""
    if table2 is None or not {"dataset", column, "valid"} <= set(table2.columns):
        return jacobian
    return {str(r["dataset"]): {"d_intr": float(r[column]), "significant": csv_bool(r["valid"]),
                                "reason": r["reason"] if isinstance(r.get("reason"), str) else "",
                                "sigma_min": float("nan"), "N": None}
            for _, r in table2.iterrows() if str(r["dataset"]) in set(datasets)}


def dataset_label(name: str, chosen: dict, mle: float) -> str:
    """Legend text of a dataset in Fig 4 right: its d_intr and where it came from (and why)."""
    src = SOURCE_NAMES.get(chosen["d_intr_source"].split(":")[0], "config")
    short = chosen["d_intr_reason"].split(":")[0]  # the table's d_intr_reason has the whole story
    why = "\n  " + textwrap.fill(short, 48, subsequent_indent="  ") if short else ""
    return f"{name} (d_intr = {chosen['d_intr']:.3g}, {src}; MLE {mle:.3g}){why}"


def scores_table(records: list[dict], chosen: dict, mle: dict, jacobian: dict) -> pd.DataFrame:
    """One row per model (records: the evaluation records, with dataset, model, N, seed, gl, ...):
    the SCORE_COLUMNS first (d_intr, its source and reason from `chosen`, N / d_intr, the Jacobian
    rank and its significance from `jacobian`, the MLE), then the records' other fields and the
    legend label; sorted by dataset, model, N, seed. The empirical-optimal denoiser is not trained:
    its train_iterations are 0."""
    df = pd.DataFrame(records)
    if "train_iterations" in df:
        df["train_iterations"] = df["train_iterations"].fillna(0).astype(int)
    for key in ("d_intr", "d_intr_source", "d_intr_reason"):
        df[key] = df.dataset.map({n: c[key] for n, c in chosen.items()})
    df["N_over_d_intr"] = df.N / df.d_intr
    df["d_intr_jacobian"] = df.dataset.map({n: j["d_intr"] for n, j in jacobian.items()})
    df["d_intr_jacobian_significant"] = df.dataset.map({n: bool(j["significant"]) for n, j in jacobian.items()})
    df["d_intr_mle"] = df.dataset.map(mle)
    df["dataset_label"] = df.dataset.map(lambda n: dataset_label(n, chosen[n], mle[n]))
    df = df[SCORE_COLUMNS + [c for c in df.columns if c not in SCORE_COLUMNS]]
    return df.sort_values(["dataset", "model", "N", "seed"], kind="stable").reset_index(drop=True)


def fit_table(scores: pd.DataFrame, chosen: dict, descriptor_kind: str, **fit) -> pd.DataFrame:
    """The sigmoid fits (Eq. 47) of GL against N / d_intr and against N on the U-Net rows of the
    scores table (model = unet; the empirical-optimal denoiser is a baseline, never fitted), pooled
    over the sets (scope 'all') and per set (molrg.sigmoid.fit_groups, `fit` its fit settings),
    each row with model, descriptor and the d_intr sources of its sets."""
    unet = scores[scores.model == "unet"]
    fits = fit_groups(unet, ["N_over_d_intr", "N"], "gl", "dataset", **fit)
    source = {"all": ";".join(sorted({chosen[n]["d_intr_source"] for n in unet.dataset.unique()})),
              **{str(n): c["d_intr_source"] for n, c in chosen.items()}}
    fits.insert(1, "model", "unet")
    fits.insert(2, "descriptor", descriptor_kind)
    fits.insert(3, "d_intr_source", fits.scope.map(source))
    return fits
