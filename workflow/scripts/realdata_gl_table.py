"""Fig 4 right's data (rule realdata_gl_table): the GL score of every real-data model with its
N / d_intr, copy rate and NN ratio, and the sigmoid fits (Eq. 47) of GL against N / d_intr and
against N, pooled over the datasets (scope = all) and per dataset, on the U-Net rows only
(molrg.real_gl). d_intr comes from the configured source (the Jacobian rank of each set's largest-N
GL U-Net where its minimum is significant, or Table 2 where its row is valid) else from the fallback
(e.g. the MLE); the table records the source and the reason (molrg.intrinsic_dimension.select_d_intr), with the
Jacobian value and the MLE of every set beside it."""
import json

import numpy as np
import pandas as pd

from molrg.intrinsic_dimension import mle_fallbacks
from molrg.provenance import save_table
from molrg.real_gl import choose_d_intr, fit_table, reported_jacobian, scores_table
from molrg.runtime import setup_logging
from molrg.sigmoid import resolve_plateau

log = setup_logging(snakemake.log[0], "realdata_gl_table")
p = snakemake.params
gl, fit = p.gl, p.fit
records = []
for path in list(snakemake.input.gl) + list(getattr(snakemake.input, "empirical", [])):
    with open(path) as f:
        records.append({k: v for k, v in json.load(f).items() if k != "external_files"})
table2 = pd.read_csv(snakemake.input.table2) if hasattr(snakemake.input, "table2") else None
train = dict(zip(p.datasets, snakemake.input.mle_train))
jacobian = {}
for name, path in zip(p.datasets, getattr(snakemake.input, "jacobian", [])):
    with open(path) as f:
        jacobian[name] = json.load(f)
# every set's MLE (reported beside the d_intr used; the "mle" fallbacks are these values)
mle, mle_source = mle_fallbacks({name: "mle" for name in p.datasets}, lambda name: np.load(train[name])["x"])
datasets = {r["dataset"] for r in records}
chosen = choose_d_intr(datasets, gl, mle, mle_source, table2, jacobian)
for name, c in chosen.items():
    log.info("%s: d_intr = %g from %s%s", name, c["d_intr"], c["d_intr_source"],
             f" ({c['d_intr_reason']})" if c["d_intr_reason"] else "")
jacobian = reported_jacobian(jacobian, table2, gl["d_intr_column"], datasets)
df = scores_table(records, chosen, mle, jacobian)
extra = {"descriptor": p.descriptor_kind, "d_intr": chosen, "d_intr_mle": mle,
         "d_intr_jacobian": {n: {k: j[k] for k in ("d_intr", "significant", "reason", "sigma_min", "N")}
                             for n, j in jacobian.items()}}
save_table(df, snakemake.output.scores, p.config_slice, seed=p.seed, extra=extra)

# plateau 'eps': a model whose samples are as novel as held-out real images scores GL = 1 - gl.eps_quantile
# (the calibrated threshold's construction)
plateau = resolve_plateau(fit["plateau"], gl["eps_quantile"])
fits = fit_table(df, chosen, p.descriptor_kind, threshold=fit["threshold"], n_boot=fit["n_boot"], ci=fit["ci"],
                 seed=p.seed, plateau=plateau, fraction=fit["fraction"], max_iter=fit["max_iter"])
save_table(fits, snakemake.output.fit, p.config_slice, seed=p.seed, extra=extra)
log.info("%d models -> %s, %d fits -> %s", len(df), snakemake.output.scores, len(fits), snakemake.output.fit)
