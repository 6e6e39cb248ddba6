"""Train a stack of MoLRG grid cells in one process (rule molrg_unet_train_stack<i>, config
accel.stack_cells > 1) with molrg.stacked.train_stack: the same training as one job per cell (each
cell keeps its solo seed; weights equal at float tolerance, tests/test_stacked.py), one resumable
checkpoint for the stack, each cell's model.pt written atomically at the end."""
import numpy as np
import torch

from molrg.runtime import select_device, set_threads, setup_logging
from molrg.stacked import StackCell, train_stack
from molrg.training import TrainConfig
from molrg.walltime import JobBudget

p = snakemake.params
log = setup_logging(snakemake.log[0])
set_threads(snakemake.threads)
cells = [StackCell(name, torch.from_numpy(np.load(data)["x"]), seed, out)
         for name, data, seed, out in zip(p.cells, snakemake.input.data, p.seeds, snakemake.output.model)]
cfg = TrainConfig(seed=p.seeds[0], **dict(p.train))
net = {k: (tuple(v) if isinstance(v, list) else v) for k, v in dict(p.net).items()}
device = select_device(p.device)
log.info("stack of %d cells %s on %s; %s; net %s; accel %s", len(cells), list(p.cells), device, cfg, net, dict(p.accel))
try:
    summaries = train_stack(cells, cfg, net, checkpoint_path=p.checkpoint, device=device, log=log, **dict(p.accel),
                            budget=JobBudget.from_environment(request_min=snakemake.resources.runtime))
except FloatingPointError as e:  # into the job's log too, not only Snakemake's stderr
    log.error("%s", e)
    raise
for s in summaries:
    log.info("cell %s: done %s", s["cell"], s)
