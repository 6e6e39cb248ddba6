"""Fig 5. Top: the edit grid of the first edited image (rows: singular vectors v_1..v_k and two random
directions, each with its change from the reconstruction under it; columns: the original, the DDIM
reconstruction and the strengths; the classifier's label over each image). Bottom left: per
strength, the L2 change of all random-direction edits (box) against the singular-vector edits
(points). Bottom right: label-change rates with Wilson 95 % intervals."""
from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..edit_stats import RANDOM, SINGULAR

UNIT_TEXT = {"norm_fraction": "x_t + f ||x_t|| v (f: fraction of the state's norm)",
             "vp": "x_vp + lambda v (VP units, LOCO-Edit)", "edm": "x + lambda v (EDM units)"}


def to_display(x: np.ndarray) -> np.ndarray:
    """(C, H, W) in [-1, 1] -> an array imshow takes (grey for one channel)."""
    img = np.clip((x + 1) / 2, 0, 1)
    return img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)


def edit_grid_panel(top, z) -> None:
    """The edit grid of one image into the (sub)figure `top`; z: the arrays of
    molrg.edit_experiment.figure_arrays (the editing rule's npz)."""
    edited, strengths, names, gains = z["edited"], z["strengths"], z["directions"], z["gains"]
    original, recon, t_edit = z["original"], z["reconstruction"], float(z["t_edit"])
    sigma_edit, units, train = float(z["sigma_edit"]), str(z["strength_units"]), z["sigma_train"]
    image_id, label_before, labels_after = z["image"].item(), int(z["labels_before"]), z["labels_after"]
    has_labels = label_before >= 0
    m, L = edited.shape[:2]
    axes = top.subplots(2 * m, L + 2, squeeze=False)
    diff = edited - recon[None, None]  # what each edit changed, shown under its row
    lim = max(float(np.abs(diff).max()), 1e-6)
    cmap = "gray" if original.shape[0] == 1 else None
    for i in range(m):
        row, change = axes[2 * i], axes[2 * i + 1]
        for ax, img in zip(row, [original, recon] + [edited[i, j] for j in range(L)]):
            ax.imshow(to_display(img), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        for j in range(L):  # the change, averaged over channels, on one symmetric scale for all panels
            change[j + 2].imshow(diff[i, j].mean(axis=0), cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
            if has_labels:
                after = int(labels_after[i, j])
                row[j + 2].set_title(f"label {after}", fontsize="x-small", color="C3" if after != label_before else "k")
        for ax in list(row) + list(change):
            ax.set_xticks([])
            ax.set_yticks([])
        kind = "random" if str(names[i]).startswith("r") else "singular"
        row[2].set_ylabel(f"{names[i]} ({kind})\n|J v| = {gains[i]:.3g}", fontsize="x-small")
        change[2].set_ylabel("change", fontsize="x-small")
        for ax in list(change[:2]) + ([] if i == 0 else list(row[:2])):  # original/recon only once
            ax.set_visible(False)
    axes[0, 0].set_title(f"original (row {image_id})", fontsize="x-small")
    axes[0, 1].set_title("DDIM recon." + (f"\nlabel {label_before}" if has_labels else ""), fontsize="x-small")
    name = "f" if units == "norm_fraction" else "lambda"
    for j, lam in enumerate(strengths):
        axes[0, j + 2].set_title(f"{name} = {lam:+g}" + (f"\nlabel {int(labels_after[0, j])}" if has_labels else ""),
                                 fontsize="x-small",
                                 color="C3" if has_labels and int(labels_after[0, j]) != label_before else "k")
    if np.isfinite(train).all():
        inside = train[0] <= sigma_edit <= train[1]
        train_text = (f"sigma {sigma_edit:.3g} {'inside' if inside else 'OUTSIDE'} the trained range "
                      f"[{train[0]:.2g}, {train[1]:.2g}]")
    else:
        train_text = f"sigma {sigma_edit:.3g} (trained range unknown)"
    top.suptitle(f"Edits {UNIT_TEXT.get(units, units)} at t = {t_edit:g} T, {train_text}, then DDIM to t = 0\n"
                 f"change: edited - reconstruction, colour range +-{lim:.2g}; red label: changed", fontsize="small")


def edit_distributions(ax_l2, ax_rate, table: pd.DataFrame, summary: pd.DataFrame, units: str) -> None:
    """Over all images: the L2 changes per strength (random edits as boxes, the singular edits as
    points) and the label-change rates of both kinds with their Wilson intervals."""
    levels = sorted(table.strength.unique())
    pos = np.arange(len(levels))
    rnd = [table.loc[(table.strength == s) & (table.kind == RANDOM), "l2_change"].to_numpy() for s in levels]
    if any(len(r) for r in rnd):
        ax_l2.boxplot([r if len(r) else [np.nan] for r in rnd], positions=pos, widths=0.5, whis=(5, 95),
                      showfliers=True, flierprops={"markersize": 2, "alpha": 0.4}, patch_artist=True,
                      boxprops={"facecolor": "0.85"}, medianprops={"color": "k"})
    rng = np.random.default_rng(0)  # jitter of the points (display only)
    vnames = sorted(table.loc[table.kind == SINGULAR, "direction"].unique(), key=lambda s: int(s[1:]))
    for c, v in enumerate(vnames):
        for x, s in zip(pos, levels):
            y = table.loc[(table.strength == s) & (table.direction == v), "l2_change"].to_numpy()
            ax_l2.scatter(x + 0.3 + 0.08 * c + rng.uniform(-0.03, 0.03, len(y)), y, s=6, color=f"C{c}",
                          label=v if x == 0 else None, alpha=0.8)
    ax_l2.set_xticks(pos, [f"{s:g}" for s in levels])
    ax_l2.set_xlim(-0.6, len(levels) - 0.3)
    ax_l2.set_xlabel(f"strength ({units})")
    ax_l2.set_ylabel("L2 change of the final image")
    n_img = table.image.nunique()
    n_rand = table.loc[table.kind == RANDOM, "direction"].nunique()
    ax_l2.set_title(f"{n_img} images; box: {n_rand} random directions each (5-95 %), points: v_i", fontsize="small")
    ax_l2.legend(fontsize="x-small", loc="upper left")

    for k, (kind, colour) in enumerate(((SINGULAR, "C0"), (RANDOM, "0.4"))):
        g = summary[summary.kind == kind].set_index("strength").reindex(levels)
        rate = g.label_change_rate.to_numpy(dtype=float)
        err = np.vstack([rate - g.rate_ci_lo.to_numpy(dtype=float), g.rate_ci_hi.to_numpy(dtype=float) - rate])
        ax_rate.errorbar(pos + (k - 0.5) * 0.15, rate, yerr=err, fmt="o", color=colour, capsize=3,
                         label=f"{kind} (n = {int(g.n_labelled.max()) if g.n_labelled.notna().any() else 0} "
                               "per strength)")
    ax_rate.set_xticks(pos, [f"{s:g}" for s in levels])
    ax_rate.set_ylim(-0.02, 1.02)
    ax_rate.set_xlabel(f"strength ({units})")
    ax_rate.set_ylabel("fraction of edits changing the label")
    ax_rate.set_title("classifier label changes (Wilson 95 % CI)" if summary.n_labelled.sum() else
                      "no classifier: no labels", fontsize="small")
    ax_rate.legend(fontsize="x-small")


def fig5(z, table: pd.DataFrame, summary: pd.DataFrame, style: dict) -> Figure:
    """Fig 5 from the editing rule's outputs: z (the npz's arrays, molrg.edit_experiment.figure_arrays), the
    tidy table and the summary (molrg.edit_stats); style: config `plot` (font_scale)."""
    matplotlib.rcParams.update({"font.size": 9 * style["font_scale"]})
    m, L = z["edited"].shape[:2]
    fig = Figure(figsize=(max(7.0, 1.0 * (L + 2)), 1.9 * m + 3.2), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.9 * m, 3.2])
    edit_grid_panel(top, z)
    edit_distributions(*bottom.subplots(1, 2), table, summary, str(z["strength_units"]))
    return fig
