"""Train one MoLRG grid cell's U-Net (rule molrg_unet_train) with molrg.training: EDM loss, Adam,
EMA, checkpoints next to the output and exact resume; a diverging run raises naming the cell and
leaves no model.pt."""
import numpy as np
import torch

from molrg.runtime import select_device, set_threads, setup_logging
from molrg.training import TrainConfig, train_denoiser
from molrg.walltime import JobBudget

p, wc = snakemake.params, snakemake.wildcards
log = setup_logging(snakemake.log[0])
set_threads(snakemake.threads)
cell = f"d{wc.mu_d}_N{wc.mu_N}_seed{wc.mu_seed}"
data = torch.from_numpy(np.load(snakemake.input.data)["x"])
cfg = TrainConfig(seed=p.seed, **dict(p.train))
net = {k: (tuple(v) if isinstance(v, list) else v) for k, v in dict(p.net).items()}
device = select_device(p.device)
log.info("cell %s: %d training images %s on %s; %s; net %s", cell, data.shape[0], tuple(data.shape[1:]), device, cfg, net)
try:
    summary = train_denoiser(data, cfg, net, snakemake.output.model, device=device, cell=cell, log=log,
                             budget=JobBudget.from_environment(request_min=snakemake.resources.runtime))
except FloatingPointError as e:  # into the job's log too, not only Snakemake's stderr
    log.error("%s", e)
    raise
log.info("cell %s: done %s", cell, summary)
