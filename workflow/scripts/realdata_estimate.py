"""Fit the per-class MoLRG and the full-rank Gaussian to a prepared dataset (rule realdata_estimate;
App. C, spec §5.1-5.2). Both are saved as MoLRG parameters for molrg.mixture.MoLRGDenoiser."""
import json

import numpy as np

from molrg.datasets import load_prepared
from molrg.estimate import class_molrg, gaussian_model, save_model
from molrg.runtime import set_threads, setup_logging

log = setup_logging(snakemake.log[0], "realdata_estimate")
set_threads(snakemake.threads)
p = snakemake.params
x, _ = load_prepared(snakemake.input.train)
with np.load(snakemake.input.labels) as z:
    labels = z["labels"]
X = x.reshape(len(x), -1)
molrg = class_molrg(X, labels, p.d, p.weights)
gauss = gaussian_model(X)
save_model(molrg, snakemake.output.molrg, x.shape[1:], "molrg", {"weights": p.weights})
save_model(gauss, snakemake.output.gaussian, x.shape[1:], "gaussian")


def total_variance(Xk):
    """Trace of the sample covariance of one class."""
    Xk = np.asarray(Xk, np.float64)
    return float(((Xk - Xk.mean(0)) ** 2).sum() / max(len(Xk) - 1, 1))


# how much of each class's variance the rank-d model keeps (a sanity number for docs/realdata.md)
kept = [float(molrg.lam[k].sum()) / total_variance(X[labels == k]) for k in range(molrg.K)]
summary = {"dataset": snakemake.wildcards.dataset, "n": int(X.shape[1]), "K": molrg.K, "d": molrg.d,
           "weights": p.weights, "pi": molrg.pi.tolist(), "class_sizes": np.bincount(labels).tolist(),
           "variance_fraction_kept": kept, "gaussian_rank": int((gauss.lam[0] > 1e-10).sum())}
with open(snakemake.output.summary, "w") as f:
    json.dump(summary, f, indent=1)
log.info("MoLRG K=%d d=%d (variance kept per class %s); Gaussian rank %d of n=%d", molrg.K, molrg.d,
         [round(v, 3) for v in kept], summary["gaussian_rank"], X.shape[1])
