"""Train a stack of MoLRG grid cells' U-Nets (rules molrg_unet_train and molrg_unet_train_stack<i>):
one cell with molrg.training.train_denoiser, several in one process with molrg.stacked.train_stack
(the same training: each cell keeps its own seed, weights equal at float tolerance, one resumable
checkpoint for the stack). EDM loss, Adam, EMA, checkpoints and exact resume; a diverging run
raises naming the cell and leaves no model.pt."""
import numpy as np
import torch

from molrg.cells import parse_cell, split_unet
from molrg.runtime import derive_seed, job_context
from molrg.stacked import StackCell, train_stack
from molrg.training import TrainConfig, train_denoiser
from molrg.walltime import JobBudget

p, log, device = job_context(snakemake)  # noqa: F821
cells = list(p.cells)
seeds = [derive_seed(p.seed, "molrg_unet_train", c.d, c.N, c.seed) for c in map(parse_cell, cells)]
datas = [torch.from_numpy(np.load(path)["x"]) for path in snakemake.input.data]
net, train = split_unet(p.unet)
cfg = TrainConfig(seed=seeds[0], **train)
budget = JobBudget.from_environment(request_min=snakemake.resources.runtime)
try:
    if len(cells) == 1:
        log.info("cell %s: %d training images %s on %s; %s; net %s", cells[0], datas[0].shape[0],
                 tuple(datas[0].shape[1:]), device, cfg, net)
        summaries = [train_denoiser(datas[0], cfg, net, snakemake.output[0], device=device, cell=cells[0], log=log,
                                    budget=budget)]
    else:
        stack = [StackCell(*cell) for cell in zip(cells, datas, seeds, snakemake.output)]
        log.info("stack of %d cells %s on %s; %s; net %s; accel %s", len(cells), cells, device, cfg, net,
                 dict(p.accel))
        summaries = train_stack(stack, cfg, net, checkpoint_path=p.checkpoint, device=device, log=log,
                                budget=budget, **dict(p.accel))
except FloatingPointError as e:  # into the job's log too, not only Snakemake's stderr
    log.error("%s", e)
    raise
for cell, summary in zip(cells, summaries):
    log.info("cell %s: done %s", cell, summary)
