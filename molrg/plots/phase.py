"""Figs 2, 3, 6: success probability over (N_k, d) as seaborn heat-maps, one panel per method (closed
form with noise, noise-free closed form, DAE from the default start; for K > 1 also the best-of-R
random restarts and the single random start), with the line N_k = d and the measured boundary
(molrg.phase_table.empirical_boundary). Each panel's title names its method and noise; a DAE panel names
its start, delta, the median and smallest error of the initial bases (init_error) and the share of
trials already solved by the start, so that a start that holds the answer cannot pass for
Algorithm 1's success."""
from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from ..phase_table import empirical_boundary

METHODS = {
    "closed_form": "closed form, noise {noise:g}",
    "closed_form_noiseless": "closed form, noise-free (algebraic check)",
    "dae": "DAE, start: {init}",
    "dae_restarts": "DAE, best of {restarts} random starts (lowest training objective)",
    "dae_random": "DAE, one random start",
}
TITLES = {
    "pca_svd": "PCA by SVD (Problem 12)",
    "kss_spectral": "K-subspaces, spectral init (Problem 17)",
    "dae_eq11": "SGD on the DAE (Eq. 11)",
    "dae_eq15_hardmax": "SGD on the hard-max DAE (Eqs. 15/16)",
    "dae_eq7_softmax": "SGD on the soft-max DAE (Eq. 7)",
}


def cell_position(values, v):
    """Heat-map coordinate of value v on an evenly spaced axis (cell centres at index + 0.5)."""
    values = np.asarray(values, dtype=float)
    step = values[1] - values[0] if len(values) > 1 else 1.0
    return (np.asarray(v, dtype=float) - values[0]) / step + 0.5


def phase_panel(ax, df: pd.DataFrame, cmap, cbar_ax=None) -> None:
    """One method's heat-map (a theory table: d, N_k, trial, success, method, solver, noise_std and for
    the DAE init, init_error, threshold, iterations) with N_k = d and the measured boundary."""
    prob = df.groupby(["d", "N_k"])["success"].mean().unstack("N_k").sort_index(ascending=False)
    sns.heatmap(prob, ax=ax, vmin=0, vmax=1, cmap=cmap, square=False, cbar=cbar_ax is not None,
                cbar_ax=cbar_ax, cbar_kws={"label": "success probability"}, linewidths=0)
    d_vals, n_vals = prob.index[::-1].to_numpy(), prob.columns.to_numpy()
    # the line N_k = d: the paper's predicted boundary (success iff N_k >= d)
    v = np.linspace(max(d_vals.min(), n_vals.min()) - 0.5, min(d_vals.max(), n_vals.max()) + 0.5, 50)
    y = len(d_vals) - cell_position(d_vals, v)  # rows are drawn top-down, largest d first
    ax.plot(cell_position(n_vals, v), y, color="red", lw=1.5, ls="--", label="$N_k = d$")
    # the measured boundary: per d, the smallest N_k from which success >= 0.5 at every larger N_k
    bnd = empirical_boundary(df).dropna()
    if len(bnd):
        ax.plot(cell_position(n_vals, bnd.boundary), len(d_vals) - cell_position(d_vals, bnd.d), color="black",
                marker="o", ms=3, lw=1, label="measured boundary")
    ax.set_xlabel("$N_k$ (samples per component)")
    ax.set_ylabel("$d$ (subspace dimension)")
    first = df.iloc[0]
    method = METHODS.get(first["method"], first["method"]).format(
        noise=first["noise_std"], init=first.get("init", ""), restarts=first.get("restarts", ""))
    solver = TITLES.get(first["solver"], first["solver"])
    title = f"{method}\n{solver}, {df['trial'].nunique()} trials per cell"
    if "init_error" in df:  # the DAE: where SGD started and how far that was from the answer
        init = first["init"] + (f" (delta {first['init_perturbation']:g})" if first["init"] == "perturbed_truth" else "")
        solved = (df["init_error"] <= df["threshold"]).mean()
        title += (f", {int(first['iterations'])} SGD steps\nstart {init}: init error median "
                  f"{df['init_error'].median():.2f}, min {df['init_error'].min():.2f}; {solved:.0%} start solved")
    ax.set_title(title, fontsize="small")
    ax.legend(loc="upper right", fontsize="x-small", framealpha=0.8)


def phase_figure(tables: dict, style: dict) -> Figure:
    """The figure of one K: a `phase_panel` per table ({name: theory table}, in panel order), three
    per row, one colour bar; style: config `plot` (context, font_scale, palette = the colour map)."""
    sns.set_theme(context=style["context"], style="white", font_scale=style["font_scale"])
    first = next(iter(tables.values()))
    K, n = int(first["K"].iloc[0]), int(first["n"].iloc[0])
    cols = min(3, len(tables))
    rows = -(-len(tables) // cols)
    fig = Figure(figsize=(5.3 * cols + 0.6, 5.0 * rows))
    grid = fig.add_gridspec(rows, cols + 1, width_ratios=[1] * cols + [0.05], wspace=0.3, hspace=0.55)
    for i, df in enumerate(tables.values()):
        ax = fig.add_subplot(grid[i // cols, i % cols])
        phase_panel(ax, df, style["palette"], cbar_ax=fig.add_subplot(grid[:, cols]) if i == 0 else None)
    fig.suptitle(f"K = {K}, n = {n}: recovery succeeds when error <= {first['threshold'].iloc[0]:g}", y=1.0)
    return fig
