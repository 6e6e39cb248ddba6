"""GL score (Eq. 21) of one model of the real-data grid (rules realdata_gl_eval and
realdata_gl_empirical): generate samples, embed them, the model's training subset and the held-out
real images with the configured descriptor, set the copy threshold (fixed, or calibrated like Eq. 46
on held-out images) and count the generated samples that are not copies, with the memorisation
evidence from the same features (molrg.real_gl.descriptor_gl).

model = unet: the grid's U-Net (input `model`); model = empirical_optimal: the exact posterior mean
of the training subset (molrg.empirical.EmpiricalDenoiser), sampled with the same sampler and latents
rule: it regenerates training images, so it must score GL ~ 0 and copy rate ~ 1 (a check of the metric)."""
import json

import numpy as np
import torch

from molrg.checkpoint import load_denoiser
from molrg.datasets import load_prepared, save_npz, subset
from molrg.descriptors import build_descriptor, descriptor_gl
from molrg.empirical import EmpiricalDenoiser
from molrg.runtime import derive_seed, job_context
from molrg.sampler import generate

p, log, device = job_context(snakemake, "realdata_gl_eval")  # noqa: F821
w = snakemake.wildcards
N, rep = int(w.N), int(getattr(w, "seed", 0))
model = p.model
gl, s, dsc = p.gl, p.sampler, p.descriptor

x_train, y_train = load_prepared(snakemake.input.train)
x_sub, _ = subset(x_train, y_train, N)
x_held, _ = load_prepared(snakemake.input.heldout)
if model == "unet":
    D = load_denoiser(snakemake.input.model, device)
elif model == "empirical_optimal":
    D = EmpiricalDenoiser(torch.from_numpy(x_sub)).to(device)
else:
    raise ValueError(f"realdata_gl_eval: model must be unet or empirical_optimal, got {model!r}")
seed = derive_seed(p.seed, "gl_samples", w.dataset, N, rep)  # the same latents for both models of a cell
gen = generate(D, gl["num_samples"], tuple(x_train.shape[1:]), seed, batch_size=p.batch_size, device=device,
               num_steps=s["num_steps"], sigma_min=s["sigma_min"], sigma_max=s["sigma_max"], rho=s["rho"])
gen = gen.float().clamp(-1, 1)  # images, as they would be saved; the descriptor sees the same range as data

desc = build_descriptor(dsc["kind"], getattr(snakemake.input, "classifier", None), dsc["sscd_path"], device)
scores, nn = descriptor_gl(desc, gen, x_sub, x_train, x_held, threshold=dsc["threshold"], calibration=gl["calibration"],
                           eps_quantile=gl["eps_quantile"], copy_fraction=gl["copy_fraction"], descriptor_kind=dsc["kind"],
                           device=device)
result = {"dataset": w.dataset, "model": model, "N": N, "seed": rep, **scores, "sample_seed": seed,
          "train_iterations": p.iterations}
with open(snakemake.input.external) as f:  # SSCD / Inception files and their sha256, if any
    result["external_files"] = json.load(f)
with open(snakemake.output.gl, "w") as f:
    json.dump(result, f, indent=1)
save_npz(snakemake.output.samples, x=gen.numpy().astype(np.float32))
np.savez(snakemake.output.nn, **nn)  # nearest training image of every sample, for the memorisation figure
log.info("%s %s N=%d seed=%d: %s", w.dataset, model, N, rep, {k: v for k, v in scores.items() if k != "descriptor"})
