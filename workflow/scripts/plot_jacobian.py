"""Figure rules of the Jacobian analysis: Fig 7 (rank ratio along the Heun trajectory, one panel per
dataset: the U-Net with its spread over the noises, the closed-form Gaussian and MoLRG of the same
data, the trained sigma range and Table 2's validity verdict) and the closed-form MoLRG check (rank
against sigma with the reference levels d and K*d). Reads only the tables; appearance from the
`plot` section."""
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
    """One panel per dataset: rank/n against the step (sigma on top) for the U-Net (mean line, every
    noise as a dot, min-max band) and the closed-form Gaussian / MoLRG of the same data at the same
    states (dashed); the sigma range the U-Net was trained on shaded; the Table-2 step dotted; the
    validity check (interior minimum inside the trained range) in the panel title."""
    import textwrap

    if "model" not in ranks:  # a table from before the closed-form curves
        ranks = ranks.assign(model="unet")
    datasets = list(table2.dataset)
    models = list(dict.fromkeys(["unet", *ranks.model]))
    colors = dict(zip(models, sns.color_palette(style["palette"], max(len(models), 2))))
    styles = {"unet": "-o", "gaussian": "--s", "molrg": "-.^"}
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.6 * len(datasets), 4.6), squeeze=False, sharey=True)
    steps = np.array(sorted(ranks.step.unique()))
    sig = ranks.groupby("step").sigma.first()
    for ax, ds in zip(axes[0], datasets):
        row = table2[table2.dataset == ds].iloc[0]
        if "sigma_train_lo" in row:  # steps whose sigma lies in the trained range, shaded
            inside = [s for s in steps if row.sigma_train_lo <= sig.loc[s] <= row.sigma_train_hi]
            if inside:
                ax.axvspan(min(inside) - 0.5, max(inside) + 0.5, color="0.9", lw=0, zorder=0,
                           label=f"U-Net trained range [{row.sigma_train_lo:.2g}, {row.sigma_train_hi:.2g}]")
        for model in models:
            df = ranks[(ranks.dataset == ds) & (ranks.model == model)]
            if df.empty:
                continue
            g = df.groupby("step").rank_ratio
            st = np.array(sorted(df.step.unique()))
            color = colors[model]
            if model == "unet":
                ax.fill_between(st, g.min().loc[st], g.max().loc[st], color=color, alpha=0.15, lw=0)
                ax.scatter(df.step, df.rank_ratio, s=6, color=color, alpha=0.5, lw=0)
            label = {"unet": "U-Net", "gaussian": "Gaussian (closed form)", "molrg": "MoLRG (closed form)"}.get(model, model)
            ax.plot(st, g.mean().loc[st], styles.get(model, "-o"), color=color, ms=3.5, lw=1.4, label=label)
        ax.axvline(row.step_min, color="k", ls=":", lw=1)
        ax.set_yscale("log")
        ax.set_xlabel("Heun step (sigma decreasing)")
        ax.set_xticks(steps)
        ax.tick_params(axis="x", labelsize="x-small")
        top = ax.secondary_xaxis("top")
        top.set_xticks(steps)
        top.set_xticklabels([f"{sig.loc[s]:.3g}" for s in steps], rotation=60, fontsize="x-small")
        top.set_xlabel("sigma", fontsize="small")
        n = int(row.n)
        if "valid" in row and not bool(row.valid):
            verdict = "VALIDITY CHECK FAILED: " + str(row.reason)
        elif "valid" in row:
            verdict = f"valid: interior minimum at sigma {row.sigma_min:.3g}, inside the trained range"
        else:
            verdict = ""
        ax.set_title(f"{ds} (n = {n}): d_intr = {row.d_intr_min:.3g} at sigma {row.sigma_min:.3g} (dotted)\n"
                     + "\n".join(textwrap.wrap(verdict, 70)), fontsize="x-small",
                     color="k" if "valid" not in row or bool(row.valid) else "firebrick", pad=40)
        ax.legend(fontsize="x-small", frameon=False, loc="best")
        sns.despine(ax=ax, top=False)
    axes[0, 0].set_ylabel("numerical rank / n  (Eq. 51, eta = %g)" % p.eta)
    fig.suptitle("Jacobian rank along the sampling trajectory: U-Net vs closed-form models of the same data",
                 fontsize="small")
    fig.tight_layout()
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
