# Issue #5. Fig 7 and Table 2: intrinsic dimension from the numerical rank of the denoiser's
# Jacobian along the Heun trajectory (spec §7); the closed-form MoLRG ground-truth check; Fig 5:
# edits along the Jacobian's leading singular vectors after DDIM inversion (spec §8).
# Notes for the README: docs/jacobian.md.

JAC = config["jacobian"]
EDIT = config["editing"]
FIG_EXT = config["plot"]["format"]


# The settings that change the numbers (resources and threads stay out: editing them must not
# rerun anything).
JAC_NUMERIC = {
    k: JAC[k]
    for k in (
        "num_steps",
        "sigma_min",
        "sigma_max",
        "rho",
        "steps",
        "eta",
        "chunk_size",
        "closed_form_models",
    )
}


rule jacobian_rank:
    """Rank of dD/dx at the pre-step states of seeded Heun trajectories of a dataset's U-Net (one
    npz per noise), and of the closed-form Gaussian / MoLRG of the same data (rule
    realdata_estimate) at the same states."""
    input:
        **{m: f"results/realdata/{{dataset}}/{m}.pt" for m in JAC["closed_form_models"]},
        model="results/realdata/{dataset}/unet/model.pt",
        manifest="results/data/{dataset}/manifest.json",
    output:
        npz=expand(
            "results/jacobian/{{dataset}}/noise{noise}.npz",
            noise=range(JAC["num_noises"]),
        ),
    log:
        "results/logs/jacobian_rank/{dataset}.log",
    benchmark:
        "results/benchmarks/jacobian_rank/{dataset}.tsv"
    wildcard_constraints:
        dataset=r"[A-Za-z0-9_\-]+",
    group:
        "jacobian"
    conda:
        "../../envs/train.yaml"
    threads: JAC["threads"]
    resources:
        gpu=JAC["resources"]["gpu"],
        mem_mb=JAC["resources"]["mem_mb"],
        runtime=JAC["resources"]["runtime"],
    params:
        **JAC_NUMERIC,
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/jacobian_rank.py"


rule jacobian_tables:
    """The tidy rank table of all datasets, noises and models (unet | gaussian | molrg), and
    Table 2 with the U-shape test of the rank curve (contract in DEVELOPING.md)."""
    input:
        npz=expand(
            "results/jacobian/{dataset}/noise{noise}.npz",
            dataset=JAC["datasets"],
            noise=range(JAC["num_noises"]),
        ),
    output:
        ranks=report(
            "results/tables/jacobian_rank.csv",
            caption="../report/jacobian_rank.rst",
            category="Jacobian (Fig 7, Table 2)",
            subcategory="Tables",
        ),
        table2=report(
            "results/tables/table2_intrinsic_dimension.csv",
            caption="../report/table2_intrinsic_dimension.rst",
            category="Jacobian (Fig 7, Table 2)",
            subcategory="Tables",
        ),
    log:
        "results/logs/jacobian_tables/jacobian_tables.log",
    benchmark:
        "results/benchmarks/jacobian_tables/jacobian_tables.tsv"
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        seed=config["seed"],
        datasets=JAC["datasets"],
        fixed_sigma=JAC["fixed_sigma"],
        closed_form_models=JAC["closed_form_models"],
        train_sigma_mass=JAC["train_sigma_mass"],
        config={
            **JAC_NUMERIC,
            "datasets": JAC["datasets"],
            "num_noises": JAC["num_noises"],
            "fixed_sigma": JAC["fixed_sigma"],
            "train_sigma_mass": JAC["train_sigma_mass"],
        },
    script:
        "../scripts/jacobian_tables.py"


rule jacobian_molrg:
    """Ground truth: rank along the trajectory of the closed-form MoLRG denoiser (d at small
    sigma, K*d at large sigma) and, if configured, of U-Nets trained on MoLRG (issue #3).
    """
    input:
        unets=[
            f"results/molrg_unet/models/{cell}/model.pt"
            for cell in JAC["molrg_check"]["unet_cells"]
        ],
    output:
        table=report(
            "results/tables/jacobian_molrg_rank.csv",
            caption="../report/jacobian_molrg.rst",
            category="Jacobian (Fig 7, Table 2)",
            subcategory="MoLRG ground-truth check",
        ),
    log:
        "results/logs/jacobian_molrg/jacobian_molrg.log",
    benchmark:
        "results/benchmarks/jacobian_molrg/jacobian_molrg.tsv"
    group:
        "jacobian"
    conda:
        "../../envs/train.yaml"
    threads: JAC["threads"]
    resources:
        gpu=JAC["resources"]["gpu"],
        mem_mb=JAC["resources"]["mem_mb"],
        runtime=JAC["resources"]["runtime"],
    params:
        **{
            k: JAC_NUMERIC[k]
            for k in (
                "num_steps",
                "sigma_min",
                "sigma_max",
                "rho",
                "eta",
                "chunk_size",
            )
        },
        seed=config["seed"],
        device=config["device"],
        check=JAC["molrg_check"],
        unet_cells=JAC["molrg_check"]["unet_cells"],
        provenance={
            **{k: v for k, v in JAC_NUMERIC.items() if k != "closed_form_models"},
            "molrg_check": JAC["molrg_check"],
        },
    script:
        "../scripts/jacobian_molrg.py"


rule rank_rule_calibration:
    """The rank rule's reading against the truth on models of known rank: the closed-form MoLRG
    (d at small sigma, K*d at large sigma) and the U-Nets trained on it, and each dataset's
    closed-form MoLRG at its U-Net's states (docs/jacobian.md)."""
    input:
        molrg="results/tables/jacobian_molrg_rank.csv",
        ranks="results/tables/jacobian_rank.csv",
    output:
        table=report(
            "results/tables/rank_rule_calibration.csv",
            caption="../report/rank_rule_calibration.rst",
            category="Jacobian (Fig 7, Table 2)",
            subcategory="MoLRG ground-truth check",
        ),
    log:
        "results/logs/rank_rule_calibration/rank_rule_calibration.log",
    benchmark:
        "results/benchmarks/rank_rule_calibration/rank_rule_calibration.tsv"
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        seed=config["seed"],
        eta=JAC["eta"],
        real_molrg={
            ds: {k: config["realdata"]["molrg"][ds][k] for k in ("K", "d")}
            for ds in JAC["datasets"]
            if ds in config["realdata"]["molrg"]
        },
    script:
        "../scripts/jacobian_calibration.py"


rule plot_fig7:
    input:
        ranks="results/tables/jacobian_rank.csv",
        table2="results/tables/table2_intrinsic_dimension.csv",
    output:
        fig=report(
            f"results/figures/fig7_jacobian_rank.{FIG_EXT}",
            caption="../report/fig7_jacobian_rank.rst",
            category="Jacobian (Fig 7, Table 2)",
            subcategory="Figures",
        ),
    log:
        "results/logs/plot_fig7/plot_fig7.log",
    benchmark:
        "results/benchmarks/plot_fig7/plot_fig7.tsv"
    localrule: True
    conda:
        "../../envs/plots.yaml"
    params:
        kind="fig7",
        eta=JAC["eta"],
        style=config["plot"],
    script:
        "../scripts/plot_jacobian.py"


rule plot_jacobian_molrg:
    input:
        table="results/tables/jacobian_molrg_rank.csv",
    output:
        fig=report(
            f"results/figures/jacobian_molrg_rank.{FIG_EXT}",
            caption="../report/jacobian_molrg.rst",
            category="Jacobian (Fig 7, Table 2)",
            subcategory="MoLRG ground-truth check",
        ),
    log:
        "results/logs/plot_jacobian_molrg/plot_jacobian_molrg.log",
    benchmark:
        "results/benchmarks/plot_jacobian_molrg/plot_jacobian_molrg.tsv"
    localrule: True
    conda:
        "../../envs/plots.yaml"
    params:
        kind="molrg",
        eta=JAC["eta"],
        style=config["plot"],
    script:
        "../scripts/plot_jacobian.py"


# --- Fig 5: editing ---------------------------------------------------------------------------
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
        provenance={
            **EDIT_NUMERIC,
            "dataset": EDIT["dataset"],
            "checkpoint": EDIT["checkpoint"],
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
            f"results/figures/fig5_editing.{FIG_EXT}",
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
        "results/tables/jacobian_rank.csv",
        "results/tables/table2_intrinsic_dimension.csv",
        f"results/figures/fig7_jacobian_rank.{FIG_EXT}",
        "results/tables/jacobian_molrg_rank.csv",
        "results/tables/rank_rule_calibration.csv",
        f"results/figures/jacobian_molrg_rank.{FIG_EXT}",
        "results/tables/editing_distances.csv",
        "results/tables/editing_summary.csv",
        f"results/figures/fig5_editing.{FIG_EXT}",
    ]
)
