"""Figs 2, 3, 6 (rule plot_phase): success probability over (N_k, d) as seaborn heat-maps, the
closed form (left) and SGD on the DAE (right), with the line N_k = d drawn. The DAE panel's title
names its initialisation and the median error of the initial bases (the table's init_error), so
that a start that already holds the answer cannot pass for Algorithm 1's success."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from molrg import provenance, runtime  # noqa: E402

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


def panel(ax, df, cmap, cbar_ax=None):
    prob = df.groupby(["d", "N_k"])["success"].mean().unstack("N_k").sort_index(ascending=False)
    sns.heatmap(prob, ax=ax, vmin=0, vmax=1, cmap=cmap, square=False, cbar=cbar_ax is not None,
                cbar_ax=cbar_ax, cbar_kws={"label": "success probability"}, linewidths=0)
    d_vals, n_vals = prob.index[::-1].to_numpy(), prob.columns.to_numpy()
    # the line N_k = d: the paper's predicted boundary (success iff N_k >= d)
    v = np.linspace(max(d_vals.min(), n_vals.min()) - 0.5, min(d_vals.max(), n_vals.max()) + 0.5, 50)
    y = len(d_vals) - cell_position(d_vals, v)  # rows are drawn top-down, largest d first
    ax.plot(cell_position(n_vals, v), y, color="red", lw=1.5, ls="--", label="$N_k = d$")
    ax.set_xlabel("$N_k$ (samples per component)")
    ax.set_ylabel("$d$ (subspace dimension)")
    solver = df["solver"].iloc[0]
    title = f"{TITLES.get(solver, solver)}\n{df['trial'].nunique()} trials per cell"
    if "init_error" in df:  # the DAE: say where SGD started and how far that was from the answer
        title += (f", {int(df['iterations'].iloc[0])} SGD steps\nstart: {df['init'].iloc[0]}, "
                  f"median init error {df['init_error'].median():.2f} (final {df['error'].median():.2f})")
    ax.set_title(title, fontsize="medium")
    ax.legend(loc="upper right", fontsize="small", framealpha=0.8)


snake = snakemake  # noqa: F821 (injected by Snakemake)
log = runtime.setup_logging(snake.log[0])
style = snake.params.plot
sns.set_theme(context=style["context"], style="white", font_scale=style["font_scale"])

tables = {name: pd.read_csv(path) for name, path in (("closed_form", snake.input.closed_form), ("dae", snake.input.dae))}
K, n = int(tables["closed_form"]["K"].iloc[0]), int(tables["closed_form"]["n"].iloc[0])
thr = tables["closed_form"]["threshold"].iloc[0]

fig = plt.figure(figsize=(11, 4.9))
grid = fig.add_gridspec(1, 3, width_ratios=[1, 1, 0.05], wspace=0.25)
axes = [fig.add_subplot(grid[0, i]) for i in range(2)]
panel(axes[0], tables["closed_form"], style["palette"])
panel(axes[1], tables["dae"], style["palette"], cbar_ax=fig.add_subplot(grid[0, 2]))
fig.suptitle(f"K = {K}, n = {n}: recovery succeeds when error <= {thr:g}", y=1.02)
for name, df in tables.items():
    log.info("%s: %d rows, mean success %.3f", name, len(df), df["success"].mean())
if "init_error" in tables["dae"]:
    log.info("dae: init %s, median init_error %.3f", tables["dae"]["init"].iloc[0], tables["dae"]["init_error"].median())

provenance.save_figure(fig, snake.output.figure, config_slice=style, dpi=style["dpi"],
                       extra={"tables": {k: str(v) for k, v in snake.input.items()}})
plt.close(fig)
