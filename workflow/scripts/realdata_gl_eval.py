"""GL score (Eq. 21) of one model of the real-data grid (rules realdata_gl_eval and
realdata_gl_empirical): generate samples, embed them, the model's training subset and the held-out
real images with the configured descriptor, set the copy threshold (fixed, or calibrated like Eq. 46
on held-out images) and count the generated samples that are not copies. The memorisation evidence
of issue #9 comes from the same features: molrg.gl.memorization_stats (copy rate: fraction of samples
closer to a training image than copy_fraction x the median held-out NN distance; NN ratio: median NN
distance of the samples / of the held-out images, both to the training subset).

model = unet: the grid's U-Net (input `model`); model = empirical_optimal: the exact posterior mean
of the training subset (molrg.empirical.EmpiricalDenoiser), sampled with the same sampler and latents
rule: it regenerates training images, so it must score GL ~ 0 and copy rate ~ 1 (a check of the metric)."""
import json

import numpy as np
import torch

from molrg.checkpoint import load_denoiser
from molrg.datasets import load_prepared, save_npz, subset
from molrg.descriptors import build_descriptor, calibrate_threshold, embed, gl_from_features
from molrg.empirical import EmpiricalDenoiser
from molrg.gl import memorization_stats
from molrg.runtime import derive_seed, select_device, set_threads, setup_logging
from molrg.sampler import generate

log = setup_logging(snakemake.log[0], "realdata_gl_eval")
set_threads(snakemake.threads)
p, w = snakemake.params, snakemake.wildcards
N, rep = int(w.N), int(getattr(w, "seed", 0))
model = p.model
device = select_device(p.device)
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
f_gen, f_sub = embed(desc, gen, device=device), embed(desc, x_sub, device=device)
f_held = embed(desc, x_held, device=device)
if dsc["threshold"] is not None:
    threshold, how = float(dsc["threshold"]), "fixed"
else:
    ref = f_sub if gl["calibration"] == "per_subset" else embed(desc, x_train, device=device)
    threshold = calibrate_threshold(f_held, ref, gl["quantile"])
    ref_name = "this U-Net's training subset" if gl["calibration"] == "per_subset" else "whole training set"
    how = f"calibrated: {gl['quantile']:.2f}-quantile of held-out max-similarity to the {ref_name}"
score, sims = gl_from_features(f_gen, f_sub, threshold)
# the same count for the held-out real images: about gl.quantile when calibrated per subset
held_score = gl_from_features(f_held, f_sub, threshold)[0]
# memorisation evidence in descriptor space (unit vectors, L2), fresh samples = held-out real images
mem = memorization_stats(f_gen, f_sub, f_held, copy_fraction=gl["copy_fraction"])
result = {"dataset": w.dataset, "model": model, "N": N, "seed": rep, "gl": score,
          "copy_rate": mem["copy_rate"], "nn_ratio": mem["nn_ratio"], "copy_threshold": mem["copy_threshold"],
          "copy_fraction": gl["copy_fraction"], "heldout_copy_rate": mem["fresh_copy_rate"],
          "median_nn_dist_generated": mem["median_nn_dist_generated"],
          "median_nn_dist_heldout": mem["median_nn_dist_fresh"],
          "threshold": threshold, "threshold_rule": how, "descriptor": dsc["kind"], "num_samples": int(len(gen)),
          "max_sim_mean": float(sims.mean()), "max_sim_median": float(sims.median()), "heldout_gl": held_score,
          "sample_seed": seed, "train_iterations": p.iterations}
with open(snakemake.input.external) as f:  # SSCD / Inception files and their sha256, if any
    result["external_files"] = json.load(f)
with open(snakemake.output.gl, "w") as f:
    json.dump(result, f, indent=1)
save_npz(snakemake.output.samples, x=gen.numpy().astype(np.float32))
# nearest training image of every sample (descriptor space), for the memorisation figure
np.savez(snakemake.output.nn, nn_idx=mem["nn_idx"].numpy().astype(np.int64),
         nn_dist=mem["nn_dist"].numpy().astype(np.float64), copy_threshold=mem["copy_threshold"],
         copy_rate=mem["copy_rate"], gl=score, nn_ratio=mem["nn_ratio"])
log.info("%s %s N=%d seed=%d: GL %.3f (held-out real images %.3f) with %s threshold %.4f (%s); copy rate %.3f "
         "(held-out %.3f), NN ratio %.3f", w.dataset, model, N, rep, score, held_score, dsc["kind"], threshold, how,
         mem["copy_rate"], mem["fresh_copy_rate"], mem["nn_ratio"])
