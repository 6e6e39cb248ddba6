"""DAE phase-transition table of one K (rule theory_dae): Algorithm 1 (SGD over a time grid, loss
Eq. 5, Stiefel retraction) on the Eq. 11 (K = 1) or Eq. 15/16 / Eq. 7 (K > 1) DAE, every
(d, N_k, trial) of the grid trained at once as independent problems."""
import time

from molrg import phase, provenance, runtime

p = snakemake.params  # noqa: F821 (injected by Snakemake)
K = int(snakemake.wildcards.K)  # noqa: F821
log = runtime.setup_logging(snakemake.log[0])  # noqa: F821
runtime.set_threads(snakemake.threads)  # noqa: F821
device = runtime.select_device(p.device)

grid = phase.grid_from_config(p.dae["grid"], p.data["n"], K, p.data["noise_std"])
settings = phase.dae_from_config(p.dae)
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
