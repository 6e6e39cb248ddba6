"""GL score (Eq. 21) of one U-Net of the real-data grid (rule realdata_gl_eval): generate samples,
embed them, the model's training subset and the held-out real images with the configured
descriptor, set the copy threshold (fixed, or calibrated like Eq. 46 on held-out images) and count
the generated samples that are not copies."""
import json

import numpy as np
import torch

from molrg.datasets import load_prepared, save_npz, subset
from molrg.descriptors import build_descriptor, calibrate_threshold, embed, gl_score
from molrg.runtime import derive_seed, select_device, set_threads, setup_logging
from molrg.sampler import generate
from molrg.training import load_denoiser

log = setup_logging(snakemake.log[0], "realdata_gl_eval")
set_threads(snakemake.threads)
p, w = snakemake.params, snakemake.wildcards
N, rep = int(w.N), int(w.seed)
device = select_device(p.device)
gl, s, dsc = p.gl, p.sampler, p.descriptor

x_train, y_train = load_prepared(snakemake.input.train)
x_sub, _ = subset(x_train, y_train, N)
x_held, _ = load_prepared(snakemake.input.heldout)
D = load_denoiser(snakemake.input.model, device)
seed = derive_seed(p.seed, "gl_samples", w.dataset, N, rep)
gen = generate(D, gl["num_samples"], tuple(x_train.shape[1:]), seed, batch_size=p.batch_size, device=device,
               num_steps=s["num_steps"], sigma_min=s["sigma_min"], sigma_max=s["sigma_max"], rho=s["rho"])
gen = gen.clamp(-1, 1)  # images, as they would be saved; the descriptor sees the same range as data

desc = build_descriptor(dsc["kind"], getattr(snakemake.input, "classifier", None), dsc["sscd_path"], device)
f_gen, f_sub = embed(desc, gen, device=device), embed(desc, x_sub, device=device)
if dsc["threshold"] is not None:
    threshold, how = float(dsc["threshold"]), "fixed"
else:
    f_held = embed(desc, x_held, device=device)
    ref = f_sub if gl["calibration"] == "per_subset" else embed(desc, x_train, device=device)
    threshold = calibrate_threshold(f_held, ref, gl["quantile"])
    ref_name = "this U-Net's training subset" if gl["calibration"] == "per_subset" else "whole training set"
    how = f"calibrated: {gl['quantile']:.2f}-quantile of held-out max-similarity to the {ref_name}"
score, sims = gl_score(f_gen, f_sub, threshold)
# the same count for the held-out real images: about gl.quantile when calibrated per subset
held_score = gl_score(embed(desc, x_held, device=device), f_sub, threshold)[0]
result = {"dataset": w.dataset, "N": N, "seed": rep, "gl": score, "threshold": threshold, "threshold_rule": how,
          "descriptor": dsc["kind"], "num_samples": int(len(gen)), "max_sim_mean": float(sims.mean()),
          "max_sim_median": float(sims.median()), "heldout_gl": held_score, "sample_seed": seed}
with open(snakemake.input.external) as f:  # SSCD / Inception files and their sha256, if any
    result["external_files"] = json.load(f)
with open(snakemake.output.gl, "w") as f:
    json.dump(result, f, indent=1)
save_npz(snakemake.output.samples, x=gen.numpy().astype(np.float32))
log.info("%s N=%d seed=%d: GL %.3f (held-out real images %.3f) with %s threshold %.4f (%s)", w.dataset, N, rep,
         score, held_score, dsc["kind"], threshold, how)
