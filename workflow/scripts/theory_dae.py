"""DAE phase-transition table of one K (rule theory_dae): Algorithm 1 (SGD over a time grid, loss
Eq. 5, Stiefel retraction) on the Eq. 11 (K = 1) or Eq. 15/16 / Eq. 7 (K > 1) DAE, every
(d, N_k, trial) of the grid trained at once as independent problems."""
import time

from molrg import phase, provenance, runtime

p, log, device = runtime.job_context(snakemake)  # noqa: F821 (injected by Snakemake)
K = int(snakemake.wildcards.K)  # noqa: F821
grid, settings = phase.dae_job(p.data, p.dae, K)
log.info("K=%d DAE on %s: d %s, N_k %s, %d trials; %s", K, device, grid.d_values, grid.Nk_values,
         grid.trials, settings)
t0 = time.perf_counter()
df = phase.dae_grid(grid, p.seed, settings, phase.scoring_from_config(p.data), phase.kss_from_config(p.spectral),
                    device=device)
seconds = time.perf_counter() - t0
log.info("%s (%.1f s)", phase.summary(df), seconds)
provenance.save_table(
    df, snakemake.output.table,  # noqa: F821
    config_slice={"data": p.data, "dae": p.dae, "spectral": p.spectral, "K": K}, seed=p.seed, device=device,
)  # no timing in the sidecar: reruns must give byte-identical files
