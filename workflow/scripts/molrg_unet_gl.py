"""GL score and memorisation evidence of one cell (rules molrg_unet_gl and molrg_unet_empirical):
phi = identity, eps from Eq. 46 with fresh samples of the cell's own MoLRG (its saved bases), GL by
Eq. 21, copy rate and NN-distance ratio (molrg.gl.memorization_stats). Writes a one-row CSV and an
npz with every generated sample's nearest training point (nn_idx, nn_dist; for the figures).

With `params.model == 'empirical_optimal'` (rule molrg_unet_empirical) it first samples the
empirical-optimal denoiser of the training set (molrg.empirical) with the same Heun sampler, and
writes those samples to `output.samples`; otherwise it reads the U-Net's samples."""
import numpy as np
import pandas as pd
import torch

from molrg.gl import gl_evidence
from molrg.mixture import sample, standard_molrg
from molrg.networks import vectors_to_images
from molrg.runtime import derive_seed, setup_logging

p, wc = snakemake.params, snakemake.wildcards
log = setup_logging(snakemake.log[0])
data = np.load(snakemake.input.data)
train = torch.from_numpy(data["x"]).double()
if p.model == "empirical_optimal":
    from molrg.empirical import EmpiricalDenoiser
    from molrg.sampler import generate

    x = generate(EmpiricalDenoiser(train), p.num, tuple(train.shape[1:]),
                 derive_seed(p.seed, "molrg_unet_empirical", wc.mu_d, wc.mu_N),
                 batch_size=p.batch, dtype=torch.float32, **dict(p.heun))
    np.savez(snakemake.output.samples, x=x.numpy())
    generated = x.double()
elif p.model == "unet":
    generated = torch.from_numpy(np.load(snakemake.input.samples)["x"]).double()
else:
    raise ValueError(f"unknown model {p.model!r} (unet | empirical_optimal)")
U = torch.from_numpy(data["U"])
K, n, d = U.shape
# fresh samples depend on (d, N) only: every seed of a cell is scored against the same eps
fresh_seed = derive_seed(p.seed, "molrg_unet_fresh", wc.mu_d, wc.mu_N)
fresh, _ = sample(standard_molrg(U), p.num_fresh, torch.Generator().manual_seed(fresh_seed))
fresh = vectors_to_images(fresh)  # the training set's layout (distances do not depend on it)

ev = gl_evidence(generated, train, fresh, eps_quantile=p.quantile, copy_fraction=p.copy_fraction)
N = train.shape[0]
row = {"model": p.model, "d": d, "K": K, "n": n, "d_intr": K * d, "N": N, "N_over_d_intr": N / (K * d),
       "seed": p.replicate, "gl": ev["gl"], "copy_rate": ev["copy_rate"], "nn_ratio": ev["nn_ratio"],
       "eps": ev["eps"], "eps_quantile": p.quantile, "copy_threshold": ev["copy_threshold"],
       "copy_fraction": p.copy_fraction, "fresh_copy_rate": ev["fresh_copy_rate"],
       "num_generated": generated.shape[0], "num_fresh": p.num_fresh,
       "median_nn_dist_generated": ev["median_nn_dist_generated"],
       "median_nn_dist_fresh": ev["median_nn_dist_fresh"]}
pd.DataFrame([row]).to_csv(snakemake.output.row, index=False, float_format="%.6g", lineterminator="\n")
np.savez(snakemake.output.nn, nn_idx=ev["nn_idx"].numpy(), nn_dist=ev["nn_dist"].numpy(),
         copy_threshold=ev["copy_threshold"], copy_rate=ev["copy_rate"], nn_ratio=ev["nn_ratio"],
         gl=ev["gl"], eps=ev["eps"])
log.info("%s d=%d N=%d seed=%d: eps = %.4f, GL = %.4f, copy rate = %.4f (threshold %.4g, fresh %.4f), "
         "NN ratio = %.4f", p.model, d, N, p.replicate, ev["eps"], ev["gl"], ev["copy_rate"], ev["copy_threshold"],
         ev["fresh_copy_rate"], ev["nn_ratio"])
