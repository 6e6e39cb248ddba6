"""Random-restart DAE tables of one K > 1 (rule theory_dae_restarts): Algorithm 1 from R random Haar
starts per (d, N_k, trial) problem, all in one batch; dae_restarts keeps the run with the lowest
training objective (no access to the truth), dae_random is run 0 alone (a single random start)."""
import time

from molrg import phase, provenance, runtime

p = snakemake.params  # noqa: F821 (injected by Snakemake)
K = int(snakemake.wildcards.K)  # noqa: F821
log = runtime.setup_logging(snakemake.log[0])  # noqa: F821
runtime.set_threads(snakemake.threads)  # noqa: F821
device = runtime.select_device(p.device)

grid = phase.grid_from_config(p.dae["grid"], p.data["n"], K, p.data["noise_std"])
settings = phase.dae_from_config(p.dae)
R = int(p.dae["count"])
log.info("K=%d DAE, %d random restarts, on %s: d %s, N_k %s, %d trials; %s", K, R, device, grid.d_values,
         grid.Nk_values, grid.trials, settings.train)
t0 = time.perf_counter()
best, first = phase.dae_restarts_grid(grid, p.seed, R, settings, phase.scoring_from_config(p.data), device=device)
seconds = time.perf_counter() - t0
log.info("dae_restarts: %s (%.1f s)", phase.summary(best), seconds)
log.info("dae_random: %s", phase.summary(first))
for df, path in ((best, snakemake.output.restarts), (first, snakemake.output.random)):  # noqa: F821
    provenance.save_table(
        df, path, config_slice={"data": p.data, "dae": p.dae, "K": K}, seed=p.seed, device=device,
    )  # no timing in the sidecar: reruns must give byte-identical files
