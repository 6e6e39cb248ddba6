"""Fig 4 right's data (rule realdata_gl_table): the GL score of every real-data U-Net with its
N / d_intr, and the sigmoid fits (Eq. 47) of GL against N / d_intr and against N, pooled over the
datasets and per dataset. d_intr comes from Table 2 (issue #5) or from the config."""
import json

import numpy as np
import pandas as pd

from molrg.provenance import save_table
from molrg.sigmoid import fit_report

p = snakemake.params
gl = p.gl
rows = []
for path in snakemake.input.gl:
    with open(path) as f:
        rows.append({k: v for k, v in json.load(f).items() if k != "external_files"})
df = pd.DataFrame(rows)

if gl["d_intr_source"] == "table2":
    t2 = pd.read_csv(snakemake.input.table2).set_index("dataset")
    missing = sorted(set(df.dataset) - set(t2.index))
    if missing:
        raise ValueError(f"{snakemake.input.table2} has no row for {missing}; add them to jacobian.datasets "
                         "or set realdata.gl.d_intr_source: config")
    d_intr = {name: float(t2.loc[name, gl["d_intr_column"]]) for name in df.dataset.unique()}
    d_source = f"table2:{gl['d_intr_column']}"
else:
    d_intr = {name: float(gl["d_intr"][name]) for name in df.dataset.unique()}
    d_source = "config:realdata.gl.d_intr"
df["d_intr"] = df.dataset.map(d_intr)
df["d_intr_source"] = d_source
df["N_over_d_intr"] = df.N / df.d_intr
df = df.sort_values(["dataset", "N", "seed"], kind="stable").reset_index(drop=True)
extra = {"descriptor": p.descriptor_kind, "d_intr_source": d_source}
save_table(df, snakemake.output.scores, p.config_slice, seed=p.seed, extra=extra)

fits = []
groups = [("all", df)] + [(name, g) for name, g in df.groupby("dataset", sort=True)]
for scope, g in groups:
    for x_name in ("N_over_d_intr", "N"):
        base = {"scope": scope, "descriptor": p.descriptor_kind, "d_intr_source": d_source}
        if g[x_name].nunique() < 2:
            fits.append({**base, "x_variable": x_name, "status": "skipped: fewer than 2 distinct x"})
            continue
        try:
            r = fit_report(g[x_name].to_numpy(), g.gl.to_numpy(), x_name, p.fit["threshold"], p.fit["n_boot"],
                           p.fit["ci"], seed=p.seed)
            fits.append({**base, **r, "status": "ok"})
        except (RuntimeError, ValueError) as e:  # too few or degenerate points: keep a row that says so
            fits.append({**base, "x_variable": x_name, "status": f"failed: {e}"})
save_table(pd.DataFrame(fits), snakemake.output.fit, p.config_slice, seed=p.seed, extra=extra)
