"""The FID table (rule realdata_fid_table): the per-dataset rows in one tidy CSV with provenance."""
import pandas as pd

from molrg.provenance import save_table

p = snakemake.params
df = pd.concat([pd.read_csv(f) for f in snakemake.input.parts], ignore_index=True)
df = df.sort_values(["dataset", "model", "N", "seed"], kind="stable").reset_index(drop=True)
save_table(df, snakemake.output.csv, p.config_slice, seed=p.seed,
           extra={"note": "FID of generated samples against real training images; see column 'features' "
                          "(Inception only when realdata.fid.inception_path is set)"})
