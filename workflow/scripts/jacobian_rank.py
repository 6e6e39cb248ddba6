"""Rule jacobian_rank: numerical rank of the Jacobian of one dataset's reference U-Net along the
deterministic Heun trajectories of `num_noises` seeded latents, one npz per noise (spec §7;
molrg.jacobian), and of the closed-form Gaussian and MoLRG denoisers of the same data (the
per-class estimates of Table 1) at the same states through the same rank rule (what models of the
data itself give: evidence beside Fig 7 / Table 2)."""
import json

import numpy as np
import torch

from molrg.checkpoint import checkpoint_train_config, load_checkpoint_denoiser
from molrg.estimate import load_model
from molrg.jacobian import rank_along_trajectory
from molrg.mixture import MoLRGDenoiser
from molrg.progress import progress
from molrg.runtime import derive_seed, job_context

inp = snakemake.input  # noqa: F821
p, log, device = job_context(snakemake, "jacobian_rank")  # noqa: F821
dataset = snakemake.wildcards.dataset  # noqa: F821

with open(inp.manifest) as f:
    shape = [int(s) for s in json.load(f)["shape"]]  # (C, H, W) of the dataset's images
model = load_checkpoint_denoiser(inp.model, device)
# the noise distribution the U-Net was trained with (molrg.training stores its TrainConfig)
train_config = checkpoint_train_config(inp.model) or {}

others = {}
for name in p.closed_form_models:  # closed-form denoisers of the same data, in float64
    mix, mshape, _ = load_model(getattr(inp, name))
    if [int(s) for s in mshape] != shape:
        raise ValueError(f"{getattr(inp, name)} was fitted on images of shape {mshape}, but {inp.manifest} says {shape}: "
                         f"rerun rule realdata_estimate for {dataset}")
    others[name] = MoLRGDenoiser(mix.to(torch.float64)).to(device)

# One latent per noise index, drawn on the CPU from a seed derived from (master seed, dataset,
# noise index), so the same config gives the same trajectory on any device and whatever the number
# of noises; the noises run one after the other (the memory of one trajectory at a time).
noises = list(enumerate(snakemake.output.npz))  # noqa: F821
for noise, out_path in progress(noises, f"{dataset}: Jacobian ranks", unit="noises"):
    noise_seed = derive_seed(p.seed, "jacobian_noise", dataset, noise)
    z = torch.randn(1, *shape, generator=torch.Generator().manual_seed(noise_seed)).to(device)
    log.info("%s noise %d (seed %d): n = %d, %d-step trajectory, Jacobians at steps %s on %s; closed forms %s",
             dataset, noise, noise_seed, int(np.prod(shape)), p.num_steps, p.steps or "all", device, list(others))
    out = rank_along_trajectory(
        model, z, p.num_steps, p.sigma_min, p.sigma_max, p.rho, steps=p.steps, eta=p.eta,
        chunk_size=p.chunk_size, on_step=lambda i, s: log.debug("step %d (sigma %.4g) done", i, s), others=others,
    )
    log.info("noise %d: unet ranks %s", noise, out["rank"][0].tolist())
    for name, r in out["others_rank"].items():
        log.info("noise %d: %s ranks %s", noise, name, r[0].tolist())
    np.savez(
        out_path,
        steps=out["steps"], sigma=out["sigma"], rank=out["rank"][0],
        singular_values=out["singular_values"][0], n=np.int64(np.prod(shape)), noise_seed=np.int64(noise_seed),
        train_config=np.asarray(json.dumps(train_config, sort_keys=True)),
        **{f"rank_{name}": r[0] for name, r in out["others_rank"].items()},
    )
