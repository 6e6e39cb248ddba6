# Real images, the models of each dataset that the real-image figures compare or use: the
# per-class MoLRG and the full-rank Gaussian fitted to it, the reference U-Net (Table 1, Fig 1,
# FID, Jacobians, edits) and the classifier (GL descriptor, FID features, class agreement), after
# the check of the configured external files (spec §5, §10). Notes: docs/realdata.md.
# The names below are shared with table1.smk and fig4_right.smk, included after this file.

RD = config["realdata"]
RD_NAMES = "|".join(config["datasets"])
RD_TRAIN, RD_SAMPLE = RD["resources"]["train"], RD["resources"]["sample"]
# the descriptor settings that change numbers (the SSCD file enters as a path)
RD_DESCRIPTOR = {k: RD["descriptor"][k] for k in ("kind", "sscd_path", "threshold")}


rule realdata_external:
    """SSCD / Inception files (when configured) exist and load; checked before any U-Net trains."""
    output:
        json="results/realdata/external_files.json",
    log:
        "results/logs/realdata_external/check.log",
    benchmark:
        "results/benchmarks/realdata_external/check.tsv"
    localrule: True
    conda:
        "../../envs/train.yaml"
    params:
        descriptor=RD_DESCRIPTOR,
        inception_path=RD["fid"]["inception_path"],
    script:
        "../scripts/realdata_external.py"


rule realdata_labels:
    """Cluster labels for the per-class MoLRG: class labels, or GMM-EM clusters in PCA space."""
    input:
        train="results/data/{dataset}/train.npz",
    output:
        labels="results/realdata/{dataset}/labels.npz",
    log:
        "results/logs/realdata_labels/{dataset}.log",
    benchmark:
        "results/benchmarks/realdata_labels/{dataset}.tsv"
    wildcard_constraints:
        dataset=RD_NAMES,
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=RD_SAMPLE["mem_mb"],
        runtime=RD_SAMPLE["runtime"],
    params:
        molrg=lambda w: dict(RD["molrg"][w.dataset]),
        gmm=RD["gmm"],
        seed=config["seed"],
    script:
        "../scripts/realdata_labels.py"


rule realdata_estimate:
    """Per-class MoLRG (thin SVD per class) and the full-rank Gaussian baseline (App. C)."""
    input:
        train="results/data/{dataset}/train.npz",
        labels="results/realdata/{dataset}/labels.npz",
    output:
        molrg="results/realdata/{dataset}/molrg.pt",
        gaussian="results/realdata/{dataset}/gaussian.pt",
        summary="results/realdata/{dataset}/estimate.json",
    log:
        "results/logs/realdata_estimate/{dataset}.log",
    benchmark:
        "results/benchmarks/realdata_estimate/{dataset}.tsv"
    wildcard_constraints:
        dataset=RD_NAMES,
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=RD_SAMPLE["mem_mb"],
        runtime=RD_SAMPLE["runtime"],
    params:
        d=lambda w: RD["molrg"][w.dataset]["d"],
        weights=RD["weights"],
    script:
        "../scripts/realdata_estimate.py"


rule realdata_classifier:
    """The small classifier whose penultimate features are the offline descriptor / FID space."""
    input:
        train="results/data/{dataset}/train.npz",
        heldout="results/data/{dataset}/heldout.npz",
        labels="results/realdata/{dataset}/labels.npz",
    output:
        model="results/realdata/{dataset}/classifier/model.pt",
        metrics="results/realdata/{dataset}/classifier/metrics.json",
    log:
        "results/logs/realdata_classifier/{dataset}.log",
    benchmark:
        "results/benchmarks/realdata_classifier/{dataset}.tsv"
    wildcard_constraints:
        dataset=RD_NAMES,
    conda:
        "../../envs/train.yaml"
    threads: RD_TRAIN["threads"]
    resources:
        gpu=RD_TRAIN["gpu"],
        mem_mb=RD_TRAIN["mem_mb"],
        runtime=RD_TRAIN["runtime"],
    params:
        classifier=RD["descriptor"]["classifier"],
        clusters=lambda w: RD["molrg"][w.dataset]["clusters"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/realdata_classifier.py"


rule realdata_unet:
    """The reference U-Net of a dataset (EDM preconditioning); stops when its held-out loss meets
    realdata.unet_convergence (else at unet.iterations); keeps the EMA weights of its last
    checkpoints (unet_convergence.checkpoints, checkpoint_spacing), one named output each
    (unet_back1, ...): the output cache stores named files, not lists
    """
    input:
        train="results/data/{dataset}/train.npz",
        heldout="results/data/{dataset}/heldout.npz",
        external=ancient("results/realdata/external_files.json"),
    output:
        **{m: reference_model_file("{dataset}", m) for m in reference_checkpoints()},
        model="results/realdata/{dataset}/unet/model.pt",
        convergence="results/realdata/{dataset}/unet/convergence.json",
    log:
        "results/logs/realdata_unet/{dataset}.log",
    benchmark:
        "results/benchmarks/realdata_unet/{dataset}.tsv"
    wildcard_constraints:
        dataset=RD_NAMES,
    group:
        "train_real"
    conda:
        "../../envs/train.yaml"
    threads: RD_TRAIN["threads"]
    resources:
        gpu=RD_TRAIN["gpu"],
        mem_mb=lambda wc, attempt: RD_TRAIN["mem_mb"] * attempt,
        runtime=lambda wc, attempt: capped_runtime(RD_TRAIN["runtime"] * attempt),
    params:
        unet=RD["unet"],
        convergence=RD["unet_convergence"],
        N=None,
        back=reference_checkpoints(),
        purpose="realdata_unet",
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/realdata_train_unet.py"
