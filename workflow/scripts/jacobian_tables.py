"""Rule jacobian_tables: the tidy rank table of every dataset and noise, and Table 2 (d_intr at
the step of lowest mean rank and at the fixed sigma), spec §7."""
import re

import numpy as np
import pandas as pd

from molrg.jacobian import intrinsic_dimension
from molrg.provenance import save_table
from molrg.runtime import setup_logging

p = snakemake.params  # noqa: F821
log = setup_logging(snakemake.log[0], "jacobian_tables")  # noqa: F821

rows = []
for path in snakemake.input.npz:  # noqa: F821
    dataset, noise = re.search(r"jacobian/([^/]+)/noise(\d+)\.npz$", path).groups()
    with np.load(path) as z:
        n = int(z["n"])
        for step, sigma, rank in zip(z["steps"], z["sigma"], z["rank"]):
            rows.append({"dataset": dataset, "noise": int(noise), "noise_seed": int(z["noise_seed"]),
                         "step": int(step), "sigma": float(sigma), "rank": int(rank), "n": n,
                         "rank_ratio": int(rank) / n})
ranks = pd.DataFrame(rows).sort_values(["dataset", "noise", "step"], kind="stable").reset_index(drop=True)

table2 = []
for dataset in p.datasets:  # config order
    df = ranks[ranks.dataset == dataset]
    wide = df.pivot(index="noise", columns="step", values="rank")
    sig = df.groupby("step").sigma.first().loc[wide.columns]
    d = intrinsic_dimension(wide.columns.to_numpy(), sig.to_numpy(), wide.to_numpy(), p.fixed_sigma)
    table2.append({"dataset": dataset, "n": int(df.n.iloc[0]), **d, "num_noises": len(wide)})
    log.info("%s: %s", dataset, table2[-1])
table2 = pd.DataFrame(table2)

cfg = {"jacobian": dict(p.config)}
save_table(ranks, snakemake.output.ranks, cfg, seed=p.seed)  # noqa: F821
save_table(table2, snakemake.output.table2, cfg, seed=p.seed)  # noqa: F821
