"""molrg.runtime.job_context: the start of every script job (log file, threads, device)."""
from types import SimpleNamespace

import torch

from molrg import phase
from molrg.runtime import job_context


def test_job_context_opens_the_log_sets_threads_and_picks_the_device(tmp_path):
    log_path = tmp_path / "logs" / "job.log"
    smk = SimpleNamespace(log=[str(log_path)], threads=1, params=SimpleNamespace(device="cpu", seed=3))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        p, log, device = job_context(smk, "probe")
        log.info("hello from the job")
        assert p.seed == 3 and device == torch.device("cpu")
        assert torch.get_num_threads() == 1
        assert "hello from the job" in log_path.read_text()
    finally:
        torch.set_num_threads(before)


def test_dae_job_reads_the_grid_and_the_settings():
    data = {"n": 12, "noise_std": 0.05}
    dae = {"grid": {"d_min": 1, "d_max": 3, "d_step": 2, "N_k_min": 1, "N_k_max": 4, "N_k_step": 3, "trials": 2},
           "iterations": 5, "batch": 4, "lr": 0.1, "optimizer": "sgd", "lr_decay": 1.0, "schedule": "edm", "T": 10,
           "loss_weight": "none", "sigma_max": 0.1, "gradient": "riemannian", "gate": "soft"}
    grid, settings = phase.dae_job(data, dae, K=2)
    assert (grid.n, grid.K, grid.d_values, grid.Nk_values, grid.trials, grid.noise_std) == (12, 2, (1, 3), (1, 4), 2, 0.05)
    assert settings.train.iterations == 5 and settings.gate == "soft"
