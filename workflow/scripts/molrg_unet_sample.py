"""Generate one cell's samples (rule molrg_unet_sample): EDM Heun from seeded latents, kept as
float32 images (no clipping, no quantisation)."""
import numpy as np
import torch

from molrg.checkpoint import load_denoiser
from molrg.runtime import derive_seed, job_context
from molrg.sampler import generate

wc = snakemake.wildcards
p, log, device = job_context(snakemake)  # noqa: F821
D = load_denoiser(snakemake.input.model, device)
seed = derive_seed(p.seed, "molrg_unet_sample", wc.mu_d, wc.mu_N, wc.mu_seed)
x = generate(D, p.num, (3, p.resolution, p.resolution), seed, batch_size=p.batch, device=device,
             dtype=torch.float32, **dict(p.heun))
if not torch.isfinite(x).all():
    raise FloatingPointError(f"{snakemake.input.model}: the sampler produced non-finite values")
np.savez(snakemake.output.samples, x=x.numpy())
log.info("%d samples from %s (std %.4f) -> %s", x.shape[0], snakemake.input.model, float(x.std()), snakemake.output.samples)
