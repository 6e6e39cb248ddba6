"""Train a DDPM++ U-Net on a prepared dataset or on its first N images (rules realdata_unet and
realdata_gl_train), with the resumable training loop of molrg.training. With a `convergence`
param (rule realdata_unet) the EMA model's held-out loss is monitored (molrg.convergence), training
stops once the criterion holds, and the history and verdict go to output `convergence`; the EMA
weights at the last `checkpoints` - 1 multiples of `checkpoint_spacing` before the final step go to
the outputs named in param `back` (same file format as `model`), the evidence of Table 1's
checkpoint-stability check."""
import json

import numpy as np
import torch

from molrg.cells import Cell, split_unet
from molrg.checkpoint import read_model_file, write_model_file
from molrg.datasets import load_prepared, subset
from molrg.runtime import derive_seed, job_context
from molrg.training import TrainConfig, train_denoiser
from molrg.walltime import JobBudget

p, log, device = job_context(snakemake, "realdata_train")  # noqa: F821
w = snakemake.wildcards
net_kwargs, train = split_unet(p.unet)
x, y = load_prepared(snakemake.input.train)
if p.N is not None:
    x, y = subset(x, y, int(p.N))  # the first N rows: a seeded subset, nested across N
cell = f"{w.dataset}/" + (Cell(N=p.N, seed=w.seed).name if p.N is not None else "reference")
seed = derive_seed(p.seed, p.purpose, w.dataset, p.N, getattr(w, "seed", 0))
cfg = TrainConfig(seed=seed, **train)
log.info("cell %s: %d images %s, %s", cell, len(x), tuple(x.shape[1:]), cfg)
conv = getattr(p, "convergence", None)
monitor = None
if conv is not None:
    from molrg.convergence import HeldoutMonitor, fixed_eval_set

    xh, _ = load_prepared(snakemake.input.heldout)
    evalset = fixed_eval_set(xh, conv["sigmas"], conv["heldout_images"], derive_seed(p.seed, "convergence", w.dataset))
    monitor = HeldoutMonitor(evalset, conv["every"], conv["window"], conv["threshold"], sigma_data=cfg.sigma_data,
                             stop_early=conv["stop_early"], log=log, keep=conv["checkpoints"],
                             keep_every=conv["checkpoint_spacing"])
summary = train_denoiser(torch.from_numpy(x), cfg, net_kwargs, snakemake.output.model,
                         device=device, cell=cell, log=log, monitor=monitor,
                         budget=JobBudget.from_environment(request_min=snakemake.resources.runtime))
log.info("cell %s: %s", cell, summary)
if monitor is not None:
    final = read_model_file(snakemake.output.model)
    kept = monitor.kept_checkpoints(summary["steps"])
    back = [getattr(snakemake.output, name) for name in p.back]
    if len(kept) != len(back):
        raise RuntimeError(f"{len(kept)} kept checkpoints for {len(back)} outputs {p.back}")
    for path, (step, weights) in zip(back, kept):
        write_model_file({**final, "state_dict": weights, "steps": step}, path)
        log.info("cell %s: EMA weights of step %d -> %s", cell, step, path)
    out = {"dataset": w.dataset, "criterion": monitor.criterion(), "value": monitor.improvement(),
           "threshold": monitor.threshold, "converged": monitor.converged(), "steps": summary["steps"],
           "max_iterations": cfg.iterations, "stopped_early": summary["stopped_early"],
           "final_heldout_loss": monitor.values[-1], "history": monitor.history(),
           "kept_checkpoints": [{"checkpoint": "unet", "step": int(summary["steps"])}]
           + [{"checkpoint": f"unet_back{c}", "step": int(step)} for c, (step, _) in enumerate(kept, 1)],
           "checkpoint_spacing": int(conv["checkpoint_spacing"]),
           "sigmas": [float(s) for s in conv["sigmas"]], "heldout_images": int(len(evalset["x"]) // len(conv["sigmas"]))}
    out["value"] = None if not np.isfinite(out["value"]) else out["value"]
    with open(snakemake.output.convergence, "w") as f:
        json.dump(out, f, indent=1)
    log.info("cell %s: converged %s (improvement %s, threshold %s) after %d steps", cell, out["converged"],
             out["value"], out["threshold"], out["steps"])
