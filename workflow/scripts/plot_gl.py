"""Fig 4 left (MoLRG, colour = d_intr) and Fig 4 right (real data, colour = dataset): GL against
N / d_intr and against N with the sigmoid fits (molrg.plots.gl.gl_figure).

Inputs: `table` (one row per model) and `fit` (rows of molrg.sigmoid.fit_report).
Params: style (config `plot`), threshold, columns {x, n, hue, gl}, labels {title, hue, x, n},
fit_scope, and optionally curve_model, note, legend ('inside' / 'outside'), group_fit_column."""
import pandas as pd

from molrg.plots.gl import gl_figure
from molrg.provenance import save_figure
from molrg.runtime import setup_logging

p = snakemake.params  # noqa: F821
log = setup_logging(snakemake.log[0], "plot")  # noqa: F821
fig = gl_figure(pd.read_csv(snakemake.input.table), pd.read_csv(snakemake.input.fit),  # noqa: F821
                p.style, dict(p.columns), dict(p.labels), p.threshold, fit_scope=p.fit_scope,
                curve_model=p.get("curve_model", "unet"), legend=p.get("legend", "inside"),
                group_fit_column=p.get("group_fit_column", None), note=p.get("note", ""))
save_figure(fig, snakemake.output.figure, dict(p.style), dpi=p.style["dpi"],  # noqa: F821
            extra={"threshold": p.threshold, "fit_scope": p.fit_scope, "columns": dict(p.columns)})
log.info("wrote %s", snakemake.output.figure)  # noqa: F821
