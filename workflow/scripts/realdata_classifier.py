"""Train the small classifier whose penultimate features are the pipeline's own descriptor (GL
score) and FID feature space when SSCD / Inception are absent (rule realdata_classifier)."""
import json

import numpy as np

from molrg.datasets import load_prepared
from molrg.descriptors import accuracy, save_classifier, train_classifier
from molrg.runtime import derive_seed, job_context

p, log, device = job_context(snakemake, "realdata_classifier")  # noqa: F821
name = snakemake.wildcards.dataset
x, _ = load_prepared(snakemake.input.train)
with np.load(snakemake.input.labels) as z:
    labels = z["labels"]
xh, yh = load_prepared(snakemake.input.heldout)
c = p.classifier
seed = derive_seed(p.seed, "classifier", name)
net = train_classifier(x, labels, int(labels.max()) + 1, c["epochs"], c["batch_size"], c["lr"], seed,
                       c["width"], c["feature_dim"], device=device, log=log)
# held-out accuracy only where the held-out labels are the training targets (class labels)
same_targets = p.clusters == "labels" and (yh >= 0).all()
acc = accuracy(net, xh, yh, device=device) if same_targets else None
save_classifier(net.cpu(), snakemake.output.model)
with open(snakemake.output.metrics, "w") as f:
    json.dump({"dataset": name, "targets": "class labels" if p.clusters == "labels" else "GMM clusters",
               "heldout_accuracy": acc, "seed": seed, **c}, f, indent=1)
log.info("%s classifier: held-out accuracy %s", name, "n/a (cluster targets)" if acc is None else f"{acc:.4f}")
