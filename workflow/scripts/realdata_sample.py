"""Samples of one model of Table 1 / Fig 1 (rule realdata_sample): the reference U-Net, the
Gaussian or the per-class MoLRG, all from the same seeded initial noises of the dataset, with the
EDM Heun sampler (spec §5.2: 'all three models start from the same initial noise')."""
import json

import numpy as np
import torch

from molrg.checkpoint import load_denoiser
from molrg.datasets import save_npz
from molrg.estimate import Float64Denoiser, load_model
from molrg.runtime import derive_seed, job_context
from molrg.sampler import generate

p, log, device = job_context(snakemake, "realdata_sample")  # noqa: F821
w = snakemake.wildcards
with open(snakemake.input.manifest) as f:
    shape = tuple(json.load(f)["shape"])
if w.model.startswith("unet"):  # the final reference U-Net or one of its kept checkpoints
    D = load_denoiser(snakemake.input.model, device)
else:
    model, fitted_shape, _ = load_model(snakemake.input.model)
    if tuple(fitted_shape) != shape:
        raise ValueError(f"{snakemake.input.model} was fitted on shape {fitted_shape}, the data have {shape}")
    D = Float64Denoiser(model).to(device)
seed = derive_seed(p.seed, "table1_noise", w.dataset)  # the same for every model of the dataset
s = p.sampler
x = generate(D, p.num_samples, shape, seed, batch_size=p.batch_size, device=device, dtype=torch.float32,
             num_steps=s["num_steps"], sigma_min=s["sigma_min"], sigma_max=s["sigma_max"], rho=s["rho"])
x = x.numpy().astype(np.float32)
if not np.isfinite(x).all():
    raise FloatingPointError(f"{w.dataset}/{w.model}: non-finite samples")
save_npz(snakemake.output.samples, x=x, seed=np.int64(seed))
log.info("%s/%s: %d samples %s from noise seed %d; range [%.3f, %.3f]", w.dataset, w.model, len(x), shape, seed,
         x.min(), x.max())
