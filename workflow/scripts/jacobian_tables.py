"""Rule jacobian_tables: the tidy rank table of every dataset, noise and model (the U-Net and the
closed-form Gaussian / MoLRG of the same data at the same states), and Table 2 (d_intr at the
measured minimum of the mean U-Net rank curve with its uncertainty over the noises, and at the fixed
sigma, spec §7): `valid` is the U-shape's significance (molrg.jacobian.u_shape_test); where the
minimum sits relative to the training noise distribution is reported beside it (molrg.jacobian.table2)."""
import json
import re

import numpy as np

from molrg.jacobian import rank_records, rank_table, table2
from molrg.provenance import save_table
from molrg.runtime import setup_logging

p = snakemake.params  # noqa: F821
log = setup_logging(snakemake.log[0], "jacobian_tables")  # noqa: F821

records, train_configs = [], {}
for path in snakemake.input.npz:  # noqa: F821
    dataset, noise = re.search(r"jacobian/([^/]+)/noise(\d+)\.npz$", path).groups()
    with np.load(path) as z:
        records += rank_records(dataset, int(noise), z, p.closed_form_models)
        train_configs.setdefault(dataset, json.loads(str(z["train_config"])))
ranks = rank_table(records, p.closed_form_models)
t2 = table2(ranks, p.datasets, p.fixed_sigma, train_configs, p.train_sigma_mass, p.seed, p.closed_form_models)
log.info("Table 2:\n%s", t2.to_string())
save_table(ranks, snakemake.output.ranks, p.config_slice, seed=p.seed)  # noqa: F821
save_table(t2, snakemake.output.table2, p.config_slice, seed=p.seed)  # noqa: F821
