"""Rule editing (Section 4.2, Fig 5, spec §8; molrg.edit_experiment): for each of a seeded choice of training
images, DDIM inversion to the edit time, the leading right singular vectors v_1..v_k of the Jacobian
of the clean-image estimate there and `num_random` seeded uniform unit directions, edits
x_t + lambda v at every strength (default: lambda = f ||x_t||, a fraction of the state's norm), DDIM
back to t = 0, and the dataset's classifier's label of every edited image against that of the
unedited reconstruction. Writes the tidy table (molrg.edit_stats describes its columns), the summary
per strength and kind, and the edits of the first image for the figure. The table records the edit's
sigma and whether it lies inside the sigma range the network was trained on."""
import json

import numpy as np
import torch

from molrg.descriptors import load_classifier
from molrg.edit_stats import edit_table, summarise
from molrg.edit_experiment import edit_experiment, edit_labels, figure_arrays, load_edit_image, select_images
from molrg.checkpoint import checkpoint_train_config, load_checkpoint_denoiser
from molrg.jacobian import trained_sigma_range
from molrg.provenance import save_table
from molrg.runtime import job_context

inp, out = snakemake.input, snakemake.output  # noqa: F821
p, log, device = job_context(snakemake, "editing")  # noqa: F821

model = load_checkpoint_denoiser(inp.model, device, kind=p.checkpoint_kind)
if p.image_file:
    x0, image_ids = load_edit_image(inp.image, model, p.image_size), ["file"]
else:
    with np.load(inp.data) as z:
        image_ids = select_images(len(z["x"]), p.image_indices, p.num_images, p.seed, p.source_name)
        x0 = torch.from_numpy(z["x"][image_ids].astype(np.float32))
train_config = checkpoint_train_config(inp.model, p.checkpoint_kind)
lo, hi = trained_sigma_range(train_config, p.train_sigma_mass) if train_config else (float("nan"), float("nan"))

result = edit_experiment(model, x0.to(device), image_ids, p.seed, p.source_name, edit_t=p.edit_t,
                         ddim_steps=p.ddim_steps, t_min=p.t_min, num_vectors=p.num_vectors, num_random=p.num_random,
                         strengths=p.strengths, units=p.strength_units, power_iters=p.power_iters, tol=p.tol,
                         batch_size=p.batch_size)
inside = bool(lo <= result["sigma_edit"] <= hi) if train_config else None
log.info("trained sigma range (central %g): [%.4g, %.4g]; edit sigma inside: %s", p.train_sigma_mass, lo, hi, inside)
labels, accuracy = None, float("nan")
if "classifier" in inp.keys():
    labels = edit_labels(load_classifier(inp.classifier), x0, result, p.classifier_resolution)
if "classifier_metrics" in inp.keys():
    with open(inp.classifier_metrics) as f:
        acc = json.load(f).get("heldout_accuracy")
    accuracy = float("nan") if acc is None else float(acc)

table = edit_table(p.dataset, image_ids, result, labels, accuracy, (lo, hi), inside)
summary = summarise(table)
log.info("summary:\n%s", summary.to_string())
np.savez(out.npz, **figure_arrays(x0, image_ids, result, labels, (lo, hi)))
save_table(table, out.table, p.config_slice, seed=p.seed, device=device)
save_table(summary, out.summary, p.config_slice, seed=p.seed, device=device)
