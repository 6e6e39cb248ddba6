"""Prepare one pca_projection dataset (rule data_pca_projection) from its source's prepared files.
All work is in molrg.datasets.prepare_pca_projection."""
from molrg.datasets import prepare_pca_projection
from molrg.runtime import setup_logging

log = setup_logging(snakemake.log[0], "data")
p = snakemake.params.dataset
inp, out = snakemake.input, snakemake.output
log.info("preparing %s: %s projected onto its top %d principal components", p["name"], p["spec"]["source"],
         p["spec"]["k"])
man = prepare_pca_projection(p["name"], p["spec"], inp.train, inp.heldout, inp.manifest, out.train, out.heldout,
                             out.manifest)
log.info("wrote %d train images of shape %s, %d held out; explained variance %.3f, clipped %.4f of train values",
         man["count"], man["shape"], man["heldout"]["count"], man["pca_projection"]["explained_variance_ratio"],
         man["pca_projection"]["clipped_fraction_train"])
