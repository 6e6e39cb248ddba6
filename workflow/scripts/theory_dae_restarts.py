"""Random-restart DAE tables of one K > 1 (rule theory_dae_restarts): Algorithm 1 from R random Haar
starts per (d, N_k, trial) problem, all in one batch; dae_restarts keeps the run with the lowest
training objective (no access to the truth), dae_random is run 0 alone (a single random start)."""
import time

from molrg import phase, provenance, runtime

p, log, device = runtime.job_context(snakemake)  # noqa: F821 (injected by Snakemake)
K = int(snakemake.wildcards.K)  # noqa: F821
grid, settings = phase.dae_job(p.data, p.dae, K)
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
