"""Figure rule of Fig 5 (molrg.plots.editing.fig5): the edit grid of the first edited image, the L2
changes of the singular and random edits per strength and the label-change rates."""
import numpy as np
import pandas as pd

from molrg.plots.editing import fig5
from molrg.provenance import save_figure
from molrg.runtime import setup_logging

p = snakemake.params  # noqa: F821
log = setup_logging(snakemake.log[0], "plot")  # noqa: F821
with np.load(snakemake.input.npz) as z:  # noqa: F821
    arrays = dict(z)
fig = fig5(arrays, pd.read_csv(snakemake.input.table), pd.read_csv(snakemake.input.summary), p.style)  # noqa: F821
save_figure(fig, snakemake.output.fig, {"plot": dict(p.style)}, dpi=p.style["dpi"])  # noqa: F821
log.info("wrote %s", snakemake.output.fig)  # noqa: F821
