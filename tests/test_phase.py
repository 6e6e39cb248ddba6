"""Phase-transition grids (molrg/phase.py) and their rules (workflow/rules/theory.smk): the sharp
transition at N_k = d of the closed form on a noise-free grid, the DAE grid on easy and impossible
cells, the tidy table, determinism and batch == per-trial loop, and a real tiny Snakemake run of
the theory targets."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from conftest import run_snakemake
from molrg import phase
from molrg.dae import TrainSettings


@pytest.mark.parametrize("K", [1, 2, 3])
def test_closed_form_transition_is_sharp_on_a_noise_free_grid(K):
    grid = phase.Grid(n=24, K=K, d_values=(1, 2, 4, 6), Nk_values=(1, 2, 3, 4, 6, 8), trials=5)
    df = phase.closed_form_grid(grid, seed=0)
    assert len(df) == 4 * 6 * 5
    below, above = df[df.N_k < df.d], df[df.N_k >= df.d]
    assert below.success.mean() == 0 and above.success.mean() == 1
    assert above.error.max() < 1e-6  # noise-free: exact recovery
    assert below.error.min() > 1.0  # a missing direction costs at least sqrt(2) in theory, about 1.4


def test_table_is_tidy_and_deterministic():
    grid = phase.Grid(n=16, K=2, d_values=(1, 3), Nk_values=(2, 5), trials=3, noise_std=0.01)
    a = phase.closed_form_grid(grid, seed=1)
    assert list(a.columns[: len(phase.TABLE_COLUMNS)]) == phase.TABLE_COLUMNS
    assert set(a.method) == {"closed_form"} and set(a.solver) == {"kss_spectral"}
    assert (a.N == 2 * a.N_k).all() and sorted(a.trial.unique()) == [0, 1, 2]
    pd.testing.assert_frame_equal(a, phase.closed_form_grid(grid, seed=1))
    assert not a.error.equals(phase.closed_form_grid(grid, seed=2).error)


def test_a_cell_does_not_depend_on_the_rest_of_the_grid():
    """Each cell has its own seed, and the batched solve equals solving the cell alone."""
    big = phase.Grid(n=20, K=2, d_values=(1, 2, 3), Nk_values=(1, 3, 4), trials=4)
    small = phase.Grid(n=20, K=2, d_values=(3,), Nk_values=(4,), trials=4)
    a = phase.closed_form_grid(big, seed=0)
    b = phase.closed_form_grid(small, seed=0)
    cell = a[(a.d == 3) & (a.N_k == 4)].reset_index(drop=True)
    pd.testing.assert_series_equal(cell.error, b.error, atol=1e-12, rtol=0)


def test_batched_closed_form_equals_a_per_trial_loop():
    grid = phase.Grid(n=24, K=3, d_values=(2, 4), Nk_values=(3, 5), trials=3, noise_std=0.05)
    df = phase.closed_form_grid(grid, seed=0)
    for d in grid.d_values:
        for N_k in grid.Nk_values:
            U, X = phase.make_cell(grid, d, N_k, seed=0)
            for t in range(grid.trials):
                Uhat, _ = phase.solve_closed_form(X[t : t + 1], 3, torch.tensor([d]), phase.KSSSettings())
                err = phase.subspace.recovery_error(Uhat, U[t : t + 1]).item()
                row = df[(df.d == d) & (df.N_k == N_k) & (df.trial == t)]
                assert abs(row.error.item() - err) < 1e-10


EASY_TRAIN = TrainSettings(iterations=300, batch=32, lr=2.0, optimizer="sgd", schedule="edm", T=100, sigma_max=0.1)


@pytest.mark.parametrize("K", [1, 2])
def test_dae_grid_recovers_from_a_random_start_and_fails_on_impossible_cells(K):
    """Algorithm 1 from independent Haar bases (init_error far above the threshold) reaches the
    subspaces on easy cells: K = 1 for every d with N_k >= 4 d; K = 2 for d = 1 (for d >= 2 a random
    start of the hard-max DAE can end in a K-subspaces local optimum, docs/theory.md). No cell with
    N_k < d succeeds."""
    grid = phase.Grid(n=16, K=K, d_values=(1, 3), Nk_values=(1, 12), trials=2)
    df = phase.dae_grid(grid, seed=0, settings=phase.DAESettings(train=EASY_TRAIN, init_mixture="random"))
    assert len(df) == 8 and set(df.method) == {"dae"} and set(df.init) == {"random"}
    assert (df.iterations == 300).all() and df.final_loss.notna().all()
    assert (df.init_error > 2 * df.threshold).all(), df.init_error  # the start did not hold the answer
    easy = df[df.N_k >= 4 * df.d] if K == 1 else df[df.d == 1]
    assert easy.success.all() and (easy.error < easy.threshold).all(), easy[["d", "N_k", "init_error", "error"]]
    assert not df[df.N_k < df.d].success.any()


@pytest.mark.parametrize("K", [1, 2])
def test_init_error_is_far_above_threshold_where_the_closed_form_fails(K):
    """The init_error column: a random start is far from the answer wherever the closed form
    fails (N_k < d), and far everywhere else too; the spectral start of K > 1 (spec reading (b))
    already holds the answer wherever the closed form succeeds, which the column exposes."""
    grid = phase.Grid(n=24, K=K, d_values=(2, 4), Nk_values=(1, 3, 8), trials=3)
    cf = phase.closed_form_grid(grid, seed=0)
    short = TrainSettings(iterations=3, batch=8, T=100)
    dae = phase.dae_grid(grid, seed=0, settings=phase.DAESettings(train=short, init_mixture="random"))
    both = cf.merge(dae, on=["d", "N_k", "trial"], suffixes=("_cf", "_dae"))
    assert len(both) == len(cf) == len(dae)
    fails = both[~both.success_cf]
    assert len(fails) > 0 and (fails.N_k < fails.d).all()
    assert (fails.init_error > 2 * fails.threshold_dae).all(), fails.init_error
    assert (both.init_error > 2 * both.threshold_dae).all()
    again = phase.dae_grid(grid, 0, phase.DAESettings(train=short, init_mixture="random"))
    assert (dae.init_error - again.init_error).abs().max() == 0
    if K > 1:
        spec = phase.dae_grid(grid, seed=0, settings=phase.DAESettings(train=TrainSettings(iterations=1, batch=8, lr=1e-9),
                                                                       init_mixture="spectral"))
        solved = spec.merge(cf, on=["d", "N_k", "trial"], suffixes=("", "_cf"))
        assert (solved[solved.success_cf].init_error < 1e-3).all()  # float32 bases of the exact answer


def test_dae_initialisations_and_gates():
    grid = phase.Grid(n=12, K=2, d_values=(2,), Nk_values=(8,), trials=2)
    train = TrainSettings(iterations=5, batch=8)
    for init in ("random", "perturbed_truth", "spectral"):
        for gate in ("hard", "soft"):
            df = phase.dae_grid(grid, 0, phase.DAESettings(train=train, init_mixture=init, gate=gate))
            assert df.error.notna().all() and df.solver.iloc[0] == phase.dae_solver_name(2, gate)
    with pytest.raises(ValueError, match="init_single"):
        phase.dae_grid(phase.Grid(12, 1, (2,), (8,), 1), 0, phase.DAESettings(train=train, init_single="spectral"))


def test_grid_from_config_and_summary():
    cells = {"d_min": 2, "d_max": 6, "d_step": 2, "N_k_min": 1, "N_k_max": 7, "N_k_step": 3, "trials": 4}
    grid = phase.grid_from_config(cells, n=20, K=3, noise_std=0.1)
    assert grid.d_values == (2, 4, 6) and grid.Nk_values == (1, 4, 7) and grid.trials == 4
    with pytest.raises(ValueError, match="exceeds n"):
        phase.grid_from_config(cells, n=12, K=3, noise_std=0.0)
    df = phase.closed_form_grid(phase.Grid(12, 1, (2,), (1, 2), 2), 0)
    assert "N_k < d: 0.000" in phase.summary(df) and "N_k >= d: 1.000" in phase.summary(df)


THEORY_METHODS = {K: ("closed_form", "closed_form_noiseless", "dae") + (("dae_restarts", "dae_random") if K > 1 else ())
                  for K in (1, 2, 3)}
THEORY_TARGETS = [f"results/theory/K{K}_{m}.csv" for K, ms in THEORY_METHODS.items() for m in ms] + [
    f"results/figures/{f}.png" for f in ("fig2_phase_K1", "fig3_phase_K2", "fig6_phase_K3")
]


@pytest.mark.slow
def test_tiny_theory_run_and_reruns(tiny_run, tmp_path):
    """The theory rules of the shared tiny run (conftest; read and dry runs only): every table and
    figure is well-formed with provenance, and a plot setting reruns only the figures while a DAE
    setting reruns only the DAE tables."""
    for K, methods in THEORY_METHODS.items():
        for method in methods:
            path = tiny_run / f"results/theory/K{K}_{method}.csv"
            df = pd.read_csv(path)
            assert set(phase.TABLE_COLUMNS) <= set(df.columns) and len(df) > 0
            assert (df.K == K).all() and (df.method == method).all() and df.error.notna().all()
            assert json.loads(Path(str(path) + ".prov.json").read_text())["seed"] == 0
    cf = pd.read_csv(tiny_run / "results/theory/K1_closed_form.csv")
    assert len(cf) == 3 * 4 * 3  # tiny: d 1..3, N_k 1..4, 3 trials
    for fig in THEORY_TARGETS[-3:]:
        png = tiny_run / fig
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and Path(str(png) + ".prov.json").exists()

    def jobs_after(override: str) -> set[str]:
        extra = tmp_path / "override.yaml"  # outside the shared run's folder
        extra.write_text(override)
        from conftest import TINY

        # "--nocolor" ends the --configfile list that run_snakemake puts first (targets would join it)
        proc = run_snakemake(tiny_run, "-n", "--nocolor", *THEORY_TARGETS, configfiles=(TINY, extra), check=True)
        return {line.split()[0] for line in proc.stdout.splitlines() if line.strip() and line.split()[0] in
                {"theory_closed_form", "theory_dae", "theory_dae_restarts", "plot_phase"}}

    assert jobs_after("plot: {dpi: 90}\n") == {"plot_phase"}
    assert jobs_after("theory: {dae: {lr: 0.05}}\n") == {"theory_dae", "theory_dae_restarts", "plot_phase"}
    assert jobs_after("theory: {dae: {init_perturbation: 1.0}}\n") == {"theory_dae", "plot_phase"}
    assert jobs_after("theory: {dae: {restarts: {count: 3}}}\n") == {"theory_dae_restarts", "plot_phase"}


def test_noisy_and_noise_free_closed_form_share_the_draw():
    """closed_form_noiseless is the same draw without the noise: exact algebra (error ~1e-15 where
    N_k >= d), while the noisy grid's errors on the success side are at the noise level."""
    noisy = phase.Grid(n=20, K=2, d_values=(2, 4), Nk_values=(1, 3, 12), trials=3, noise_std=0.05)
    clean = phase.Grid(n=20, K=2, d_values=(2, 4), Nk_values=(1, 3, 12), trials=3, noise_std=0.0)
    a, b = phase.closed_form_grid(noisy, 0), phase.closed_form_grid(clean, 0, method="closed_form_noiseless")
    assert set(a.method) == {"closed_form"} and set(b.method) == {"closed_form_noiseless"}
    assert (a.noise_std == 0.05).all() and (b.noise_std == 0).all()
    U_a, X_a = phase.make_cell(noisy, 4, 12, 0)
    U_b, X_b = phase.make_cell(clean, 4, 12, 0)
    assert torch.equal(U_a, U_b) and 0 < (X_a - X_b).std() < 0.07  # the same bases and coefficients
    easy_a, easy_b = a[a.N_k == 12], b[b.N_k == 12]
    assert (easy_b.error < 1e-12).all() and (easy_a.error > 1e-3).all() and (easy_a.error < 0.5).all()


def test_perturbed_truth_start_is_the_k_gt_1_default_and_solves_no_trial():
    """The K > 1 default (reading (a) of Eq. 45) with delta 0.75: every start is outside the success
    threshold (init_error > 0.5, also for d = 1), and the table says which start and delta."""
    assert phase.DAESettings().init_mixture == "perturbed_truth" and phase.DAESettings().init_perturbation == 0.75
    grid = phase.Grid(n=48, K=2, d_values=(1, 2, 8), Nk_values=(1, 10), trials=20)
    df = phase.dae_grid(grid, 0, phase.DAESettings(train=TrainSettings(iterations=1, batch=4, T=10, lr=1e-9)))
    assert set(df.init) == {"perturbed_truth"} and (df.init_perturbation == 0.75).all()
    assert (df.init_error > df.threshold).all(), df.init_error.min()
    # a random start is much farther from the truth than the perturbed one
    rnd = phase.dae_grid(grid, 0, phase.DAESettings(train=TrainSettings(iterations=1, batch=4, T=10, lr=1e-9),
                                                    init_mixture="random"))
    assert (rnd.init_perturbation == "none").all() and rnd.init_error.median() > df.init_error.median() + 0.5


def test_restarts_keep_the_lowest_training_objective():
    """dae_restarts: R random starts trained in one batch; the kept run has the lowest training
    objective of the R (never the truth); dae_random is run 0 alone."""
    grid = phase.Grid(n=16, K=2, d_values=(1, 3), Nk_values=(2, 12), trials=2, noise_std=0.05)
    train = TrainSettings(iterations=40, batch=16, T=100, lr=2.0, sigma_max=0.1)
    best, first = phase.dae_restarts_grid(grid, 0, 3, phase.DAESettings(train=train))
    assert len(best) == len(first) == 8 and set(best.method) == {"dae_restarts"} and set(first.method) == {"dae_random"}
    assert (best.restarts == 3).all() and (first.restarts == 1).all() and set(best.init) == {"random"}
    assert best.restart.between(0, 2).all() and (best.train_objective <= first.train_objective + 1e-12).all()
    assert (best.restart_best_error <= best.error + 1e-12).all()
    # run 0 of the batch: the row of dae_random equals the kept row wherever restart 0 was kept
    kept0 = best[best.restart == 0]
    pd.testing.assert_frame_equal(kept0[["error", "train_objective"]],
                                  first.loc[kept0.index, ["error", "train_objective"]])
    again, _ = phase.dae_restarts_grid(grid, 0, 3, phase.DAESettings(train=train))
    pd.testing.assert_frame_equal(best, again)
    with pytest.raises(ValueError, match="restarts.count"):
        phase.dae_restarts_grid(grid, 0, 0, phase.DAESettings(train=train))
