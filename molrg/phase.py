"""Phase-transition grids of subspace recovery (Figs 2, 3, 6; spec §4.3).

For each cell (d, N_k) of a grid and each trial: draw a MoLRG data set (Eq. 9: K orthogonal rank-d
subspaces from one Haar matrix, N_k samples per component, noise sigma_e), recover the bases in
closed form (PCA for K = 1, K-subspaces with spectral initialisation for K > 1) or by training the
theoretical DAE with Algorithm 1, and record the recovery error and success.

Batching (no Python loop over trials, few over cells):
* data: the trials of a cell are one batched draw from the cell's own seed, so a cell's data do
  not depend on which other cells are in the grid, and both methods see the same data;
* closed form: all cells with the same N_k (the same data-matrix shape) are solved together, the
  ranks d of the batch being handled by zero-padded basis columns (`subspace.column_mask`);
* DAE: all cells of a grid are trained together as independent problems of one batch; the rank
  d of each problem is a column mask of its bases (`dae._StiefelDAE`) and its N_k enters only
  through which rows its mini-batches are drawn from (`dae.train_dae`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch

from . import dae as dae_mod
from . import subspace
from .mixture import haar_orthogonal, orthogonal_bases, sample_balanced
from .phase_table import TABLE_COLUMNS, empirical_boundary, success_table
from .progress import progress
from .runtime import derive_seed

Tensor = torch.Tensor


# The methods (tables results/theory/K{K}_{method}.csv; docs/theory.md):
#   closed_form            PCA / K-subspaces on the data with noise theory.noise_std (the measured boundary)
#   closed_form_noiseless  the same on the same draws without the noise (the algebraic check: exact 0 / >= 1.3)
#   dae                    Algorithm 1 from the default start (K = 1: random; K > 1: perturbed truth, Eq. 45 reading (a))
#   dae_restarts           K > 1: R random starts, the one with the lowest training objective kept (no truth)
#   dae_random             K > 1: the first of those R random starts alone (a single random start)


def grid_values(lo: int, hi: int, step: int) -> list[int]:
    """lo, lo + step, ... up to hi inclusive."""
    return list(range(lo, hi + 1, step))


@dataclass(frozen=True)
class Grid:
    """One phase-transition grid: K components in R^n, ranks d, samples per component N_k."""

    n: int
    K: int
    d_values: tuple[int, ...]
    Nk_values: tuple[int, ...]
    trials: int
    noise_std: float = 0.0

    def __post_init__(self):
        if self.K * max(self.d_values) > self.n:
            raise ValueError(f"K*d_max = {self.K}*{max(self.d_values)} exceeds n = {self.n}")


@dataclass(frozen=True)
class Scoring:
    """Success criterion (spec §4.2, UNCONFIRMED): error <= threshold, error = max or mean over components."""

    threshold: float = 0.5
    reduce: str = "max"


@dataclass(frozen=True)
class KSSSettings:
    """K-subspaces with spectral initialisation (spec §4.4, UNCONFIRMED details)."""

    spectral_q: int = 10
    kmeans_iters: int = 30
    max_iters: int = 30


@dataclass(frozen=True)
class DAESettings:
    """The DAE method: Algorithm 1's settings plus the model and initialisation choices."""

    train: dae_mod.TrainSettings = field(default_factory=dae_mod.TrainSettings)
    gate: str = "hard"  # K > 1: "hard" (Eqs. 15/16) or "soft" (Eq. 7)
    init_single: str = "random"  # K = 1: random | perturbed_truth
    init_mixture: str = "perturbed_truth"  # K > 1: perturbed_truth (Eq. 45, reading (a)) | random | spectral (holds the answer)
    init_perturbation: float = 0.75  # delta of perturbed_truth: orth(U* + delta * G / sqrt(n))


# ----------------------------------------------------------------------------------------------
# Data


def make_cell(grid: Grid, d: int, N_k: int, seed: int) -> tuple[Tensor, Tensor]:
    """The trials of one cell: true bases (T, K, n, d) and data (T, K*N_k, n), float64, CPU.

    Drawn from the cell's own seed (derive_seed(seed, "theory-data", K, d, N_k)), so that the
    closed-form and DAE tables are computed on the same data sets."""
    gen = torch.Generator().manual_seed(derive_seed(seed, "theory-data", grid.K, d, N_k))
    U = orthogonal_bases(grid.n, grid.K, d, gen, batch=(grid.trials,), thin=True)
    X, _ = sample_balanced(U, N_k, gen, noise_std=grid.noise_std)
    return U, X


def _pad_columns(U: Tensor, d_max: int) -> Tensor:
    return torch.nn.functional.pad(U, (0, d_max - U.shape[-1]))


def _rows(grid: Grid, method: str, solver: str, d: Tensor, N_k: Tensor, trial: Tensor, error: Tensor,
          scoring: Scoring, **extra) -> pd.DataFrame:
    err = error.detach().cpu().double()
    df = pd.DataFrame({
        "K": grid.K, "method": method, "solver": solver, "n": grid.n,
        "d": d.cpu().numpy(), "N_k": N_k.cpu().numpy(), "N": grid.K * N_k.cpu().numpy(),
        "trial": trial.cpu().numpy(), "error": err.numpy(), "success": (err <= scoring.threshold).numpy(),
        "noise_std": grid.noise_std, "threshold": scoring.threshold,
    })
    for k, v in extra.items():
        df[k] = v.detach().cpu().numpy()
    return df


def _sort(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["d", "N_k", "trial"], kind="stable").reset_index(drop=True)


# ----------------------------------------------------------------------------------------------
# Closed form


def closed_form_solver_name(K: int) -> str:
    return "pca_svd" if K == 1 else "kss_spectral"


def solve_closed_form(X: Tensor, K: int, d: Tensor, kss: KSSSettings) -> tuple[Tensor, Tensor]:
    """PCA (K = 1) or spectral KSS (K > 1) on a batch of equally-shaped data sets X (B, N, n) with
    ranks d (B,). Returns (U_hat (B, K, n, d_max), KSS iterations (B,), zero for PCA)."""
    if K == 1:
        return subspace.pca(X, d).unsqueeze(1), torch.zeros(X.shape[0], dtype=torch.long)
    U, _, iters = subspace.kss_spectral(X, K, d, kss.spectral_q, kss.kmeans_iters, kss.max_iters)
    return U, iters


def closed_form_grid(grid: Grid, seed: int, scoring: Scoring = Scoring(), kss: KSSSettings = KSSSettings(),
                     method: str = "closed_form") -> pd.DataFrame:
    """The closed-form table of one grid: one row per (d, N_k, trial). `method` names the table's rows
    ("closed_form_noiseless" for the same grid drawn with noise_std 0: the same bases and
    coefficients as the noisy draw, since the noise is drawn last from the cell's generator)."""
    T, d_max = grid.trials, max(grid.d_values)
    frames = []
    for N_k in progress(grid.Nk_values, f"closed-form grid K={grid.K}", unit="N_k values"):
        cells = [make_cell(grid, d, N_k, seed) for d in grid.d_values]
        X = torch.cat([X for _, X in cells])
        U_true = torch.cat([_pad_columns(U, d_max) for U, _ in cells])
        d = torch.tensor(grid.d_values).repeat_interleave(T)
        U_hat, iters = solve_closed_form(X, grid.K, d, kss)
        error = subspace.recovery_error(U_hat, U_true, scoring.reduce)
        frames.append(_rows(grid, method, closed_form_solver_name(grid.K), d, torch.full_like(d, N_k),
                            torch.arange(T).repeat(len(cells)), error, scoring, kss_iterations=iters))
    return _sort(pd.concat(frames, ignore_index=True))


# ----------------------------------------------------------------------------------------------
# DAE (Algorithm 1)


def dae_solver_name(K: int, gate: str) -> str:
    if K == 1:
        return "dae_eq11"
    return "dae_eq15_hardmax" if gate == "hard" else "dae_eq7_softmax"


def spectral_init(X: Tensor, Nk: Tensor, d: Tensor, K: int, kss: KSSSettings) -> Tensor:
    """Spectral clustering + one PCA per cluster for padded data sets X (P, N_max, n) with K * Nk[p]
    real rows and ranks d[p]; problems with the same N_k are clustered in one batch. (P, K, n, d_max)."""
    U0 = torch.zeros(X.shape[0], K, X.shape[-1], int(d.max()), dtype=X.dtype)
    for N_k in Nk.unique().tolist():
        sel = (Nk == N_k).nonzero().squeeze(-1)
        Xs = X[sel, : K * N_k]
        labels = subspace.spectral_clustering(Xs, K, kss.spectral_q, kss.kmeans_iters)
        U0[sel] = _pad_columns(subspace.fit_clusters(Xs, labels, K, d[sel]), U0.shape[-1])
    return U0


def initial_bases(kind: str, U_true: Tensor, X: Tensor, Nk: Tensor, d: Tensor, K: int, delta: float,
                  kss: KSSSettings, gen: torch.Generator) -> Tensor:
    """Algorithm 1's starting point, (P, K, n, d_max) (columns beyond d[p] are masked by the DAE).

    "random": independent Haar bases; "perturbed_truth": orth(U* + delta G / sqrt(n)) (uses the
    truth: reading (a) of spec §4.2); "spectral" (K > 1): the KSS spectral clustering followed by
    one PCA per cluster, no KSS iterations (reading (b), the spec's recommendation)."""
    P, _, n, d_max = U_true.shape
    if kind == "random":
        return haar_orthogonal(n, gen, batch=(P, K), columns=d_max)
    if kind == "perturbed_truth":
        G = torch.randn(U_true.shape, generator=gen, dtype=U_true.dtype) * subspace.column_mask(d, d_max)[:, None, None, :]
        return dae_mod.stiefel_retract(U_true + delta * G / n**0.5)
    if kind == "spectral" and K > 1:
        return spectral_init(X, Nk, d, K, kss)
    raise ValueError(f"unknown DAE initialisation {kind!r} for K = {K} (config keys theory.dae.init_single / init_mixture)")


def make_dae(K: int, U0: Tensor, d: Tensor, gate: str) -> torch.nn.Module:
    if K == 1:
        return dae_mod.LowRankDAE(U0, d)
    if gate == "hard":
        return dae_mod.HardMaxDAE(U0, d)
    if gate == "soft":
        return dae_mod.SoftMaxDAE(U0, d)
    raise ValueError(f"unknown gate {gate!r}: use 'hard' or 'soft' (config key theory.dae.gate)")


def _dae_problems(grid: Grid, seed: int, copies: int = 1) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Every (d, N_k, trial) problem of the grid, `copies` times (copy-major): true bases
    (P, K, n, d_max), padded data (P, K N_k_max, n), ranks d (P,), N_k (P,)."""
    T, K = grid.trials, grid.K
    d_max, N_max = max(grid.d_values), K * max(grid.Nk_values)
    U_true, X, d, Nk = [], [], [], []
    for dv in grid.d_values:
        for N_k in grid.Nk_values:
            U, Xc = make_cell(grid, dv, N_k, seed)
            U_true.append(_pad_columns(U, d_max))
            X.append(torch.nn.functional.pad(Xc, (0, 0, 0, N_max - Xc.shape[1])))
            d.append(torch.full((T,), dv))
            Nk.append(torch.full((T,), N_k))
    return tuple(torch.cat(v).repeat((copies,) + (1,) * (v[0].ndim - 1)) for v in (U_true, X, d, Nk))


def _train(grid: Grid, settings: DAESettings, U0: Tensor, U_true: Tensor, X: Tensor, d: Tensor, Nk: Tensor,
           gen_seed: int, scoring: Scoring, device: torch.device, dtype: torch.dtype) -> dict:
    """Algorithm 1 on all problems at once from U0; per problem: init_error, error, final_loss (mean
    minibatch loss of the last 10 % of the steps) and train_objective (the exact training objective,
    `dae.expected_objective`; the soft-max DAE has no closed form: its final_loss stands in)."""
    K = grid.K
    module = make_dae(K, U0.to(dtype), d, settings.gate).to(device)
    init_error = subspace.recovery_error(module.bases().to("cpu", torch.float64), U_true, scoring.reduce)
    gen = torch.Generator(device=device).manual_seed(gen_seed)
    history = dae_mod.train_dae(module, X.to(device, dtype), (K * Nk).to(device), settings.train, gen)
    U_hat = module.bases().to("cpu", torch.float64)
    final_loss = history[-max(1, len(history) // 10):].mean(0).double()
    if K == 1 or settings.gate == "hard":
        objective = dae_mod.expected_objective(U_hat, X.double(), K * Nk, settings.train)
    else:
        objective = final_loss
    return {"init_error": init_error, "error": subspace.recovery_error(U_hat, U_true, scoring.reduce),
            "final_loss": final_loss, "train_objective": objective}


def _dae_table(grid: Grid, method: str, settings: DAESettings, kind: str, delta: float, restarts: int,
               d: Tensor, Nk: Tensor, res: dict, scoring: Scoring, **extra) -> pd.DataFrame:
    trial = torch.arange(grid.trials).repeat(len(grid.d_values) * len(grid.Nk_values))
    df = _rows(grid, method, dae_solver_name(grid.K, settings.gate), d, Nk, trial, res["error"], scoring,
               final_loss=res["final_loss"], train_objective=res["train_objective"], init_error=res["init_error"],
               **extra)
    df["init"] = kind
    # text, not NaN, where there is no delta (a start not perturbed from the truth)
    df["init_perturbation"] = delta if kind == "perturbed_truth" else "none"
    df["restarts"] = restarts
    df["iterations"] = settings.train.iterations
    return _sort(df)


def dae_grid(grid: Grid, seed: int, settings: DAESettings = DAESettings(), scoring: Scoring = Scoring(),
             kss: KSSSettings = KSSSettings(), device: str | torch.device = "cpu",
             dtype: torch.dtype = torch.float32) -> pd.DataFrame:
    """The DAE table of one grid (method "dae"): every (d, N_k, trial) problem of the grid trained at
    once, as independent problems of one batch (ranks by masked columns, N_k by the rows drawn from),
    from the start `settings.init_single` (K = 1) / `init_mixture` (K > 1).

    Training runs in `dtype` (float32: the SGD noise is orders of magnitude above rounding); the
    error is computed in float64. Random draws: derive_seed(seed, "theory-dae-init", K) for the
    initial bases, derive_seed(seed, "theory-dae", K) for Algorithm 1.

    Besides the final `error` the table records `init_error`, the same error of the starting bases
    (after the retraction, before any step): it shows whether the initialisation already held the
    answer (the "spectral" start does wherever the closed form succeeds; the "perturbed_truth" start
    must not, which its delta is chosen for), and `init`, `init_perturbation`, `iterations` for the
    figure's caption."""
    K = grid.K
    device = torch.device(device)
    U_true, X, d, Nk = _dae_problems(grid, seed)
    kind = settings.init_single if K == 1 else settings.init_mixture
    init_gen = torch.Generator().manual_seed(derive_seed(seed, "theory-dae-init", K))
    U0 = initial_bases(kind, U_true, X, Nk, d, K, settings.init_perturbation, kss, init_gen)
    res = _train(grid, settings, U0, U_true, X, d, Nk, derive_seed(seed, "theory-dae", K), scoring, device, dtype)
    return _dae_table(grid, "dae", settings, kind, settings.init_perturbation, 1, d, Nk, res, scoring)


def dae_restarts_grid(grid: Grid, seed: int, restarts: int, settings: DAESettings = DAESettings(),
                      scoring: Scoring = Scoring(), device: str | torch.device = "cpu",
                      dtype: torch.dtype = torch.float32) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The truth-free alternative to a start near the truth: each problem trained from `restarts`
    independent Haar starts (all R x P runs in one batch), and the run with the lowest training
    objective (`dae.expected_objective`, computed from the training data only) kept.

    Returns (table "dae_restarts": the selected run per problem, with `restart` (its index),
    `restart_best_error` (the smallest error among the R runs, for the record: selection never sees
    it); table "dae_random": run 0 alone, i.e. a single random start). Random draws:
    derive_seed(seed, "theory-dae-restarts-init", K) and derive_seed(seed, "theory-dae-restarts", K)."""
    if restarts < 1:
        raise ValueError(f"restarts = {restarts}: need at least 1 (config key theory.dae.restarts.count)")
    K = grid.K
    device = torch.device(device)
    U_true, X, d, Nk = _dae_problems(grid, seed, copies=restarts)
    P = len(d) // restarts
    init_gen = torch.Generator().manual_seed(derive_seed(seed, "theory-dae-restarts-init", K))
    U0 = initial_bases("random", U_true, X, Nk, d, K, 0.0, KSSSettings(), init_gen)
    res = _train(grid, settings, U0, U_true, X, d, Nk, derive_seed(seed, "theory-dae-restarts", K), scoring,
                 device, dtype)
    res = {k: v.reshape(restarts, P) for k, v in res.items()}
    best = res["train_objective"].argmin(0)  # (P,): first index on ties
    pick = {k: v.gather(0, best.unsqueeze(0)).squeeze(0) for k, v in res.items()}
    chosen = _dae_table(grid, "dae_restarts", settings, "random", 0.0, restarts, d[:P], Nk[:P], pick, scoring,
                        restart=best, restart_best_error=res["error"].amin(0))
    first = _dae_table(grid, "dae_random", settings, "random", 0.0, 1, d[:P], Nk[:P],
                       {k: v[0] for k, v in res.items()}, scoring)
    return chosen, first


# ----------------------------------------------------------------------------------------------
# From the config section `theory` (plain dicts, as the rules pass them through params)


def grid_from_config(cells: dict, n: int, K: int, noise_std: float) -> Grid:
    return Grid(
        n=n, K=K,
        d_values=tuple(grid_values(cells["d_min"], cells["d_max"], cells["d_step"])),
        Nk_values=tuple(grid_values(cells["N_k_min"], cells["N_k_max"], cells["N_k_step"])),
        trials=cells["trials"], noise_std=noise_std,
    )


def scoring_from_config(data: dict) -> Scoring:
    return Scoring(threshold=data["success_threshold"], reduce=data["error_reduce"])


def kss_from_config(cfg: dict) -> KSSSettings:
    return KSSSettings(spectral_q=cfg["spectral_q"], kmeans_iters=cfg["kmeans_iters"], max_iters=cfg["max_iters"])


def dae_from_config(cfg: dict) -> DAESettings:
    train = dae_mod.TrainSettings(**{k: cfg[k] for k in (
        "iterations", "batch", "lr", "optimizer", "lr_decay", "schedule", "T", "loss_weight", "sigma_max",
        "gradient")})
    # the restarts rule passes no initialisation keys (its starts are random Haar bases)
    init = {k: cfg[k] for k in ("init_single", "init_mixture", "init_perturbation") if k in cfg}
    return DAESettings(train=train, gate=cfg["gate"], **init)


def dae_job(data: dict, dae: dict, K: int) -> tuple[Grid, DAESettings]:
    """The grid and the DAE settings of one K from the rule's params (theory.data, theory.dae)."""
    return grid_from_config(dae["grid"], data["n"], K, data["noise_std"]), dae_from_config(dae)


def summary(df: pd.DataFrame) -> str:
    """One line for the logs: success below and on/above the diagonal N_k = d."""
    st = success_table(df)
    below, above = st[st.N_k < st.d].success, st[st.N_k >= st.d].success
    fmt = lambda s: f"{s.mean():.3f}" if len(s) else "n/a"  # noqa: E731
    line = f"{len(df)} trials; success rate for N_k < d: {fmt(below)}, for N_k >= d: {fmt(above)}"
    if "init_error" in df:
        line += f"; median init_error {df.init_error.median():.3f}, median error {df.error.median():.3f}"
    bnd = empirical_boundary(df)
    return line + "; boundary N_k(d) " + ", ".join(
        f"{d}:{'-' if pd.isna(b) else int(b)}" for d, b in zip(bnd.d, bnd.boundary))
