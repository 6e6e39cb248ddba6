"""Figs 2, 3, 6 (rule plot_phase): success probability over (N_k, d), one panel per method, with the
line N_k = d and the measured boundary (molrg.plots.phase.phase_figure)."""
import pandas as pd

from molrg.plots.phase import phase_figure
from molrg.provenance import save_figure
from molrg.runtime import setup_logging

snake = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(snake.log[0])
style = snake.params.plot
tables = {name: pd.read_csv(path) for name, path in snake.input.items()}  # panel order: the rule's
for name, df in tables.items():
    log.info("%s: %d rows, mean success %.3f", name, len(df), df["success"].mean())
fig = phase_figure(tables, style)
save_figure(fig, snake.output.figure, config_slice=style, dpi=style["dpi"],
            extra={"tables": {k: str(v) for k, v in snake.input.items()}})
