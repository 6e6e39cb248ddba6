# Fig 7 and Table 2: intrinsic dimension from the numerical rank of the denoiser's Jacobian along
# the Heun trajectory (spec §7), and the rank rule's check on models of known rank: the
# closed-form MoLRG and the U-Nets trained on it. Notes for the README: docs/jacobian.md.
from molrg.cells import parse_cell

JAC = config["jacobian"]
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
        config_slice={
            "jacobian": {
                **JAC_NUMERIC,
                "datasets": JAC["datasets"],
                "num_noises": JAC["num_noises"],
                "fixed_sigma": JAC["fixed_sigma"],
                "train_sigma_mass": JAC["train_sigma_mass"],
            }
        },
    script:
        "../scripts/jacobian_tables.py"


rule jacobian_molrg:
    """Ground truth: rank along the trajectory of the closed-form MoLRG denoiser (d at small
    sigma, K*d at large sigma) and, if configured, of U-Nets trained on MoLRG (fig4_left_grid.smk).
    """
    input:
        unets=[
            molrg_unet_file("model", parse_cell(cell))
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
        config_slice={
            "jacobian": {
                **{k: v for k, v in JAC_NUMERIC.items() if k != "closed_form_models"},
                "molrg_check": JAC["molrg_check"],
            }
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


FINAL_OUTPUTS.extend(
    [
        "results/tables/jacobian_rank.csv",
        "results/tables/table2_intrinsic_dimension.csv",
        f"results/figures/fig7_jacobian_rank.{FIG_EXT}",
        "results/tables/jacobian_molrg_rank.csv",
        "results/tables/rank_rule_calibration.csv",
        f"results/figures/jacobian_molrg_rank.{FIG_EXT}",
    ]
)
