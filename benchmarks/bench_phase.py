"""Speed of the phase-transition grids (Figs 2, 3, 6), printed, never asserted.

1. The paper-size closed-form grid (n = 48; d = 1..15, 12 for K = 3; N_k = 1..30; 20 trials;
   K = 1, 2, 3) end to end with `molrg.phase.closed_form_grid` (data generation included).
   Target: under 60 s on the 2-core CPU.
2. The same solves on the same data, batched (all cells of one N_k at once) against a plain
   per-trial Python loop (one SVD / one K-subspaces call per trial, then the error); the results
   are checked to agree. Target: batched >= 20x faster.
3. With --dae: the default config's reduced DAE grids (config.yaml, theory.dae), end to end.

    .venv/bin/python benchmarks/bench_phase.py [--threads 2] [--trials 20] [--dae]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import yaml

from molrg import phase, subspace
from molrg.mixture import orthogonal_bases, sample_balanced

ROOT = Path(__file__).resolve().parents[1]
PAPER_D_MAX = {1: 15, 2: 15, 3: 12}


def paper_grid(K: int, trials: int) -> phase.Grid:
    return phase.Grid(n=48, K=K, d_values=tuple(range(1, PAPER_D_MAX[K] + 1)), Nk_values=tuple(range(1, 31)), trials=trials)


def cells_by_Nk(grid: phase.Grid, seed: int):
    """The grid's data grouped as closed_form_grid groups it: per N_k, (X, U_true padded, d)."""
    d_max = max(grid.d_values)
    groups = []
    for N_k in grid.Nk_values:
        cells = [phase.make_cell(grid, d, N_k, seed) for d in grid.d_values]
        X = torch.cat([X for _, X in cells])
        U = torch.cat([torch.nn.functional.pad(U, (0, d_max - U.shape[-1])) for U, _ in cells])
        d = torch.tensor(grid.d_values).repeat_interleave(grid.trials)
        groups.append((X, U, d))
    return groups


def solve_batched(groups, K, kss):
    out = []
    for X, U, d in groups:
        Uhat, _ = phase.solve_closed_form(X, K, d, kss)
        out.append(subspace.recovery_error(Uhat, U))
    return torch.cat(out)


def solve_loop(groups, K, kss):
    """The plain version: one problem at a time, the same functions with a batch of one."""
    out = []
    for X, U, d in groups:
        for b in range(X.shape[0]):
            db = int(d[b])
            Uhat, _ = phase.solve_closed_form(X[b : b + 1], K, torch.tensor([db]), kss)
            out.append(subspace.recovery_error(Uhat, U[b : b + 1, :, :, :db]))
    return torch.cat(out)


def grid_loop_end_to_end(grid: phase.Grid, seed: int, kss) -> torch.Tensor:
    """A plain implementation of the whole grid: per cell, per trial, draw that trial's data, solve,
    score. The same amount of work as `closed_form_grid` (other random draws)."""
    out = []
    for d in grid.d_values:
        for N_k in grid.Nk_values:
            gen = torch.Generator().manual_seed(seed + 1000 * d + N_k)
            for _ in range(grid.trials):
                U = orthogonal_bases(grid.n, grid.K, d, gen, thin=True).unsqueeze(0)
                X, _ = sample_balanced(U, N_k, gen, noise_std=grid.noise_std)
                Uhat, _ = phase.solve_closed_form(X, grid.K, torch.tensor([d]), kss)
                out.append(subspace.recovery_error(Uhat, U))
    return torch.cat(out)


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the rules use theory.threads = 1)")
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dae", action="store_true", help="also time the default config's DAE grids")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    kss = phase.KSSSettings()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    print("\n1. paper-size closed-form grid, end to end (data generation included), batched vs a plain loop")
    total = total_loop = 0.0
    for K in (1, 2, 3):
        grid = paper_grid(K, args.trials)
        df, sec = timed(phase.closed_form_grid, grid, args.seed, phase.Scoring(), kss)
        errs, sec_loop = timed(grid_loop_end_to_end, grid, args.seed, kss)
        total, total_loop = total + sec, total_loop + sec_loop
        print(f"   K={K}: {len(df):6d} trials in {sec:6.2f} s, plain loop {sec_loop:7.2f} s ({sec_loop / sec:4.1f}x)   "
              f"({phase.summary(df)}; loop: overall success {(errs <= 0.5).float().mean():.3f})")
    print(f"   all K: {total:.2f} s (target < 60 s); plain loop {total_loop:.2f} s, ratio {total_loop / total:.1f}x")

    print("\n2. the same solves on the same data (generation excluded): batched vs a per-trial loop")
    tb_all = tl_all = 0.0
    for K in (1, 2, 3):
        groups = cells_by_Nk(paper_grid(K, args.trials), args.seed)
        eb, tb = timed(solve_batched, groups, K, kss)
        el, tl = timed(solve_loop, groups, K, kss)
        tb_all, tl_all = tb_all + tb, tl_all + tl
        agree = (eb - el).abs().max().item()
        print(f"   K={K}: batched {tb:6.2f} s, loop {tl:7.2f} s, ratio {tl / tb:5.1f}x   (max |error difference| {agree:.1e})")
    print(f"   all K: batched {tb_all:.2f} s, loop {tl_all:.2f} s, ratio {tl_all / tb_all:.1f}x   (target >= 20x)")

    if args.dae:
        cfg = yaml.safe_load((ROOT / "config.yaml").read_text())["theory"]
        settings = phase.dae_from_config(cfg["dae"])
        print(f"\n3. default config's DAE grids ({settings.train.iterations} SGD steps, batch {settings.train.batch})")
        total = cpu_total = 0.0
        for K in (1, 2, 3):
            grid = phase.grid_from_config(cfg["dae"]["grid"][f"K{K}"], cfg["n"], K, cfg["noise_std"])
            cpu0 = time.process_time()
            df, sec = timed(phase.dae_grid, grid, args.seed, settings, phase.Scoring(), kss)
            cpu = time.process_time() - cpu0
            total, cpu_total = total + sec, cpu_total + cpu
            print(f"   K={K}: {len(df):5d} problems in {sec:6.2f} s wall, {cpu:6.2f} s CPU   ({phase.summary(df)})")
        print(f"   all K: {total:.2f} s wall, {cpu_total:.2f} s CPU (the wall time grows with the machine's load, the CPU time much less)")


if __name__ == "__main__":
    main()
