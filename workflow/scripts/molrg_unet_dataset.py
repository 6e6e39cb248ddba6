"""One MoLRG training set (rule molrg_unet_dataset), as in the authors' code (spec §1.4): K bases
from disjoint column blocks of one Haar orthogonal matrix, N/K samples x = U_k a per class, no
noise; stored as 3 x res x res images (HWC -> CHW) with the bases, for the fresh samples of Eq. 46."""
import numpy as np
import torch

from molrg.mixture import orthogonal_bases, sample_balanced
from molrg.networks import vectors_to_images
from molrg.runtime import derive_seed, setup_logging

p, wc = snakemake.params, snakemake.wildcards
log = setup_logging(snakemake.log[0])
d, N, K, res = int(wc.mu_d), int(wc.mu_N), p.K, p.resolution
n = 3 * res * res
if N % K:
    raise ValueError(f"N = {N} is not a multiple of molrg_unet.K = {K} (classes are balanced)")

U = orthogonal_bases(n, K, d, torch.Generator().manual_seed(derive_seed(p.seed, "molrg_unet_basis", d)))  # the same for every N of this d
x, y = sample_balanced(U, N // K, torch.Generator().manual_seed(derive_seed(p.seed, "molrg_unet_data", d, N)))
images = vectors_to_images(x.float())
np.savez(snakemake.output.data, x=images.numpy(), y=y.numpy(), U=U.numpy(), d=d, K=K, resolution=res)
log.info("MoLRG d=%d K=%d n=%d: %d samples (%d per class) -> %s", d, K, n, N, N // K, snakemake.output.data)
