"""Rule jacobian_tables: the tidy rank table of every dataset, noise and model (the U-Net and the
closed-form Gaussian / MoLRG of the same data at the same states), and Table 2 (d_intr at the step
of lowest mean U-Net rank and at the fixed sigma, spec §7) with its validity check (issue #9): an
interior minimum inside the sigma range the U-Net was trained on."""
import json
import re

import numpy as np
import pandas as pd

from molrg.jacobian import intrinsic_dimension, minimum_validity, trained_sigma_range
from molrg.provenance import save_table
from molrg.runtime import setup_logging

p = snakemake.params  # noqa: F821
log = setup_logging(snakemake.log[0], "jacobian_tables")  # noqa: F821

rows, train_ranges = [], {}
for path in snakemake.input.npz:  # noqa: F821
    dataset, noise = re.search(r"jacobian/([^/]+)/noise(\d+)\.npz$", path).groups()
    with np.load(path) as z:
        n = int(z["n"])
        models = {"unet": z["rank"], **{m: z[f"rank_{m}"] for m in p.closed_form_models if f"rank_{m}" in z}}
        missing = [m for m in p.closed_form_models if m not in models]
        if missing:
            raise ValueError(f"{path} has no ranks of {missing} (jacobian.closed_form_models): rerun rule jacobian_rank")
        train_ranges.setdefault(dataset, trained_sigma_range(json.loads(str(z["train_config"])), p.train_sigma_mass))
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
    d = intrinsic_dimension(wide.columns.to_numpy(), sig.to_numpy(), wide.to_numpy(), p.fixed_sigma)
    lo, hi = train_ranges[dataset]
    check = minimum_validity(sig.to_numpy(), wide.mean(axis=0).to_numpy(), lo, hi)
    row = {"dataset": dataset, "n": int(df.n.iloc[0]), **d, "num_noises": len(wide),
           "interior_minimum": check["interior_minimum"], "sigma_train_lo": lo, "sigma_train_hi": hi,
           "valid": check["valid"], "reason": check["reason"],
           "fixed_inside_train": bool(lo <= d["sigma_fixed"] <= hi)}
    # the closed-form models' mean rank at the same two steps (what the data's own models give)
    for m in p.closed_form_models:
        cf = ranks[(ranks.dataset == dataset) & (ranks.model == m)].groupby("step")["rank"].mean()
        row[f"{m}_rank_at_min"] = float(cf.loc[d["step_min"]])
        row[f"{m}_rank_at_fixed"] = float(cf.loc[d["step_fixed"]])
    table2.append(row)
    log.info("%s: %s", dataset, row)
table2 = pd.DataFrame(table2)

cfg = {"jacobian": dict(p.config)}
save_table(ranks, snakemake.output.ranks, cfg, seed=p.seed)  # noqa: F821
save_table(table2, snakemake.output.table2, cfg, seed=p.seed)  # noqa: F821
