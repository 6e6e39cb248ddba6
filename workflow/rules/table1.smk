# Table 1 and Fig 1: samples of the reference U-Net (and its kept checkpoints), the Gaussian and
# the MoLRG from each dataset's shared initial noises, the Eq. 8 distances between them, and the
# FID of every sample set of a dataset (Table 1's models and the GL grid's U-Nets) (spec §5, §10).
# Models: reference.smk; GL grid: fig4_right.smk. Notes: docs/realdata.md.
# The classifier and FID steps gather a whole dataset and stay outside group train_real, so that
# they do not fuse every cell of a dataset into one group job.

RD_FIG_EXT = config["plot"]["format"]
RD_TABLE1 = RD["table1_datasets"]
RD_FID = list(dict.fromkeys(RD_TABLE1 + RD["gl_datasets"]))  # every dataset with U-Nets
RD_MODELS = ["unet", "gaussian", "molrg"]
RD_REPORT = "Real images (Table 1, Figs 1, 4 right, FID)"


rule realdata_sample:
    """Samples of the U-Net (final or a kept checkpoint), the Gaussian or the MoLRG from the dataset's
    shared initial noises."""
    input:
        model=lambda w: reference_model_file(w.dataset, w.model),
        manifest="results/data/{dataset}/manifest.json",
    output:
        samples="results/realdata/{dataset}/samples/{model}.npz",
    log:
        "results/logs/realdata_sample/{dataset}_{model}.log",
    benchmark:
        "results/benchmarks/realdata_sample/{dataset}_{model}.tsv"
    wildcard_constraints:
        dataset=RD_NAMES,
        model="|".join(RD_MODELS + reference_checkpoints()),
    group:
        "train_real"
    conda:
        "../../envs/train.yaml"
    threads: RD_SAMPLE["threads"]
    resources:
        gpu=RD_SAMPLE["gpu"],
        mem_mb=RD_SAMPLE["mem_mb"],
        runtime=RD_SAMPLE["runtime"],
    params:
        sampler=RD["sampler"],
        num_samples=RD["table1"]["num_samples"],
        batch_size=RD["table1"]["batch_size"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/realdata_sample.py"


rule realdata_table1:
    """Table 1: Eq. 8 (l2 and squared l2) of the Gaussian's and MoLRG's samples to the U-Net's,
    class agreement of the pairs (the dataset's classifier), the reference U-Nets' convergence, and
    the checkpoint stability of the Gaussian - MoLRG gaps over the U-Net's kept checkpoints
    """
    input:
        **{
            f"{name}_{model}": f"results/realdata/{name}/samples/{model}.npz"
            for models in (RD_MODELS, reference_checkpoints())
            for name in RD_TABLE1
            for model in models
        },
        # the validity evidence: each dataset's classifier (class agreement of the pairs) and its
        # accuracy, and the reference U-Net's convergence record
        **{
            f"{name}_{kind}": f"results/realdata/{name}/{path}"
            for name in RD_TABLE1
            for kind, path in (
                ("classifier", "classifier/model.pt"),
                ("classifier_metrics", "classifier/metrics.json"),
                ("convergence", "unet/convergence.json"),
            )
        },
    output:
        **{
            name: report(
                f"results/tables/{file}",
                caption="../report/table1.rst",
                category=RD_REPORT,
                subcategory="Table 1, Fig 1",
            )
            for name, file in (
                ("csv", "table1_eq8_distance.csv"),
                ("md", "table1_eq8_distance.md"),
                ("convergence", "reference_unet_convergence.csv"),
                ("stability", "table1_checkpoint_stability.csv"),
            )
        },
    log:
        "results/logs/realdata_table1/table1.log",
    benchmark:
        "results/benchmarks/realdata_table1/table1.tsv"
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        datasets=RD_TABLE1,
        back=reference_checkpoints(),
        molrg=RD["molrg"],
        sampler=RD["sampler"],
        seed=config["seed"],
        config_slice={
            k: RD[k]
            for k in (
                "table1_datasets",
                "molrg",
                "weights",
                "unet",
                "unet_convergence",
                "sampler",
                "table1",
            )
        },
    script:
        "../scripts/realdata_table1.py"


rule plot_fig1:
    """Fig 1: U-Net / Gaussian / MoLRG samples from the same 12 initial noises, per dataset, with
    each model's class agreement with the U-Net (from Table 1) and the checkpoint stability of the
    gaps"""
    input:
        **{
            f"{name}_{model}": f"results/realdata/{name}/samples/{model}.npz"
            for name in RD_TABLE1
            for model in RD_MODELS
        },
        table1=rules.realdata_table1.output.csv,
        stability=rules.realdata_table1.output.stability,
    output:
        fig=report(
            f"results/figures/fig1_samples.{RD_FIG_EXT}",
            caption="../report/fig1_samples.rst",
            category=RD_REPORT,
            subcategory="Table 1, Fig 1",
        ),
    log:
        "results/logs/plot_fig1/fig1.log",
    benchmark:
        "results/benchmarks/plot_fig1/fig1.tsv"
    localrule: True
    conda:
        "../../envs/plots.yaml"
    params:
        datasets=RD_TABLE1,
        fig_noises=RD["table1"]["fig_noises"],
        num_steps=RD["sampler"]["num_steps"],
        style=config["plot"],
        seed=config["seed"],
        config_slice={
            k: RD[k]
            for k in (
                "table1_datasets",
                "molrg",
                "unet",
                "unet_convergence",
                "sampler",
                "table1",
            )
        },
    script:
        "../scripts/plot_samples.py"


rule realdata_fid:
    """FID of every sample set of a dataset against its training images (clean-fid): Table 1's three
    models and the GL grid's U-Nets."""
    input:
        # the dataset's classifier gives the features unless an Inception file is configured
        **(
            {"classifier": "results/realdata/{dataset}/classifier/model.pt"}
            if not RD["fid"]["inception_path"]
            else {}
        ),
        external="results/realdata/external_files.json",
        train="results/data/{dataset}/train.npz",
        samples=lambda w: (
            [f"results/realdata/{w.dataset}/samples/{m}.npz" for m in RD_MODELS]
            if w.dataset in RD_TABLE1
            else []
        )
        + (
            [
                real_gl_file(w.dataset, c, "samples.npz")
                for c in real_gl_cells(w.dataset)
            ]
            if w.dataset in RD["gl_datasets"]
            else []
        ),
    output:
        csv="results/realdata/{dataset}/fid.csv",
    log:
        "results/logs/realdata_fid/{dataset}.log",
    benchmark:
        "results/benchmarks/realdata_fid/{dataset}.tsv"
    wildcard_constraints:
        dataset=RD_NAMES,
    conda:
        "../../envs/train.yaml"
    threads: RD_SAMPLE["threads"]
    resources:
        gpu=RD_SAMPLE["gpu"],
        mem_mb=RD_SAMPLE["mem_mb"],
        runtime=RD_SAMPLE["runtime"],
    params:
        fid=RD["fid"],
        device=config["device"],
    script:
        "../scripts/realdata_fid.py"


rule realdata_fid_table:
    """The FID table of all datasets (features labelled in every row)."""
    input:
        parts=[f"results/realdata/{name}/fid.csv" for name in RD_FID],
    output:
        csv=report(
            "results/tables/fid.csv",
            caption="../report/fid_table.rst",
            category=RD_REPORT,
            subcategory="FID",
        ),
    log:
        "results/logs/realdata_fid_table/fid.log",
    benchmark:
        "results/benchmarks/realdata_fid_table/fid.tsv"
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        seed=config["seed"],
        config_slice={
            k: RD[k] for k in ("table1_datasets", "gl_datasets", "fid", "descriptor")
        },
    script:
        "../scripts/realdata_fid_table.py"


FINAL_OUTPUTS.extend(
    (
        [
            "results/tables/table1_eq8_distance.csv",
            "results/tables/table1_eq8_distance.md",
            "results/tables/reference_unet_convergence.csv",
            "results/tables/table1_checkpoint_stability.csv",
            f"results/figures/fig1_samples.{RD_FIG_EXT}",
        ]
        if RD_TABLE1
        else []
    )
    + (["results/tables/fid.csv"] if RD_FID else [])
)
