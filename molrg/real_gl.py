"""Fig 4 right's tables: the scores table of the whole grid with each set's d_intr, and the fit table.
Each model's measurement is molrg.descriptors.descriptor_gl (rule realdata_gl_eval); this module
reads the results and needs no torch, so the table job starts without it (tests/test_layout.py).

`scores_table` puts one row per model beside its set's d_intr (molrg.intrinsic_dimension.select_d_intr, through
`choose_d_intr`), N / d_intr, both measurements of d_intr (the Jacobian rank and the Levina-Bickel
MLE) and the legend label of Fig 4 right."""
from __future__ import annotations

import textwrap

import pandas as pd

from .intrinsic_dimension import MLE, select_d_intr
from .table_values import csv_bool
from .sigmoid import fit_groups

SCORE_COLUMNS = ["dataset", "model", "N", "seed", "gl", "copy_rate", "nn_ratio", "d_intr", "d_intr_source",
                 "d_intr_reason", "N_over_d_intr", "d_intr_jacobian", "d_intr_jacobian_significant", "d_intr_mle"]
SOURCE_NAMES = {"table2": "Table 2", "jacobian": "Jacobian rank", "mle": "MLE"}


def choose_d_intr(datasets, gl: dict, mle: dict, mle_source: dict, table2=None, jacobian=None) -> dict:
    """d_intr of each of `datasets` from the configured source (config realdata.gl: d_intr_source,
    d_intr_column), else the fallback realdata.gl.d_intr, whose "mle" entries are the values of
    `mle` (from molrg.intrinsic_dimension.mle_fallbacks, labelled by `mle_source`). Returns select_d_intr's
    {dataset: {d_intr, d_intr_source, d_intr_reason}}."""
    names = set(datasets)
    fallback = {k: (mle[k] if v == MLE else float(v)) for k, v in gl["d_intr"].items() if k in names}
    fallback_source = {k: mle_source[k] for k, v in gl["d_intr"].items() if v == MLE and k in mle_source}
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
