"""Table 1 (rule realdata_table1): Eq. 8 between the U-Net's samples and the Gaussian's / MoLRG's
samples from the same initial noises, per dataset, in both units (plain l2 and squared l2, each with
its standard error), the class agreement of the pairs (the dataset's classifier), Eq. 8 restricted to
the agreeing pairs, as CSV and Markdown; the reference U-Nets' convergence table; and the checkpoint-
stability table: the Gaussian - MoLRG gap (both units and class agreement) against the U-Net's samples
at each kept checkpoint, with its paired change against the final model (molrg.metrics)."""
import json

import numpy as np
import pandas as pd

from molrg.descriptors import load_classifier, predict_labels
from molrg.metrics import (CONVERGENCE_NOTE, STABILITY_NOTE, convergence_row, table1_dataset, table1_markdown,
                           table1_note)
from molrg.provenance import save_table, write_provenance
from molrg.runtime import setup_logging

log = setup_logging(snakemake.log[0], "realdata_table1")
p, inp, out = snakemake.params, snakemake.input, snakemake.output


def load_json(path):
    with open(path) as f:
        return json.load(f)


def samples(name, model):
    with np.load(inp[f"{name}_{model}"]) as z:
        return z["x"]


rows, conv_rows, stab_rows = [], [], []
for name in p.datasets:
    clf = load_classifier(inp[f"{name}_classifier"])
    c = load_json(inp[f"{name}_convergence"])
    steps = {k["checkpoint"]: k["step"] for k in c["kept_checkpoints"]}
    r, s = table1_dataset(name, lambda model: samples(name, model), lambda x: predict_labels(clf, x),
                          (p.molrg[name]["K"], p.molrg[name]["d"]), load_json(inp[f"{name}_classifier_metrics"]),
                          {ck: steps[ck] for ck in ["unet", *p.back]})
    rows += r
    stab_rows += s
    conv_rows.append(convergence_row(name, c))
df, conv, stab = pd.DataFrame(rows), pd.DataFrame(conv_rows), pd.DataFrame(stab_rows)
log.info("Table 1:\n%s\ncheckpoint stability:\n%s", df.to_string(), stab.to_string())
extra = {"note": table1_note(p.sampler["num_steps"])}
save_table(df, out.csv, p.config_slice, seed=p.seed, extra=extra)
save_table(conv, out.convergence, p.config_slice, seed=p.seed, extra={"note": CONVERGENCE_NOTE})
save_table(stab, out.stability, p.config_slice, seed=p.seed, extra={"note": STABILITY_NOTE})
with open(out.md, "w") as fh:
    fh.write(table1_markdown(df, conv, stab, extra["note"]))
write_provenance(out.md, p.config_slice, seed=p.seed, extra=extra)
