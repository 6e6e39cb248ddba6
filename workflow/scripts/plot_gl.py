"""GL score against N / d_intr (top, log2 axis, one colour per group, dashed fitted sigmoid) and
against N (bottom, with its own fit): Fig 4 left (MoLRG, colour = d_intr) and, called with another
table, Fig 4 right (real data, colour = dataset). Spec §6.1, §6.2, §6.5, §10.

Inputs: `table` (one row per trained model) and `fit` (rows of molrg.sigmoid.fit_report with
columns scope, x_variable, a, b, rmse, status, and where present plateau, fraction, x_star,
x_star_inside, ci_low, ci_high; older tables with x_at_threshold and no plateau are drawn with
plateau 1).
Params: style (config `plot`), threshold, columns {x, n, hue, gl} (column names in the table),
labels {title, hue, x, n} (axis/legend text), fit_scope (the fit rows to draw, e.g. 'all'),
optional curve_model (default 'unet': where the table has a `model` column, only those rows make the
curves; the other models' rows, e.g. the empirical-optimal denoiser, are drawn as black-edged
diamonds, one per row, in their group's colour), optional note (a caption line under the panels),
optional legend ('inside', default: upper left of each panel; 'outside': right of each panel, so no
data point is covered), optional group_fit_column (a table column naming each group's fit scope,
e.g. 'dataset': each group's own fit is drawn as a thin dashed line in its colour, beside the pooled
fit in black).
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
curve_model = p.get("curve_model", "unet")
if "model" in df.columns:
    baseline = df[df["model"] != curve_model]
    df = df[df["model"] == curve_model]
else:
    baseline = df.iloc[0:0]
groups = sorted(df[cols["hue"]].unique())
colours = dict(zip(groups, sns.color_palette(style["palette"], len(groups))))


def fit_row(x_variable, scope=None):
    """The fit of `scope` (default: the requested fit_scope) against x_variable, or None if it is missing
    or failed."""
    sel = fits[(fits.scope == (p.fit_scope if scope is None else scope)) & (fits.x_variable == x_variable)]
    if sel.empty or sel.iloc[0].get("status", "ok") != "ok":
        return None
    return sel.iloc[0]


def _num(f, key, default=np.nan):
    """A numeric fit column, or `default` where the column is absent or empty."""
    try:
        v = float(f.get(key, default))
    except (TypeError, ValueError):
        return default
    return v if np.isfinite(v) else default


def panel(ax, x_col, x_label):
    for g in groups:
        sub = df[df[cols["hue"]] == g]
        mean = sub.groupby(x_col, sort=True)[cols["gl"]].mean()
        ax.scatter(sub[x_col], sub[cols["gl"]], color=colours[g], s=22, alpha=0.8, zorder=3)
        ax.plot(mean.index, mean.values, color=colours[g], lw=1.2, label=f"{labels['hue']} = {g}")
    for i, (model, sub) in enumerate(baseline.groupby("model", sort=True) if len(baseline) else []):
        ax.scatter(sub[x_col], sub[cols["gl"]], marker="Dsv^"[i % 4], s=46, zorder=4, edgecolors="k",
                   linewidths=1.2, c=[colours.get(g, "0.5") for g in sub[cols["hue"]]],
                   label=f"{model.replace('_', '-')} denoiser" if model == "empirical_optimal" else model)
    group_col = p.get("group_fit_column", None)
    for g in groups if group_col else []:
        sub = df[df[cols["hue"]] == g]
        gf = fit_row(x_col, scope=str(sub[group_col].iloc[0]))
        if gf is not None:
            xs = np.geomspace(sub[x_col].min(), sub[x_col].max(), 100)
            ax.plot(xs, _num(gf, "plateau", 1.0) * logistic_log2(xs, gf["a"], gf["b"]), color=colours[g], lw=0.9,
                    ls="--", alpha=0.9, label=f"its own fit: {x_label}* = {_num(gf, 'x_star'):.3g}")
    f = fit_row(x_col)
    if f is not None:
        lo = min(df[x_col].min(), baseline[x_col].min()) if len(baseline) else df[x_col].min()
        hi = max(df[x_col].max(), baseline[x_col].max()) if len(baseline) else df[x_col].max()
        xs = np.geomspace(lo, hi, 200)
        plateau = _num(f, "plateau", 1.0)
        x_star = _num(f, "x_star", _num(f, "x_at_threshold"))
        fraction = _num(f, "fraction")
        ci = (f" [{_num(f, 'ci_low'):.3g}, {_num(f, 'ci_high'):.3g}]"
              if np.isfinite(_num(f, "ci_low")) and np.isfinite(_num(f, "ci_high")) else "")
        if np.isfinite(fraction):
            fixed = str(f.get("plateau_fixed", "")).lower() == "true"
            where = f"GL = {fraction:g} x plateau ({'fixed' if fixed else 'fitted'} {plateau:.3g})"
        else:
            where = f"GL = {p.threshold:g}"
        inside = f.get("x_star_inside", None)
        outside = str(inside).lower() == "false"
        label = (f"sigmoid fit: a={f['a']:.2f}, b={f['b']:.2f}, RMSE {f['rmse']:.3f}\n"
                 f"{x_label} at {where}: {x_star:.3g}{ci}" + (" (OUTSIDE the data)" if outside else ""))
        ax.plot(xs, plateau * logistic_log2(xs, f["a"], f["b"]), "k--", lw=1.5, label=label)
        if np.isfinite(x_star):
            ax.axvline(x_star, color="red" if outside else "0.3", lw=1.0, ls=":")
            ax.plot([x_star], [plateau * fraction if np.isfinite(fraction) else p.threshold], marker="*",
                    color="k", ms=11, zorder=5, ls="none")
        if np.isfinite(fraction):
            ax.axhline(plateau * fraction, color="0.6", lw=0.7, ls="-.")
    ax.axhline(p.threshold, color="0.4", lw=0.8, ls=":")
    ax.set_xscale("log", base=2)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(x_label)
    ax.set_ylabel("GL score")
    if legend_outside:  # beside the panel: never over a data point (save_figure crops to the legend too)
        ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    else:
        ax.legend(fontsize="x-small", loc="upper left")  # low x = low GL: the upper left is free


legend_outside = p.get("legend", "inside") == "outside"
fig, (top, bottom) = plt.subplots(2, 1, figsize=(5.2, 8.0 if legend_outside else 7.0))
panel(top, cols["x"], labels["x"])
panel(bottom, cols["n"], labels["n"])
top.set_title(labels["title"])
note = p.get("note", "")
if note:
    fig.text(0.01, 0.0, note, fontsize="x-small", ha="left", va="top", wrap=True)
if legend_outside:  # keep the panels' size; the saved figure is cropped out to the legends (bbox_inches tight)
    fig.subplots_adjust(left=0.13, right=0.97, top=0.95, bottom=0.07, hspace=0.28)
else:
    fig.tight_layout()
save_figure(fig, snakemake.output.figure, dict(style), dpi=style["dpi"],  # noqa: F821
            extra={"threshold": p.threshold, "fit_scope": p.fit_scope, "columns": cols})
log.info("%d models, %d groups -> %s", len(df), len(groups), snakemake.output.figure)  # noqa: F821
