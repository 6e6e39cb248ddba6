# Fig 5: edits along the leading singular vectors of the denoiser's Jacobian after DDIM inversion
# (spec §8), with random directions of the same lengths and the classifier's labels as the
# semantic test. Notes for the README: docs/jacobian.md.

EDIT = config["editing"]
EDIT_FIG_EXT = config["plot"]["format"]
# The checkpoint (a configured path, possibly one this pipeline trains, else the dataset's
# reference U-Net), the image source (a configured image file, else the dataset's train.npz) and the
# dataset's classifier (rule realdata_classifier), whose labels before and after an edit are the
# semantic test; absent only when the dataset is not defined (external checkpoint and image).
EDIT_HAS_DATASET = EDIT["dataset"] in config["datasets"]
EDIT_INPUTS = {
    "model": EDIT["checkpoint"] or f"results/realdata/{EDIT['dataset']}/unet/model.pt",
    **(
        {"image": EDIT["image_file"]}
        if EDIT["image_file"]
        else {"data": f"results/data/{EDIT['dataset']}/train.npz"}
    ),
    **(
        {
            "classifier": f"results/realdata/{EDIT['dataset']}/classifier/model.pt",
            "classifier_metrics": f"results/realdata/{EDIT['dataset']}/classifier/metrics.json",
        }
        if EDIT_HAS_DATASET
        else {}
    ),
}


EDIT_NUMERIC = {
    k: EDIT[k]
    for k in (
        "checkpoint_kind",
        "image_file",
        "image_size",
        "num_images",
        "image_indices",
        "edit_t",
        "strength_units",
        "train_sigma_mass",
        "ddim_steps",
        "t_min",
        "num_vectors",
        "num_random",
        "strengths",
        "power_iters",
        "tol",
    )
}


rule editing:
    """For a seeded choice of training images: DDIM inversion to t = edit_t T, leading singular
    vectors of the Jacobian there and seeded random unit directions, edits of the same lengths and
    DDIM back; L2 change and the classifier's label before and after each edit."""
    input:
        **EDIT_INPUTS,
    output:
        npz="results/editing/edits.npz",
        table=report(
            "results/tables/editing_distances.csv",
            caption="../report/editing_distances.rst",
            category="Editing (Fig 5)",
            subcategory="Tables",
        ),
        summary=report(
            "results/tables/editing_summary.csv",
            caption="../report/editing_distances.rst",
            category="Editing (Fig 5)",
            subcategory="Tables",
        ),
    log:
        "results/logs/editing/editing.log",
    benchmark:
        "results/benchmarks/editing/editing.tsv"
    group:
        "editing"
    conda:
        "../../envs/train.yaml"
    threads: EDIT["threads"]
    resources:
        gpu=EDIT["resources"]["gpu"],
        mem_mb=EDIT["resources"]["mem_mb"],
        runtime=EDIT["resources"]["runtime"],
    params:
        **EDIT_NUMERIC,
        seed=config["seed"],
        device=config["device"],
        dataset=EDIT["dataset"],
        source_name=EDIT["checkpoint"] or EDIT["dataset"],
        classifier_resolution=(
            config["datasets"][EDIT["dataset"]]["resolution"]
            if EDIT_HAS_DATASET
            else None
        ),
        batch_size=EDIT["batch_size"],
        config_slice={
            "editing": {
                **EDIT_NUMERIC,
                "dataset": EDIT["dataset"],
                "checkpoint": EDIT["checkpoint"],
            }
        },
    script:
        "../scripts/editing_run.py"


rule plot_fig5:
    input:
        npz="results/editing/edits.npz",
        table="results/tables/editing_distances.csv",
        summary="results/tables/editing_summary.csv",
    output:
        fig=report(
            f"results/figures/fig5_editing.{EDIT_FIG_EXT}",
            caption="../report/fig5_editing.rst",
            category="Editing (Fig 5)",
            subcategory="Figures",
        ),
    log:
        "results/logs/plot_fig5/plot_fig5.log",
    benchmark:
        "results/benchmarks/plot_fig5/plot_fig5.tsv"
    localrule: True
    conda:
        "../../envs/plots.yaml"
    params:
        style=config["plot"],
    script:
        "../scripts/plot_editing.py"


FINAL_OUTPUTS.extend(
    [
        "results/tables/editing_distances.csv",
        "results/tables/editing_summary.csv",
        f"results/figures/fig5_editing.{EDIT_FIG_EXT}",
    ]
)
