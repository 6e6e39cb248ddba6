"""Memorisation you can see (molrg.plots.memorization): generated samples beside their nearest training
samples, one panel per model, with each pair's distance, the copy threshold, the copy rate and GL.

Inputs (lists of equal length, one entry per panel):
  samples  npz with `x`: generated samples (M, C, H, W) (or (M, n): drawn as 1 x n strips)
  train    npz with `x`: the model's training set (N, ...) in the same space
  nn       npz with `nn_idx`, `nn_dist` (M,) (each generated sample's nearest training point, in the
           space the distances were measured in) and optionally copy_threshold, copy_rate, gl, nn_ratio
Params: titles (one per panel), num_pairs (the first num_pairs generated samples: not picked),
value_range ([lo, hi] of the values, or None: one symmetric scale from the shown values), suptitle,
style (config `plot`)."""
import numpy as np

from molrg.plots.memorization import memorization_figure, memorization_pairs
from molrg.provenance import save_figure
from molrg.runtime import setup_logging

p = snakemake.params  # noqa: F821
inp = snakemake.input  # noqa: F821
log = setup_logging(snakemake.log[0], "plot")  # noqa: F821
files = list(zip(inp.samples, inp.train, inp.nn, p.titles))
if not len(inp.samples) == len(inp.train) == len(inp.nn) == len(p.titles):
    raise ValueError(f"plot_memorization: {len(inp.samples)} sample files, {len(inp.train)} training sets, "
                     f"{len(inp.nn)} nn files and {len(p.titles)} titles: one of each per panel is needed")
panels = []
for s_file, t_file, n_file, title in files:
    with np.load(n_file) as nn:
        panels.append(memorization_pairs(title, np.load(s_file)["x"], np.load(t_file)["x"], nn, int(p.num_pairs)))
fig, (lo, hi) = memorization_figure(panels, int(p.num_pairs), getattr(p, "value_range", None),
                                    getattr(p, "suptitle", None))
save_figure(fig, snakemake.output.figure, dict(p.style), dpi=p.style["dpi"],  # noqa: F821
            extra={"num_pairs": int(p.num_pairs), "value_range": [lo, hi], "titles": list(p.titles)})
log.info("%d panels, %d pairs each -> %s", len(panels), int(p.num_pairs), snakemake.output.figure)  # noqa: F821
