"""Memorisation you can see (issue #9): generated samples (top row of each panel) beside their
nearest training samples (bottom row), one panel per model (e.g. the smallest and the largest
training set of a GL grid), with each pair's distance, the copy threshold, the copy rate and GL.

Generic, for MoLRG vectors and real images alike. Inputs (lists of equal length, one entry per panel):
  samples  npz with `x`: generated samples (M, C, H, W) (or (M, n): drawn as 1 x n strips)
  train    npz with `x`: the model's training set (N, ...) in the same space
  nn       npz with `nn_idx`, `nn_dist` (M,) (each generated sample's nearest training point, in the
           space the distances were measured in: pixels, or descriptor features), and optionally
           the scalars copy_threshold, copy_rate, gl, nn_ratio (shown in the panel title)
Params: titles (one per panel), num_pairs (the first num_pairs generated samples: not picked),
value_range ([lo, hi] of the pixel values, e.g. [-1, 1]; None = one symmetric scale from the shown
values, for MoLRG's Gaussian values), suptitle, style (config `plot`).
A pair closer than the copy threshold gets a red frame ("copy").
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from molrg.provenance import save_figure  # noqa: E402
from molrg.runtime import setup_logging  # noqa: E402

p = snakemake.params  # noqa: F821
inp = snakemake.input  # noqa: F821
log = setup_logging(snakemake.log[0], "plot")  # noqa: F821
samples, trains, nns = list(inp.samples), list(inp.train), list(inp.nn)
titles = list(p.titles)
if not (len(samples) == len(trains) == len(nns) == len(titles)):
    raise ValueError(f"plot_memorization: {len(samples)} sample files, {len(trains)} training sets, "
                     f"{len(nns)} nn files and {len(titles)} titles: one of each per panel is needed")
k = int(p.num_pairs)


def as_image(v):
    """(C, H, W) -> (H, W, C) or (H, W); (n,) -> a 1 x n strip."""
    v = np.asarray(v, dtype=float)
    if v.ndim == 1:
        return v[None, :]
    if v.ndim == 3:
        return v[0] if v.shape[0] == 1 else np.moveaxis(v, 0, -1)
    return v


panels = []
for s_file, t_file, n_file, title in zip(samples, trains, nns, titles):
    gen = np.load(s_file)["x"]
    train = np.load(t_file)["x"]
    nn = np.load(n_file)
    idx, dist = nn["nn_idx"], nn["nn_dist"]
    if len(idx) != len(gen):
        raise ValueError(f"{n_file} has {len(idx)} nearest neighbours for {len(gen)} samples in {s_file}")
    m = min(k, len(gen))
    info = {key: float(nn[key]) for key in ("copy_threshold", "copy_rate", "gl", "nn_ratio") if key in nn.files}
    panels.append((title, gen[:m], train[idx[:m]], dist[:m], idx[:m], info))

if getattr(p, "value_range", None) is None:  # one symmetric scale for every panel (MoLRG: Gaussian values)
    shown = np.concatenate([np.abs(np.concatenate([g.ravel(), t.ravel()])) for _, g, t, *_ in panels])
    scale = float(np.quantile(shown, 0.99)) or 1.0
    lo, hi = -scale, scale
else:
    lo, hi = (float(v) for v in p.value_range)


def show(ax, v):
    img = np.clip((as_image(v) - lo) / (hi - lo), 0.0, 1.0)
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


style = p.style
fig = plt.figure(figsize=(1.0 * k + 1.2, 2.5 * len(panels) + 0.4))
subfigs = np.atleast_1d(fig.subfigures(len(panels), 1))
for sf, (title, gen, near, dist, idx, info) in zip(subfigs, panels):
    axes = sf.subplots(2, k, squeeze=False)
    thr = info.get("copy_threshold")
    parts = [f"{name} {info[key]:.3g}" for key, name in
             (("copy_rate", "copy rate"), ("gl", "GL"), ("nn_ratio", "NN ratio"), ("copy_threshold", "copy threshold"))
             if key in info]
    sf.suptitle(title + ("\n" + ", ".join(parts) if parts else ""), fontsize="small")
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
if getattr(p, "suptitle", None):
    fig.suptitle(p.suptitle + f"\n(red frame: distance below the copy threshold; colour scale [{lo:.3g}, {hi:.3g}])",
                 fontsize="small", y=1.0 + 0.55 / fig.get_figheight(), va="bottom")
save_figure(fig, snakemake.output.figure, dict(style), dpi=style["dpi"],  # noqa: F821
            extra={"num_pairs": k, "value_range": [lo, hi], "titles": titles})
log.info("%d panels, %d pairs each -> %s", len(panels), k, snakemake.output.figure)  # noqa: F821
