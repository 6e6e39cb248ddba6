"""Fig 1 (rule plot_fig1; molrg.plots.samples.fig1): for each dataset, rows U-Net / single Gaussian /
per-class MoLRG, one column per shared initial noise, labelled from Table 1 and the checkpoint-stability
table; appearance from the `plot` section."""
import numpy as np
import pandas as pd

from molrg.plots.samples import ROWS, fig1
from molrg.provenance import save_figure
from molrg.runtime import setup_logging

p = snakemake.params  # noqa: F821
log = setup_logging(snakemake.log[0], "plot")  # noqa: F821


def first(path, k):
    with np.load(path) as z:
        return z["x"][:k]


samples = {(name, model): first(snakemake.input[f"{name}_{model}"], p.fig_noises)  # noqa: F821
           for name in p.datasets for model, _ in ROWS}
fig = fig1(samples, pd.read_csv(snakemake.input.table1), pd.read_csv(snakemake.input.stability),  # noqa: F821
           list(p.datasets), p.num_steps, p.style)
save_figure(fig, snakemake.output.fig, p.config_slice, dpi=p.style["dpi"], seed=p.seed)  # noqa: F821
log.info("wrote %s", snakemake.output.fig)  # noqa: F821
