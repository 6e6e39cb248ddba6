"""All cells' GL scores in one tidy table (rule molrg_unet_gl_table)."""
import pandas as pd

from molrg.provenance import save_table
from molrg.runtime import setup_logging

log = setup_logging(snakemake.log[0])
df = pd.concat([pd.read_csv(f) for f in snakemake.input.rows], ignore_index=True)
df = df.sort_values(["d", "N", "seed"], kind="stable").reset_index(drop=True)
save_table(df, snakemake.output.table, snakemake.params.config_slice, seed=snakemake.params.seed)
log.info("%d cells -> %s", len(df), snakemake.output.table)
