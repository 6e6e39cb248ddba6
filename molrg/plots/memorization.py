"""Memorisation you can see: generated samples (top row of each panel) beside their nearest training
samples (bottom row), one panel per model (e.g. the smallest and the largest training set of a GL
grid), with each pair's distance, the copy threshold, the copy rate and GL. For MoLRG vectors and real
images alike; a pair closer than the copy threshold gets a red frame ("copy")."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

INFO = (("copy_rate", "copy rate"), ("gl", "GL"), ("nn_ratio", "NN ratio"), ("copy_threshold", "copy threshold"))


def memorization_pairs(title: str, generated, train, nn, num_pairs: int) -> dict:
    """One panel: the first num_pairs generated samples (M, ...) and their nearest training samples
    (train (N, ...) indexed by nn['nn_idx']) with nn['nn_dist'], and the scalars of `nn` among
    copy_threshold, copy_rate, gl, nn_ratio (nn: a mapping such as the NpzFile of the nn file)."""
    idx, dist = nn["nn_idx"], nn["nn_dist"]
    if len(idx) != len(generated):
        raise ValueError(f"panel {title!r}: {len(idx)} nearest neighbours for {len(generated)} samples")
    m = min(num_pairs, len(generated))
    info = {key: float(nn[key]) for key, _ in INFO if key in nn}
    return {"title": title, "generated": generated[:m], "nearest": train[idx[:m]], "dist": dist[:m], "idx": idx[:m],
            "info": info}


def as_image(v):
    """(C, H, W) -> (H, W, C) or (H, W); (n,) -> a 1 x n strip."""
    v = np.asarray(v, dtype=float)
    if v.ndim == 1:
        return v[None, :]
    if v.ndim == 3:
        return v[0] if v.shape[0] == 1 else np.moveaxis(v, 0, -1)
    return v


def memorization_figure(panels: list[dict], num_pairs: int, value_range=None,
                        suptitle: str | None = None) -> tuple[Figure, tuple[float, float]]:
    """The figure of `memorization_pairs` panels, num_pairs columns each. value_range: [lo, hi] of the
    values (e.g. [-1, 1] for pixels), or None: one symmetric scale, the 0.99-quantile of the shown
    absolute values (MoLRG's Gaussian values). Returns the figure and the colour range used."""
    if value_range is None:
        shown = np.concatenate([np.abs(np.concatenate([q["generated"].ravel(), q["nearest"].ravel()])) for q in panels])
        scale = float(np.quantile(shown, 0.99)) or 1.0
        lo, hi = -scale, scale
    else:
        lo, hi = (float(v) for v in value_range)

    def show(ax, v):
        img = np.clip((as_image(v) - lo) / (hi - lo), 0.0, 1.0)
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])

    k = num_pairs
    fig = Figure(figsize=(1.0 * k + 1.2, 2.5 * len(panels) + 0.4))
    for sf, q in zip(np.atleast_1d(fig.subfigures(len(panels), 1)), panels):
        gen, near, dist, idx, info = q["generated"], q["nearest"], q["dist"], q["idx"], q["info"]
        axes = sf.subplots(2, k, squeeze=False)
        thr = info.get("copy_threshold")
        parts = [f"{name} {info[key]:.3g}" for key, name in INFO if key in info]
        sf.suptitle(q["title"] + ("\n" + ", ".join(parts) if parts else ""), fontsize="small")
        for j in range(k):
            for row in (0, 1):
                ax = axes[row, j]
                if j >= len(gen):
                    ax.axis("off")
                    continue
                show(ax, gen[j] if row == 0 else near[j])
                copy = thr is not None and dist[j] < thr
                for spine in ax.spines.values():
                    spine.set_edgecolor("red" if copy else "0.6")
                    spine.set_linewidth(2.0 if copy else 0.6)
            if j < len(gen):
                axes[1, j].set_xlabel(f"#{idx[j]}\nd={dist[j]:.3g}", fontsize="x-small")
        axes[0, 0].set_ylabel("generated", fontsize="x-small")
        axes[1, 0].set_ylabel("nearest\ntraining", fontsize="x-small")
    if suptitle:
        fig.suptitle(suptitle + f"\n(red frame: distance below the copy threshold; colour scale [{lo:.3g}, {hi:.3g}])",
                     fontsize="small", y=1.0 + 0.55 / fig.get_figheight(), va="bottom")
    return fig, (lo, hi)
