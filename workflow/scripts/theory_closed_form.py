"""Closed-form phase-transition table of one K and method (rule theory_closed_form): PCA by SVD
(K = 1) or K-subspaces with spectral initialisation (K > 1) on every (d, N_k, trial) of the grid;
method closed_form_noiseless gets noise_std 0 from the rule."""
import time

from molrg import phase, provenance, runtime

p = snakemake.params  # noqa: F821 (injected by Snakemake)
K = int(snakemake.wildcards.K)  # noqa: F821
method = snakemake.wildcards.method  # noqa: F821
log = runtime.setup_logging(snakemake.log[0])  # noqa: F821
runtime.set_threads(snakemake.threads)  # noqa: F821

grid = phase.grid_from_config(p.closed_form["grid"], p.data["n"], K, p.data["noise_std"])
log.info("K=%d %s (noise_std %g): d %s, N_k %s, %d trials", K, method, grid.noise_std, grid.d_values, grid.Nk_values,
         grid.trials)
t0 = time.perf_counter()
df = phase.closed_form_grid(grid, p.seed, phase.scoring_from_config(p.data), phase.kss_from_config(p.closed_form),
                            method=method)
seconds = time.perf_counter() - t0
log.info("%s (%.1f s)", phase.summary(df), seconds)
provenance.save_table(
    df, snakemake.output.table,  # noqa: F821
    config_slice={"data": p.data, "closed_form": p.closed_form, "K": K, "method": method}, seed=p.seed,
)  # no timing in the sidecar: reruns must give byte-identical files
