"""GL score of one cell (rule molrg_unet_gl): phi = identity, eps from Eq. 46 with fresh samples of
the cell's own MoLRG (its saved bases), GL by Eq. 21. Writes a one-row CSV."""
import numpy as np
import pandas as pd
import torch

from molrg.gl import gl_from_distances, nn_distances
from molrg.mixture import standard_molrg, sample
from molrg.networks import vectors_to_images
from molrg.runtime import setup_logging

p, wc = snakemake.params, snakemake.wildcards
log = setup_logging(snakemake.log[0])
data = np.load(snakemake.input.data)
train = torch.from_numpy(data["x"]).double()
generated = torch.from_numpy(np.load(snakemake.input.samples)["x"]).double()
U = torch.from_numpy(data["U"])
K, n, d = U.shape
fresh, _ = sample(standard_molrg(U), p.num_fresh, torch.Generator().manual_seed(p.fresh_seed))
fresh = vectors_to_images(fresh)  # the training set's layout (distances do not depend on it)

fresh_dist = nn_distances(fresh, train)
eps = float(torch.quantile(fresh_dist, p.quantile))
gen_dist = nn_distances(generated, train)
gl = gl_from_distances(gen_dist, eps)
N = train.shape[0]
row = {"d": d, "K": K, "n": n, "d_intr": K * d, "N": N, "N_over_d_intr": N / (K * d), "seed": p.seed,
       "gl": gl, "eps": eps, "eps_quantile": p.quantile, "num_generated": generated.shape[0],
       "num_fresh": p.num_fresh, "median_nn_dist_generated": float(gen_dist.median()),
       "median_nn_dist_fresh": float(fresh_dist.median())}
pd.DataFrame([row]).to_csv(snakemake.output.row, index=False, float_format="%.6g", lineterminator="\n")
log.info("d=%d N=%d seed=%d: eps = %.4f, GL = %.4f", d, N, p.seed, eps, gl)
