"""Cluster labels of a prepared dataset for the per-class MoLRG and the classifier (rule
realdata_labels): the class labels, or EM clusters of a Gaussian mixture in PCA space for
unlabelled sets (spec §5.1)."""
import numpy as np

from molrg.datasets import load_prepared, save_npz
from molrg.estimate import gmm_clusters
from molrg.runtime import derive_seed, set_threads, setup_logging

log = setup_logging(snakemake.log[0], "realdata_labels")
set_threads(snakemake.threads)
name, m, gmm = snakemake.wildcards.dataset, snakemake.params.molrg, snakemake.params.gmm
x, y = load_prepared(snakemake.input.train)
if m["clusters"] == "labels":
    if (y < 0).any():
        raise ValueError(f"realdata.molrg.{name}.clusters = labels, but {snakemake.input.train} has no labels; "
                         "use clusters: gmm")
    found = len(np.unique(y))
    if found != m["K"]:
        raise ValueError(f"realdata.molrg.{name}.K = {m['K']}, but the prepared data have {found} classes; set K: {found}")
    labels, source = y, "class labels"
else:
    seed = derive_seed(snakemake.params.seed, "gmm", name)
    labels = gmm_clusters(x.reshape(len(x), -1), m["K"], gmm["pca_dim"], seed, gmm["max_iter"], gmm["n_init"])
    source = f"GMM-EM in {gmm['pca_dim']}-d PCA space (seed {seed})"
    if labels.max() + 1 < m["K"]:
        log.warning("EM left %d of K = %d clusters empty; the MoLRG gets %d components",
                    m["K"] - labels.max() - 1, m["K"], labels.max() + 1)
save_npz(snakemake.output.labels, labels=labels.astype(np.int64))
log.info("%s: %d images, %d clusters from %s, sizes %s", name, len(labels), labels.max() + 1, source,
         np.bincount(labels).tolist())
