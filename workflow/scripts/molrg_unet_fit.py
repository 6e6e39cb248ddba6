"""Sigmoid fits of GL (Eq. 47) against N/d_intr and against N (rule molrg_unet_sigmoid_fit):
over all cells (scope 'all', the figure's dashed curve) and per d_intr. Only the trained U-Nets
are fitted (rows with model = empirical_optimal, the memorising baseline, are left out). The
plateau is fitted, or fixed (config fit.plateau: a number, or 'eps' = 1 - eps_quantile of the GL
table); N*/d_intr is where f reaches fit.fraction x plateau. Groups that cannot be fitted keep a
row whose status says why (molrg.sigmoid.fit_groups)."""
import pandas as pd

from molrg.provenance import save_table
from molrg.runtime import derive_seed, setup_logging
from molrg.sigmoid import fit_groups, resolve_plateau

p = snakemake.params
log = setup_logging(snakemake.log[0])
df = pd.read_csv(snakemake.input.table)
df = df[df.model == "unet"]
fit = p.fit
seed = derive_seed(p.seed, "molrg_unet_fit")  # the bootstrap's
eps_q = None
if fit.get("plateau", "fit") == "eps":
    qs = df["eps_quantile"].unique()
    if len(qs) != 1:
        raise ValueError(f"fit.plateau: eps needs one eps_quantile in {snakemake.input.table}, found {list(qs)}")
    eps_q = float(qs[0])
plateau = resolve_plateau(fit.get("plateau", "fit"), eps_q)
fits = fit_groups(df, ["N_over_d_intr", "N"], "gl", "d_intr", label=lambda k: f"d_intr={k}",
                  threshold=fit["threshold"], n_boot=fit["n_boot"], ci=fit["ci"], seed=seed, plateau=plateau,
                  fraction=fit.get("fraction"), max_iter=fit.get("max_iter", 100))
log.info("fits:\n%s", fits.to_string())
save_table(fits, snakemake.output.fit, dict(fit), seed=p.seed)
