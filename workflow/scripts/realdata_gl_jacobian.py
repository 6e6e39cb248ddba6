"""Rule realdata_gl_jacobian: the intrinsic dimension of a Fig 4 right set measured on its own
largest-N (generalising) GL U-Net: the numerical rank (Eq. 51) of dD/dx along the deterministic Heun
trajectories of `num_noises` seeded latents (molrg.jacobian.rank_along_trajectory), the mean rank per
step, its minimum and whether that minimum is significant (molrg.intrinsic_dimension.jacobian_d_intr)."""
import json

import numpy as np
import torch

from molrg.checkpoint import checkpoint_train_config, load_checkpoint_denoiser
from molrg.intrinsic_dimension import jacobian_d_intr
from molrg.jacobian import rank_along_trajectory, trained_sigma_range
from molrg.runtime import derive_seed, job_context

w = snakemake.wildcards  # noqa: F821
p, log, device = job_context(snakemake, "realdata_gl_jacobian")  # noqa: F821
with open(snakemake.input.manifest) as f:  # noqa: F821
    shape = [int(s) for s in json.load(f)["shape"]]
D = load_checkpoint_denoiser(snakemake.input.model, device)  # noqa: F821
train_config = checkpoint_train_config(snakemake.input.model) or {}
lo, hi = trained_sigma_range(train_config)
jac, s = p.jacobian, p.sampler
z = torch.stack([torch.randn(*shape, generator=torch.Generator().manual_seed(
    derive_seed(p.seed, "gl_jacobian", w.dataset, i))) for i in range(jac["num_noises"])]).to(device)
out = rank_along_trajectory(D, z, s["num_steps"], s["sigma_min"], s["sigma_max"], s["rho"], eta=jac["eta"])
res = jacobian_d_intr(out["sigma"], out["rank"], lo, hi, jac["min_rise"])
res.update({"dataset": w.dataset, "N": int(p.N), "model": snakemake.input.model, "n": int(np.prod(shape)),  # noqa: F821
            "eta": jac["eta"], "num_noises": jac["num_noises"], "sigma_train": [lo, hi],
            "sigma": out["sigma"].tolist(), "mean_rank": out["rank"].mean(0).tolist()})
log.info("%s (N = %d): mean rank %s; d_intr %.3g at sigma %.3g, significant %s %s", w.dataset, p.N,
         np.round(out["rank"].mean(0), 2).tolist(), res["d_intr"], res["sigma_min"], res["significant"], res["reason"])
with open(snakemake.output.json, "w") as f:  # noqa: F821
    json.dump(res, f, indent=1)
