"""Figures of the Jacobian analysis: Fig 7 (rank ratio along the Heun trajectory, one panel per dataset:
the U-Net's mean with its bootstrap band over the noises, the closed-form Gaussian and MoLRG of the
same data, the measured minimum with its CI, the trained sigma range and Table 2's U-shape verdict)
and the closed-form MoLRG check (rank against sigma with the reference levels d and K d)."""
from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from ..jacobian import mean_band

STYLES = {"unet": "-o", "gaussian": "--s", "molrg": "-.^"}
LABELS = {"unet": "U-Net (mean, 95 % bootstrap band over noises)", "gaussian": "Gaussian (closed form)",
          "molrg": "MoLRG (closed form)"}


def fig7(ranks: pd.DataFrame, table2: pd.DataFrame, style: dict, eta: float) -> Figure:
    """One panel per dataset of Table 2: the U-Net's mean rank/n against sigma (log, decreasing as
    along the trajectory) with the bootstrap 95 % band of the mean over the noises
    (molrg.jacobian.mean_band) and every noise as a dot; the closed-form models of the same data at
    the same states (the other `model`s of the rank table); the measured minimum (sigma_min, its
    bootstrap CI hatched) and the sigma range the U-Net was trained on (shaded); the U-shape verdict
    and the caveats in the panel title, red where the U-shape is not significant."""
    sns.set_theme(context=style["context"], style="ticks", font_scale=style["font_scale"])
    datasets = list(table2.dataset)
    models = list(dict.fromkeys(["unet", *ranks.model]))
    colors = dict(zip(models, sns.color_palette(style["palette"], max(len(models), 2))))
    fig = Figure(figsize=(5.8 * len(datasets), 4.8))
    axes = fig.subplots(1, len(datasets), squeeze=False, sharey=True)
    for k, (ax, ds) in enumerate(zip(axes[0], datasets)):
        row = table2[table2.dataset == ds].iloc[0]
        ax.axvspan(row.sigma_train_lo, row.sigma_train_hi, color="0.9", lw=0, zorder=0,
                   label=f"U-Net trained range [{row.sigma_train_lo:.2g}, {row.sigma_train_hi:.2g}]")
        for model in models:
            df = ranks[(ranks.dataset == ds) & (ranks.model == model)]
            if df.empty:
                continue
            wide = df.pivot(index="noise", columns="step", values="rank_ratio")
            sig = df.groupby("step").sigma.first().loc[wide.columns].to_numpy()
            mean = wide.mean(axis=0).to_numpy()
            if model == "unet":
                lo, hi = mean_band(wide.to_numpy(), seed=k)
                ax.fill_between(sig, lo, hi, color=colors[model], alpha=0.25, lw=0)
                ax.scatter(df.sigma, df.rank_ratio, s=5, color=colors[model], alpha=0.35, lw=0)
            ax.plot(sig, mean, STYLES.get(model, "-o"), color=colors[model], ms=3.5, lw=1.4,
                    label=LABELS.get(model, model))
        ax.axvspan(row.sigma_min_ci_lo, row.sigma_min_ci_hi, facecolor="none", edgecolor="k", hatch="//",
                   lw=0, alpha=0.35, label=f"minimum's 95 % CI [{row.sigma_min_ci_lo:.3g}, {row.sigma_min_ci_hi:.3g}]")
        ax.axvline(row.sigma_min, color="k", ls=":", lw=1.2, label=f"minimum sigma = {row.sigma_min:.3g}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.invert_xaxis()
        ax.set_xlabel("sigma (decreasing along the Heun trajectory)")
        if bool(row.u_shaped):  # the p-values are numbers only where the test ran
            verdict = (f"U-shape significant (paired, p = {float(row.p_high_sigma):.2g} above / "
                       f"{float(row.p_low_sigma):.2g} below)")
        else:
            verdict = "U-SHAPE NOT SIGNIFICANT: " + str(row.reason)
        if isinstance(row.get("caveat"), str) and row.caveat:
            verdict += "; caveat: " + row.caveat
        ax.set_title(f"{ds} (n = {int(row.n)}): d_intr = {row.d_intr_min:.3g} +- {row.d_intr_min_se:.2g} at sigma "
                     f"{row.sigma_min:.3g}\n" + "\n".join(textwrap.wrap(verdict, 80)), fontsize="x-small",
                     color="k" if bool(row.u_shaped) else "firebrick")
        ax.legend(fontsize="xx-small", frameon=False, loc="best")
        sns.despine(ax=ax)
    axes[0, 0].set_ylabel("numerical rank / n  (Eq. 51, eta = %g)" % eta)
    fig.suptitle("Jacobian rank along the sampling trajectory: U-Net vs closed-form models of the same data",
                 fontsize="small")
    fig.tight_layout()
    return fig


def molrg_rank_figure(df: pd.DataFrame, style: dict) -> Figure:
    """Rank against sigma of the closed-form MoLRG denoiser (and any MoLRG U-Nets): per model the mean
    over the noises with its min-max band, and the levels d and K d of the closed form."""
    sns.set_theme(context=style["context"], style="ticks", font_scale=style["font_scale"])
    fig = Figure(figsize=(6.0, 3.8))
    ax = fig.subplots()
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
