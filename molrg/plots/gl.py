"""Fig 4: the GL score against N / d_intr (top, log2 axis, one colour per group, dashed fitted sigmoid)
and against N (bottom, with its own fit). Fig 4 left (MoLRG, colour = d_intr) and Fig 4 right (real
data, colour = dataset) differ only in their tables and settings. Spec §6.1, §6.2, §6.5, §10."""
from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from ..sigmoid import logistic_log2


def _num(f, key) -> float:
    """A numeric fit column, nan where it is empty or not a number."""
    try:
        v = float(f[key])
    except (TypeError, ValueError):
        return np.nan
    return v if np.isfinite(v) else np.nan


def gl_figure(table: pd.DataFrame, fits: pd.DataFrame, style: dict, columns: dict, labels: dict, threshold: float,
              fit_scope: str = "all", curve_model: str = "unet", legend: str = "inside",
              group_fit_column: str | None = None, note: str = "") -> Figure:
    """Fig 4 from a GL table (one row per model) and its fit table (rows of molrg.sigmoid.fit_report
    with scope, x_variable, status, a, b, rmse, plateau, plateau_fixed, fraction, x_star,
    x_star_inside, ci_low, ci_high).

    style: config `plot` (context, font_scale, palette); columns {x, n, hue, gl}: column names in the
    table; labels {title, hue, x, n}: axis and legend text; threshold: the GL level drawn dotted;
    fit_scope: the fit rows drawn in black. Rows whose `model` is curve_model make the curves; the
    other models' rows (e.g. the empirical-optimal denoiser) are black-edged markers in their group's
    colour. legend 'inside' (upper left of each panel) or 'outside' (right of each panel, covering no
    point). group_fit_column: a table column naming each group's fit scope (e.g. 'dataset'): each
    group's own fit is drawn thin and dashed in its colour. note: a caption line under the panels."""
    sns.set_theme(context=style["context"], style="whitegrid", font_scale=style["font_scale"])
    baseline = table[table["model"] != curve_model]
    df = table[table["model"] == curve_model]
    groups = sorted(df[columns["hue"]].unique())
    colours = dict(zip(groups, sns.color_palette(style["palette"], len(groups))))
    legend_outside = legend == "outside"

    def fit_row(x_variable, scope=fit_scope):
        """The fit of `scope` against x_variable, or None if it is missing or failed."""
        sel = fits[(fits.scope == scope) & (fits.x_variable == x_variable)]
        if sel.empty or sel.iloc[0]["status"] != "ok":
            return None
        return sel.iloc[0]

    def panel(ax, x_col, x_label):
        for g in groups:
            sub = df[df[columns["hue"]] == g]
            mean = sub.groupby(x_col, sort=True)[columns["gl"]].mean()
            ax.scatter(sub[x_col], sub[columns["gl"]], color=colours[g], s=22, alpha=0.8, zorder=3)
            ax.plot(mean.index, mean.values, color=colours[g], lw=1.2, label=f"{labels['hue']} = {g}")
        for i, (model, sub) in enumerate(baseline.groupby("model", sort=True) if len(baseline) else []):
            ax.scatter(sub[x_col], sub[columns["gl"]], marker="Dsv^"[i % 4], s=46, zorder=4, edgecolors="k",
                       linewidths=1.2, c=[colours.get(g, "0.5") for g in sub[columns["hue"]]],
                       label=f"{model.replace('_', '-')} denoiser" if model == "empirical_optimal" else model)
        for g in groups if group_fit_column else []:
            sub = df[df[columns["hue"]] == g]
            gf = fit_row(x_col, scope=str(sub[group_fit_column].iloc[0]))
            if gf is not None:
                xs = np.geomspace(sub[x_col].min(), sub[x_col].max(), 100)
                ax.plot(xs, _num(gf, "plateau") * logistic_log2(xs, gf["a"], gf["b"]), color=colours[g], lw=0.9,
                        ls="--", alpha=0.9, label=f"its own fit: {x_label}* = {_num(gf, 'x_star'):.3g}")
        f = fit_row(x_col)
        if f is not None:
            lo = min(df[x_col].min(), baseline[x_col].min()) if len(baseline) else df[x_col].min()
            hi = max(df[x_col].max(), baseline[x_col].max()) if len(baseline) else df[x_col].max()
            xs = np.geomspace(lo, hi, 200)
            plateau, x_star, fraction = _num(f, "plateau"), _num(f, "x_star"), _num(f, "fraction")
            ci = (f" [{_num(f, 'ci_low'):.3g}, {_num(f, 'ci_high'):.3g}]"
                  if np.isfinite(_num(f, "ci_low")) and np.isfinite(_num(f, "ci_high")) else "")
            fixed = str(f["plateau_fixed"]).lower() == "true"
            where = f"GL = {fraction:g} x plateau ({'fixed' if fixed else 'fitted'} {plateau:.3g})"
            outside = str(f["x_star_inside"]).lower() == "false"
            label = (f"sigmoid fit: a={f['a']:.2f}, b={f['b']:.2f}, RMSE {f['rmse']:.3f}\n"
                     f"{x_label} at {where}: {x_star:.3g}{ci}" + (" (OUTSIDE the data)" if outside else ""))
            ax.plot(xs, plateau * logistic_log2(xs, f["a"], f["b"]), "k--", lw=1.5, label=label)
            if np.isfinite(x_star):
                ax.axvline(x_star, color="red" if outside else "0.3", lw=1.0, ls=":")
                ax.plot([x_star], [plateau * fraction], marker="*", color="k", ms=11, zorder=5, ls="none")
            ax.axhline(plateau * fraction, color="0.6", lw=0.7, ls="-.")
        ax.axhline(threshold, color="0.4", lw=0.8, ls=":")
        ax.set_xscale("log", base=2)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel(x_label)
        ax.set_ylabel("GL score")
        if legend_outside:  # beside the panel: never over a data point (save_figure crops to the legend too)
            ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
        else:
            ax.legend(fontsize="x-small", loc="upper left")  # low x = low GL: the upper left is free

    fig = Figure(figsize=(5.2, 8.0 if legend_outside else 7.0))
    top, bottom = fig.subplots(2, 1)
    panel(top, columns["x"], labels["x"])
    panel(bottom, columns["n"], labels["n"])
    top.set_title(labels["title"])
    if note:
        fig.text(0.01, 0.0, note, fontsize="x-small", ha="left", va="top", wrap=True)
    if legend_outside:  # keep the panels' size; the saved figure is cropped out to the legends (bbox_inches tight)
        fig.subplots_adjust(left=0.13, right=0.97, top=0.95, bottom=0.07, hspace=0.28)
    else:
        fig.tight_layout()
    return fig
