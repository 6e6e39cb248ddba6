"""FID of every sample set of one dataset against its real training images (rule realdata_fid),
through clean-fid's folder code path: Inception from a local file, else the pipeline's classifier
features (labelled in every row)."""
from pathlib import Path

import numpy as np
import pandas as pd

from molrg.cells import parse_cell
from molrg.datasets import load_prepared
from molrg.descriptors import load_classifier
from molrg.fid import array_features, build_extractor, fid_from_features
from molrg.runtime import job_context

p, log, device = job_context(snakemake, "realdata_fid")  # noqa: F821
name = snakemake.wildcards.dataset
net = load_classifier(snakemake.input.classifier, device) if hasattr(snakemake.input, "classifier") else None
extract, kind, label = build_extractor(p.fid["inception_path"], net, device)
x_train, _ = load_prepared(snakemake.input.train)
real = x_train[: p.fid["num_real"]]  # train rows are in seeded random order: a random subset
f_real = array_features(real, extract, kind, p.fid["batch_size"], device)
rows = []
for path in snakemake.input.samples:
    with np.load(path) as z:
        x = np.clip(z["x"], -1, 1)
    # a GL grid cell's samples.npz, in its cell's folder, or samples/<model>.npz of Table 1's models
    cell = parse_cell(Path(path).parent.name) if Path(path).parent.parent.name == "gl_models" else None
    model = "gl_unet" if cell else Path(path).stem
    f = array_features(x, extract, kind, p.fid["batch_size"], device)
    rows.append({"dataset": name, "model": model, "N": cell.N if cell else len(x_train),
                 "seed": cell.seed if cell else 0, "fid": fid_from_features(f_real, f),
                 "num_generated": len(x), "num_real": len(real), "features": label})
    log.info("%s %s: FID %.3f (%s)", name, path, rows[-1]["fid"], label)
pd.DataFrame(rows).to_csv(snakemake.output.csv, index=False, float_format="%.6g", lineterminator="\n")
