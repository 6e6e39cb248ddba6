"""Fig 4 right's data (rule realdata_gl_table): the GL score of every real-data model with its
N / d_intr, copy rate and NN ratio (issue #9 evidence), and the sigmoid fits (Eq. 47) of GL against
N / d_intr and against N, pooled over the datasets (scope = all) and per dataset, on the U-Net rows
only (model = unet; the empirical-optimal denoiser's rows are a baseline, never fitted).
d_intr comes from the configured source (the Jacobian rank of each set's largest-N GL U-Net where its
minimum is significant, or Table 2 where its row is valid) else from the fallback (e.g. the MLE); the
table records the source and the reason (molrg.gl_grid.select_d_intr), with the Jacobian value and the
MLE of every set beside it."""
import json
import textwrap

import pandas as pd

import numpy as np

from molrg.intrinsic_dimension import mle_fallbacks, select_d_intr
from molrg.provenance import save_table
from molrg.runtime import setup_logging
from molrg.sigmoid import fit_report, resolve_plateau
from molrg.table_values import csv_bool

log = setup_logging(snakemake.log[0], "realdata_gl_table")
p = snakemake.params
gl, fit = p.gl, p.fit
rows = []
for path in list(snakemake.input.gl) + list(getattr(snakemake.input, "empirical", [])):
    with open(path) as f:
        rows.append({k: v for k, v in json.load(f).items() if k != "external_files"})
df = pd.DataFrame(rows)
if "train_iterations" in df:  # the empirical-optimal denoiser is not trained: 0 steps, never NaN
    df["train_iterations"] = df["train_iterations"].fillna(0).astype(int)

table2 = pd.read_csv(snakemake.input.table2) if hasattr(snakemake.input, "table2") else None
train = dict(zip(p.datasets, snakemake.input.mle_train))
jacobian = {}
for name, path in zip(p.datasets, getattr(snakemake.input, "jacobian", [])):
    with open(path) as f:
        jacobian[name] = json.load(f)
# every set's MLE (reported beside the d_intr used; the "mle" fallbacks are these values)
mle, mle_source = mle_fallbacks({name: "mle" for name in p.datasets}, lambda name: np.load(train[name])["x"])
fallback = {k: (mle[k] if v == "mle" else float(v)) for k, v in gl["d_intr"].items() if k in set(df.dataset)}
fallback_source = {k: mle_source[k] for k, v in gl["d_intr"].items() if v == "mle" and k in mle_source}
chosen = select_d_intr(sorted(df.dataset.unique()), gl["d_intr_source"], fallback, table2, gl["d_intr_column"],
                       fallback_source, jacobian)
for name, c in chosen.items():
    log.info("%s: d_intr = %g from %s%s", name, c["d_intr"], c["d_intr_source"],
             f" ({c['d_intr_reason']})" if c["d_intr_reason"] else "")
for key in ("d_intr", "d_intr_source", "d_intr_reason"):
    df[key] = df.dataset.map({n: c[key] for n, c in chosen.items()})
df["N_over_d_intr"] = df.N / df.d_intr
# both measurements of every set beside the one used: the Jacobian rank of its largest-N GL U-Net (and whether
# its minimum is significant) and the Levina-Bickel MLE of its training images
if table2 is not None and {"dataset", gl["d_intr_column"], "valid"} <= set(table2.columns):  # Table 2's Jacobian
    jacobian = {str(r["dataset"]): {"d_intr": float(r[gl["d_intr_column"]]), "significant": csv_bool(r["valid"]),
                                    "reason": r["reason"] if isinstance(r.get("reason"), str) else "",
                                    "sigma_min": float("nan"), "N": None}
                for _, r in table2.iterrows() if str(r["dataset"]) in set(df.dataset)}
df["d_intr_jacobian"] = df.dataset.map({n: j["d_intr"] for n, j in jacobian.items()})
df["d_intr_jacobian_significant"] = df.dataset.map({n: bool(j["significant"]) for n, j in jacobian.items()})
df["d_intr_mle"] = df.dataset.map(mle)


def label(name):
    """Legend text of a dataset in Fig 4 right: its d_intr and where it came from (and why)."""
    c = chosen[name]
    src = c["d_intr_source"].split(":")[0]
    src = {"table2": "Table 2", "jacobian": "Jacobian rank", "mle": "MLE"}.get(src, "config")
    short = c["d_intr_reason"].split(":")[0]  # the table's d_intr_reason has the whole story
    why = "\n  " + textwrap.fill(short, 48, subsequent_indent="  ") if short else ""
    return f"{name} (d_intr = {c['d_intr']:.3g}, {src}; MLE {mle[name]:.3g}){why}"


df["dataset_label"] = df.dataset.map(label)
lead = ["dataset", "model", "N", "seed", "gl", "copy_rate", "nn_ratio", "d_intr", "d_intr_source", "d_intr_reason",
        "N_over_d_intr", "d_intr_jacobian", "d_intr_jacobian_significant", "d_intr_mle"]
df = df[lead + [c for c in df.columns if c not in lead]]
df = df.sort_values(["dataset", "model", "N", "seed"], kind="stable").reset_index(drop=True)
extra = {"descriptor": p.descriptor_kind, "d_intr": chosen, "d_intr_mle": mle,
         "d_intr_jacobian": {n: {k: j[k] for k in ("d_intr", "significant", "reason", "sigma_min", "N")}
                             for n, j in jacobian.items()}}
save_table(df, snakemake.output.scores, p.config_slice, seed=p.seed, extra=extra)

# plateau 'eps': a model whose samples are as novel as held-out real images scores GL = gl.quantile
# (the calibrated threshold's construction), the analogue of 1 - eps_quantile for MoLRG
plateau = resolve_plateau(fit["plateau"], 1.0 - gl["quantile"])
unet = df[df.model == "unet"]
fits = []
groups = [("all", unet)] + [(name, g) for name, g in unet.groupby("dataset", sort=True)]
for scope, g in groups:
    base = {"scope": scope, "model": "unet", "descriptor": p.descriptor_kind,
            "d_intr_source": ";".join(sorted({chosen[n]["d_intr_source"] for n in g.dataset.unique()}))}
    for x_name in ("N_over_d_intr", "N"):
        try:
            r = fit_report(g[x_name].to_numpy(), g.gl.to_numpy(), x_name, fit["threshold"], fit["n_boot"], fit["ci"],
                           seed=p.seed, plateau=plateau, fraction=fit["fraction"], max_iter=fit["max_iter"])
            fits.append({**base, **r})
        except (RuntimeError, ValueError) as e:  # too few or degenerate points: keep a row that says so
            fits.append({**base, "x_variable": x_name, "status": f"failed: {e}"})
save_table(pd.DataFrame(fits), snakemake.output.fit, p.config_slice, seed=p.seed, extra=extra)
log.info("%d models (%d U-Nets) -> %s, %d fits -> %s", len(df), len(unet), snakemake.output.scores, len(fits),
         snakemake.output.fit)
