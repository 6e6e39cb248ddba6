"""Train a DDPM++ U-Net on a prepared dataset or on its first N images (rules realdata_unet and
realdata_gl_train), with issue #3's resumable training loop (molrg.training)."""
import torch

from molrg.datasets import load_prepared, subset
from molrg.runtime import derive_seed, select_device, set_threads, setup_logging
from molrg.training import TrainConfig, train_denoiser

log = setup_logging(snakemake.log[0], "realdata_train")
set_threads(snakemake.threads)
p, w = snakemake.params, snakemake.wildcards
u = dict(p.unet)
NET_KEYS = ("width", "channel_mult", "num_blocks", "attn_resolutions", "dropout")
net_kwargs = {k: (tuple(u[k]) if isinstance(u[k], list) else u[k]) for k in NET_KEYS}
x, y = load_prepared(snakemake.input.train)
if p.N is not None:
    x, y = subset(x, y, int(p.N))  # the first N rows: a seeded subset, nested across N
cell = f"{w.dataset}" + (f"/N{p.N}_seed{w.seed}" if p.N is not None else "/reference")
seed = derive_seed(p.seed, p.purpose, w.dataset, p.N, getattr(w, "seed", 0))
cfg = TrainConfig(seed=seed, **{k: v for k, v in u.items() if k not in NET_KEYS})
log.info("cell %s: %d images %s, %s", cell, len(x), tuple(x.shape[1:]), cfg)
summary = train_denoiser(torch.from_numpy(x), cfg, net_kwargs, snakemake.output.model,
                         device=select_device(p.device), cell=cell, log=log)
log.info("cell %s: %s", cell, summary)
