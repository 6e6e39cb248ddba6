"""Rule jacobian_tables: the tidy rank table of every dataset, noise and model (the U-Net and the
closed-form Gaussian / MoLRG of the same data at the same states), and Table 2 (d_intr at the
measured minimum of the mean U-Net rank curve with its uncertainty over the noises, and at the fixed
sigma, spec §7): `valid` is the U-shape's significance (molrg.jacobian.u_shape_test); where the
minimum sits relative to the training noise distribution is reported beside it."""
import json
import re

import numpy as np
import pandas as pd

from molrg.jacobian import table2_row, u_shape_test
from molrg.provenance import save_table
from molrg.runtime import derive_seed, setup_logging

p = snakemake.params  # noqa: F821
log = setup_logging(snakemake.log[0], "jacobian_tables")  # noqa: F821

rows, train_configs = [], {}
for path in snakemake.input.npz:  # noqa: F821
    dataset, noise = re.search(r"jacobian/([^/]+)/noise(\d+)\.npz$", path).groups()
    with np.load(path) as z:
        n = int(z["n"])
        models = {"unet": z["rank"], **{m: z[f"rank_{m}"] for m in p.closed_form_models if f"rank_{m}" in z}}
        missing = [m for m in p.closed_form_models if m not in models]
        if missing:
            raise ValueError(f"{path} has no ranks of {missing} (jacobian.closed_form_models): rerun rule jacobian_rank")
        train_configs.setdefault(dataset, json.loads(str(z["train_config"])))
        for model, ranks in models.items():
            for step, sigma, rank in zip(z["steps"], z["sigma"], ranks):
                rows.append({"dataset": dataset, "model": model, "noise": int(noise), "noise_seed": int(z["noise_seed"]),
                             "step": int(step), "sigma": float(sigma), "rank": int(rank), "n": n,
                             "rank_ratio": int(rank) / n})
order = {m: i for i, m in enumerate(["unet", *p.closed_form_models])}
ranks = pd.DataFrame(rows)
ranks = (ranks.assign(_m=ranks.model.map(order)).sort_values(["dataset", "_m", "noise", "step"], kind="stable")
         .drop(columns="_m").reset_index(drop=True))

table2 = []
for dataset in p.datasets:  # config order
    df = ranks[(ranks.dataset == dataset) & (ranks.model == "unet")]
    wide = df.pivot(index="noise", columns="step", values="rank")
    sig = df.groupby("step").sigma.first().loc[wide.columns]
    row = table2_row(dataset, int(df.n.iloc[0]), wide.columns.to_numpy(), sig.to_numpy(), wide.to_numpy(),
                     p.fixed_sigma, train_configs[dataset], p.train_sigma_mass,
                     seed=derive_seed(p.seed, "jacobian_u_boot", dataset))
    # the closed-form models at the same states: their mean rank at the same two steps and their own
    # curve's shape by the same test (what models of the data itself give)
    for m in p.closed_form_models:
        cfw = ranks[(ranks.dataset == dataset) & (ranks.model == m)].pivot(index="noise", columns="step", values="rank")
        cf = cfw.mean(axis=0)
        row[f"{m}_rank_at_min"] = float(cf.loc[row["step_min"]])
        row[f"{m}_rank_at_fixed"] = float(cf.loc[row["step_fixed"]])
        u = u_shape_test(sig.loc[cfw.columns].to_numpy(), cfw.to_numpy(),
                         seed=derive_seed(p.seed, "jacobian_u_boot", dataset, m))
        row[f"{m}_sigma_min"], row[f"{m}_u_shaped"] = u["sigma_min"], u["u_shaped"]
    table2.append(row)
    log.info("%s: %s", dataset, row)
table2 = pd.DataFrame(table2)

save_table(ranks, snakemake.output.ranks, p.config_slice, seed=p.seed)  # noqa: F821
save_table(table2, snakemake.output.table2, p.config_slice, seed=p.seed)  # noqa: F821
