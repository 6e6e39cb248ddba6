"""Figure rules of the Jacobian analysis: Fig 7 (rank ratio along the Heun trajectory, one curve
per dataset, spread over the noises) and the closed-form MoLRG check (rank against sigma with the
reference levels d and K*d). Reads only the tables; appearance from the `plot` section."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from molrg.provenance import save_figure  # noqa: E402
from molrg.runtime import setup_logging  # noqa: E402

p = snakemake.params  # noqa: F821
log = setup_logging(snakemake.log[0], "plot")  # noqa: F821
style = p.style
sns.set_theme(context=style["context"], style="ticks", font_scale=style["font_scale"])


def fig7(ranks: pd.DataFrame, table2: pd.DataFrame):
    """Mean rank/n (line) and every noise (dots, min-max band) against the step; sigma on top."""
    datasets = list(table2.dataset)
    colors = sns.color_palette(style["palette"], max(len(datasets), 2))
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for color, ds in zip(colors, datasets):
        df = ranks[ranks.dataset == ds]
        g = df.groupby("step").rank_ratio
        steps = np.array(sorted(df.step.unique()))
        ax.fill_between(steps, g.min().loc[steps], g.max().loc[steps], color=color, alpha=0.15, lw=0)
        ax.plot(steps, g.mean().loc[steps], "-o", color=color, ms=4,
                label=f"{ds} (n = {int(df.n.iloc[0])}, {df.noise.nunique()} noises)")
        ax.scatter(df.step, df.rank_ratio, s=6, color=color, alpha=0.5, lw=0)
        row = table2[table2.dataset == ds].iloc[0]
        ax.axvline(row.step_min, color=color, ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("Heun step (sigma decreasing)")
    ax.set_ylabel("numerical rank / n  (Eq. 51, eta = %g)" % p.eta)
    steps = sorted(ranks.step.unique())
    sig = ranks.groupby("step").sigma.first()
    ax.set_xticks(steps)
    top = ax.secondary_xaxis("top")
    top.set_xticks(steps)
    top.set_xticklabels([f"{sig.loc[s]:.3g}" for s in steps], rotation=60, fontsize="x-small")
    top.set_xlabel("sigma")
    ax.legend(fontsize="small", frameon=False)
    ax.set_title("Jacobian rank along the sampling trajectory (dotted: Table 2 step)", fontsize="small")
    sns.despine(ax=ax, top=False)
    return fig


def molrg(df: pd.DataFrame):
    """Rank against sigma for the closed-form MoLRG denoiser (and any MoLRG U-Nets)."""
    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    models = list(dict.fromkeys(df.model))
    colors = sns.color_palette(style["palette"], max(len(models), 2))
    for color, m in zip(colors, models):
        sub = df[df.model == m]
        g = sub.groupby("sigma")["rank"]
        s = np.array(sorted(sub.sigma.unique()))
        ax.fill_between(s, g.min().loc[s], g.max().loc[s], color=color, alpha=0.15, lw=0)
        ax.plot(s, g.mean().loc[s], "-o", ms=3, color=color, label=m.replace("_", " "))
    K, d = int(df.K.iloc[0]), int(df.d[df.model == "closed_form"].iloc[0])
    for level, name in ((d, "d"), (K * d, "K d")):
        ax.axhline(level, color="gray", ls="--", lw=1)
        ax.text(df.sigma.max(), level, f" {name} = {level}", va="bottom", ha="left", fontsize="small", color="gray")
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("sigma (decreasing along the trajectory)")
    ax.set_ylabel("numerical rank of dD/dx")
    ax.set_title(f"MoLRG ground truth: n = {int(df.n.iloc[0])}, K = {K}, d = {d}", fontsize="small")
    ax.legend(fontsize="small", frameon=False)
    sns.despine(ax=ax)
    return fig


if p.kind == "fig7":
    fig = fig7(pd.read_csv(snakemake.input.ranks), pd.read_csv(snakemake.input.table2))  # noqa: F821
else:
    fig = molrg(pd.read_csv(snakemake.input.table))  # noqa: F821
save_figure(fig, snakemake.output.fig, {"plot": dict(style)}, dpi=style["dpi"])  # noqa: F821
log.info("wrote %s", snakemake.output.fig)  # noqa: F821
