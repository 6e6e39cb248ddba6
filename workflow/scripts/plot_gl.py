"""GL score against N / d_intr (top, log2 axis, one colour per group, dashed fitted sigmoid) and
against N (bottom, with its own fit): Fig 4 left (MoLRG, colour = d_intr) and, called with another
table, Fig 4 right (real data, colour = dataset). Spec §6.1, §6.2, §6.5, §10.

Inputs: `table` (one row per trained model) and `fit` (rows of molrg.sigmoid.fit_report with
columns scope, x_variable, a, b, rmse, x_at_threshold, ci_low, ci_high, status).
Params: style (config `plot`), threshold, columns {x, n, hue, gl} (column names in the table),
labels {title, hue, x, n} (axis/legend text), fit_scope (the fit rows to draw, e.g. 'all'),
optional note (a caption line under the panels).
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from molrg.provenance import save_figure  # noqa: E402
from molrg.runtime import setup_logging  # noqa: E402
from molrg.sigmoid import logistic_log2  # noqa: E402

p = snakemake.params  # noqa: F821
log = setup_logging(snakemake.log[0], "plot")  # noqa: F821
style, cols, labels = p.style, dict(p.columns), dict(p.labels)
sns.set_theme(context=style["context"], style="whitegrid", font_scale=style["font_scale"])

df = pd.read_csv(snakemake.input.table)  # noqa: F821
fits = pd.read_csv(snakemake.input.fit)  # noqa: F821
groups = sorted(df[cols["hue"]].unique())
colours = dict(zip(groups, sns.color_palette(style["palette"], len(groups))))


def fit_row(x_variable):
    """The fit of the requested scope against x_variable, or None if it is missing or failed."""
    sel = fits[(fits.scope == p.fit_scope) & (fits.x_variable == x_variable)]
    if sel.empty or sel.iloc[0].get("status", "ok") != "ok":
        return None
    return sel.iloc[0]


def panel(ax, x_col, x_label):
    for g in groups:
        sub = df[df[cols["hue"]] == g]
        mean = sub.groupby(x_col, sort=True)[cols["gl"]].mean()
        ax.scatter(sub[x_col], sub[cols["gl"]], color=colours[g], s=22, alpha=0.8, zorder=3)
        ax.plot(mean.index, mean.values, color=colours[g], lw=1.2, label=f"{labels['hue']} = {g}")
    f = fit_row(x_col)
    if f is not None:
        xs = np.geomspace(df[x_col].min(), df[x_col].max(), 200)
        ci = f" [{f['ci_low']:.3g}, {f['ci_high']:.3g}]" if np.isfinite(f.get("ci_low", np.nan)) else ""
        label = (f"sigmoid fit: a={f['a']:.2f}, b={f['b']:.2f}, RMSE {f['rmse']:.3f}\n"
                 f"{x_label} at GL = {p.threshold:g}: {f['x_at_threshold']:.3g}{ci}")
        ax.plot(xs, logistic_log2(xs, f["a"], f["b"]), "k--", lw=1.5, label=label)
        ax.axvline(f["x_at_threshold"], color="0.4", lw=0.8, ls=":")
    ax.axhline(p.threshold, color="0.4", lw=0.8, ls=":")
    ax.set_xscale("log", base=2)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(x_label)
    ax.set_ylabel("GL score")
    ax.legend(fontsize="x-small", loc="lower right")


fig, (top, bottom) = plt.subplots(2, 1, figsize=(5.2, 7.0))
panel(top, cols["x"], labels["x"])
panel(bottom, cols["n"], labels["n"])
top.set_title(labels["title"])
note = p.get("note", "")
if note:
    fig.text(0.01, 0.0, note, fontsize="x-small", ha="left", va="top", wrap=True)
fig.tight_layout()
save_figure(fig, snakemake.output.figure, dict(style), dpi=style["dpi"],  # noqa: F821
            extra={"threshold": p.threshold, "fit_scope": p.fit_scope, "columns": cols})
log.info("%d models, %d groups -> %s", len(df), len(groups), snakemake.output.figure)  # noqa: F821
