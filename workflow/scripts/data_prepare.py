"""Prepare one dataset into results/data/{dataset}/ (rules data_idx, data_cifar_pickle,
data_image_folder, data_digits). All work is in molrg.datasets."""
from molrg.datasets import prepare_to_files
from molrg.runtime import derive_seed, setup_logging

log = setup_logging(snakemake.log[0], "data")
p = snakemake.params.dataset
seed = derive_seed(snakemake.params.seed, "data", p["name"])
log.info("preparing %s from %s (%s), seed %d", p["name"], p["spec"]["path"], p["spec"]["format"], seed)
man = prepare_to_files(p["name"], p["spec"], seed, snakemake.output.train, snakemake.output.heldout,
                       snakemake.output.manifest)
log.info("wrote %d train images of shape %s (classes %s), %d held out; sha256 %s", man["count"],
         man["shape"], man["class_counts"] or "none", man["heldout"]["count"], man["sha256"])
