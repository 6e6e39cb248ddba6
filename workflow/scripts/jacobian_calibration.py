"""Rule rank_rule_calibration: the rank rule of Eq. 51 (eta, Frobenius ratio) read on models of
known rank against the truth (molrg.jacobian.rank_rule_calibration): the closed-form MoLRG of the
ground-truth check (rank d where one component dominates, K d where the weights mix) and the U-Nets
trained on that data (jacobian_molrg_rank.csv), and the closed-form MoLRG of each real dataset at
its U-Net's trajectory states (jacobian_rank.csv; truth from realdata.molrg)."""
import pandas as pd

from molrg.jacobian import rank_rule_calibration
from molrg.provenance import save_table
from molrg.runtime import setup_logging

p = snakemake.params  # noqa: F821
log = setup_logging(snakemake.log[0], "jacobian_calibration")  # noqa: F821

check = pd.read_csv(snakemake.input.molrg)  # noqa: F821
check = check.assign(source="molrg_check", truth_d=check.d, truth_Kd=(check.K * check.d).clip(upper=check.n))
parts = [check]
real = pd.read_csv(snakemake.input.ranks)  # noqa: F821
real = real[real.model == "molrg"]
for dataset, g in real.groupby("dataset", sort=False):
    if dataset not in p.real_molrg:  # no configured MoLRG: no known rank
        continue
    K, d = int(p.real_molrg[dataset]["K"]), int(p.real_molrg[dataset]["d"])
    parts.append(g.assign(source=dataset, truth_d=d, truth_Kd=min(K * d, int(g.n.iloc[0]))))
cols = ["source", "model", "noise", "step", "sigma", "rank", "truth_d", "truth_Kd", "energy_top_d", "energy_top_Kd"]
tidy = pd.concat([df.reindex(columns=cols) for df in parts], ignore_index=True)
table = rank_rule_calibration(tidy)
for _, r in table[table.at_minimum].iterrows():
    log.info("%s %s: reading %.3g at sigma %.3g (minimum) against d = %g, K d = %g; energy in top K d %s",
             r.source, r.model, r.reading_mean, r.sigma, r.truth_d, r.truth_Kd, r.energy_top_Kd)
save_table(table, snakemake.output.table, {"jacobian": {"eta": p.eta}, "realdata": {"molrg": p.real_molrg}},  # noqa: F821
           seed=p.seed)
