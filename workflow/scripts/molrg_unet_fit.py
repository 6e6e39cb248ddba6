"""Sigmoid fits of GL (Eq. 47) against N/d_intr and against N (rule molrg_unet_sigmoid_fit):
over all cells (scope 'all', the figure's dashed curve) and per d_intr. Only the trained U-Nets
are fitted (rows with model = empirical_optimal, the memorising baseline, are left out). The
plateau is fitted, or fixed (config fit.plateau: a number, or 'eps' = 1 - eps_quantile of the GL
table); N*/d_intr is where f reaches fit.fraction x plateau. Groups that cannot be fitted keep a
row whose status says why."""
import pandas as pd

from molrg.provenance import save_table
from molrg.runtime import derive_seed, setup_logging
from molrg.sigmoid import fit_report, resolve_plateau

p = snakemake.params
log = setup_logging(snakemake.log[0])
df = pd.read_csv(snakemake.input.table)
if "model" in df.columns:
    df = df[df.model == "unet"]
fit = p.fit
seed = derive_seed(p.seed, "molrg_unet_fit")  # the bootstrap's
eps_q = None
if fit.get("plateau", "fit") == "eps":
    qs = df["eps_quantile"].unique() if "eps_quantile" in df.columns else []
    if len(qs) != 1:
        raise ValueError(f"fit.plateau: eps needs one eps_quantile in {snakemake.input.table}, found {list(qs)}")
    eps_q = float(qs[0])
plateau = resolve_plateau(fit.get("plateau", "fit"), eps_q)
rows = []
groups = [("all", df)] + [(f"d_intr={k}", g) for k, g in df.groupby("d_intr", sort=True)]
for scope, g in groups:
    for x_name in ("N_over_d_intr", "N"):
        base = {"scope": scope, "x_variable": x_name}
        if g[x_name].nunique() < 2:
            rows.append({**base, "status": "skipped: fewer than 2 distinct x"})
            continue
        try:
            r = fit_report(g[x_name].to_numpy(), g.gl.to_numpy(), x_name, fit["threshold"], fit["n_boot"],
                           fit["ci"], seed=seed, plateau=plateau, fraction=fit.get("fraction"),
                           max_iter=fit.get("max_iter", 100))
            rows.append({**base, **r})
        except (RuntimeError, ValueError) as e:
            rows.append({**base, "status": f"failed: {e}"})
        log.info("%s vs %s: %s", scope, x_name, rows[-1])
save_table(pd.DataFrame(rows), snakemake.output.fit, dict(fit), seed=p.seed)
