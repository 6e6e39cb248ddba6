"""Figure rules of the Jacobian analysis (molrg.plots.jacobian): Fig 7 (kind fig7: the rank table and
Table 2) and the closed-form MoLRG check (kind molrg: the MoLRG rank table). Appearance from the
`plot` section."""
import pandas as pd

from molrg.plots.jacobian import fig7, molrg_rank_figure
from molrg.provenance import save_figure
from molrg.runtime import setup_logging

p = snakemake.params  # noqa: F821
log = setup_logging(snakemake.log[0], "plot")  # noqa: F821
if p.kind == "fig7":
    fig = fig7(pd.read_csv(snakemake.input.ranks), pd.read_csv(snakemake.input.table2), p.style, p.eta)  # noqa: F821
else:
    fig = molrg_rank_figure(pd.read_csv(snakemake.input.table), p.style)  # noqa: F821
save_figure(fig, snakemake.output.fig, {"plot": dict(p.style)}, dpi=p.style["dpi"])  # noqa: F821
log.info("wrote %s", snakemake.output.fig)  # noqa: F821
