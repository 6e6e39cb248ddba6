# Issue #4. Real images: per-class MoLRG and Gaussian fitted to each dataset, a reference U-Net,
# Table 1 (Eq. 8 distances from shared initial noises) and Fig 1; Fig 4 right (GL score of U-Nets
# trained on growing real subsets, sigmoid fits against N/d_intr and N); FID of every sample set.
# Spec §5, §6.1, §6.4, §10. Notes for the README: docs/realdata.md.
# SLURM: U-Net training, its samples and GL evaluation are in group train_real (a cell's jobs run
# in one SLURM job, several cells per job); the classifier and FID jobs gather a whole dataset and
# stay ungrouped, so that they do not fuse every cell of a dataset into one group job.

from molrg.training_length import iterations_for_N

RD = config["realdata"]
RD_FIG_EXT = config["plot"]["format"]
RD_TABLE1 = RD["table1_datasets"]
RD_GL = RD["gl_datasets"]
RD_FID = list(dict.fromkeys(RD_TABLE1 + RD_GL))  # every dataset with a trained U-Net
RD_MODELS = ["unet", "gaussian", "molrg"]
# GL grid cells per dataset; sizes beyond a dataset's max_train are left out (AFHQ: ~14.6k images)
RD_CELLS = {
    name: [
        f"N{N}_seed{s}"
        for N in RD["gl"]["N"]
        if N <= (config["datasets"][name]["max_train"] or N)
        for s in range(RD["gl"]["repeats"])
    ]
    for name in RD_GL
}
# the empirical-optimal denoiser's baseline cells (realdata.gl.empirical_N), per dataset
RD_GL_EMPIRICAL = {
    name: [
        f"N{N}"
        for N in RD["gl"]["empirical_N"]
        if N <= (config["datasets"][name]["max_train"] or N)
    ]
    for name in RD_GL
}
# Fig 4 right's memorisation figure: each dataset's smallest and largest N (first seed)
RD_GL_MEM_CELLS = [
    (name, cell)
    for name in RD_GL
    for cell in dict.fromkeys(
        [RD_CELLS[name][0], RD_CELLS[name][-1].rsplit("_seed", 1)[0] + "_seed0"]
    )
]
# the GL settings the evaluation of one cell reads
RD_GL_EVAL = {
    k: RD["gl"][k] for k in ("num_samples", "quantile", "calibration", "copy_fraction")
}
RD_NAMES = "|".join(config["datasets"])
RD_TRAIN, RD_SAMPLE = RD["resources"]["train"], RD["resources"]["sample"]
# the descriptor settings that change numbers (the SSCD file enters as a path)
RD_DESCRIPTOR = {k: RD["descriptor"][k] for k in ("kind", "sscd_path", "threshold")}
RD_DESCRIPTOR_LABEL = {
    "sscd": "SSCD",
    "classifier": "classifier features",
    "pixel": "pixel cosine",
}[RD["descriptor"]["kind"]] + (
    f", threshold {RD['descriptor']['threshold']}"
    if RD["descriptor"]["threshold"] is not None
    else f", threshold calibrated ({RD['gl']['quantile']} quantile, {RD['gl']['calibration']})"
)
# the dataset's classifier, as an input only where the GL descriptor / the FID features need it
RD_CLASSIFIER = {"classifier": "results/realdata/{dataset}/classifier/model.pt"}
RD_CLASSIFIER_GL = RD_CLASSIFIER if RD["descriptor"]["kind"] == "classifier" else {}
RD_CLASSIFIER_FID = RD_CLASSIFIER if not RD["fid"]["inception_path"] else {}
RD_MODEL_FILE = {
    "unet": "results/realdata/{dataset}/unet/model.pt",
    "gaussian": "results/realdata/{dataset}/gaussian.pt",
    "molrg": "results/realdata/{dataset}/molrg.pt",
}
# the reference U-Net's kept checkpoints: the final model and the EMA weights at the last C - 1
# multiples of unet_convergence.checkpoint_spacing before it (Table 1's checkpoint-stability check)
RD_UNET_BACK = [
    f"unet_back{c}" for c in range(1, RD["unet_convergence"]["checkpoints"])
]
RD_MODEL_FILE.update(
    {m: f"results/realdata/{{dataset}}/unet/ema_back{m[9:]}.pt" for m in RD_UNET_BACK}
)
RD_TABLE1_SAMPLES = {
    f"{name}_{model}": f"results/realdata/{name}/samples/{model}.npz"
    for name in RD_TABLE1
    for model in RD_MODELS
}
RD_TABLE1_BACK_SAMPLES = {
    f"{name}_{model}": f"results/realdata/{name}/samples/{model}.npz"
    for name in RD_TABLE1
    for model in RD_UNET_BACK
}
# Table 1's validity evidence: each dataset's classifier (class agreement of the pairs) and its
# accuracy, and the reference U-Net's convergence record
RD_TABLE1_EVIDENCE = {
    f"{name}_{kind}": path.format(dataset=name)
    for name in RD_TABLE1
    for kind, path in (
        ("classifier", "results/realdata/{dataset}/classifier/model.pt"),
        ("classifier_metrics", "results/realdata/{dataset}/classifier/metrics.json"),
        ("convergence", "results/realdata/{dataset}/unet/convergence.json"),
    )
}
# the largest N of each set's grid: its (generalising) U-Net gives the set's Jacobian d_intr
RD_GL_JAC_N = {name: int(RD_CELLS[name][-1].split("_seed")[0][1:]) for name in RD_GL}
RD_GL_TABLE_INPUTS = {
    "gl": [
        f"results/realdata/{name}/gl_models/{cell}/gl.json"
        for name in RD_GL
        for cell in RD_CELLS[name]
    ],
    "empirical": [
        f"results/realdata/{name}/gl_empirical/{cell}/gl.json"
        for name in RD_GL
        for cell in RD_GL_EMPIRICAL[name]
    ],
    **(
        {"table2": "results/tables/table2_intrinsic_dimension.csv"}
        if RD["gl"]["d_intr_source"] == "table2"
        else {}
    ),
    # with d_intr_source: jacobian, every set's Jacobian d_intr (its own largest-N GL U-Net)
    **(
        {"jacobian": [f"results/realdata/{name}/gl_jacobian.json" for name in RD_GL]}
        if RD["gl"]["d_intr_source"] == "jacobian"
        else {}
    ),
    # every set's Levina-Bickel MLE (reported beside; fallbacks given as "mle" take it)
    "mle_train": [f"results/data/{name}/train.npz" for name in RD_GL],
}
# every sample set of a dataset that gets an FID: Table 1's three models, the GL grid's U-Nets
RD_FID_SAMPLES = {
    name: [
        f"results/realdata/{name}/samples/{m}.npz"
        for m in RD_MODELS
        if name in RD_TABLE1
    ]
    + [
        f"results/realdata/{name}/gl_models/{c}/samples.npz"
        for c in RD_CELLS.get(name, [])
    ]
    for name in RD_FID
}


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
    """The reference U-Net of a dataset (EDM preconditioning; Table 1, Fig 1, FID, Jacobians, edits);
    stops when its held-out loss meets realdata.unet_convergence (else at unet.iterations); keeps the
    EMA weights of its last checkpoints (unet_convergence.checkpoints, checkpoint_spacing), one
    named output each (unet_back1, ...): the output cache stores single files, not lists
    """
    input:
        train="results/data/{dataset}/train.npz",
        heldout="results/data/{dataset}/heldout.npz",
        external=ancient("results/realdata/external_files.json"),
    output:
        **{
            m: f"results/realdata/{{dataset}}/unet/ema_back{m[9:]}.pt"
            for m in RD_UNET_BACK
        },
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
        back=RD_UNET_BACK,
        purpose="realdata_unet",
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/realdata_train_unet.py"


rule realdata_sample:
    """Samples of the U-Net (final or a kept checkpoint), the Gaussian or the MoLRG from the dataset's
    shared initial noises."""
    input:
        model=lambda w: RD_MODEL_FILE[w.model].format(dataset=w.dataset),
        manifest="results/data/{dataset}/manifest.json",
    output:
        samples="results/realdata/{dataset}/samples/{model}.npz",
    log:
        "results/logs/realdata_sample/{dataset}_{model}.log",
    benchmark:
        "results/benchmarks/realdata_sample/{dataset}_{model}.tsv"
    wildcard_constraints:
        dataset=RD_NAMES,
        model="|".join(RD_MODELS + RD_UNET_BACK),
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
        **RD_TABLE1_SAMPLES,
        **RD_TABLE1_BACK_SAMPLES,
        **RD_TABLE1_EVIDENCE,
    output:
        csv=report(
            "results/tables/table1_eq8_distance.csv",
            caption="../report/table1.rst",
            category="Real images (Table 1, Figs 1, 4 right, FID)",
            subcategory="Table 1, Fig 1",
        ),
        md=report(
            "results/tables/table1_eq8_distance.md",
            caption="../report/table1.rst",
            category="Real images (Table 1, Figs 1, 4 right, FID)",
            subcategory="Table 1, Fig 1",
        ),
        convergence=report(
            "results/tables/reference_unet_convergence.csv",
            caption="../report/table1.rst",
            category="Real images (Table 1, Figs 1, 4 right, FID)",
            subcategory="Table 1, Fig 1",
        ),
        stability=report(
            "results/tables/table1_checkpoint_stability.csv",
            caption="../report/table1.rst",
            category="Real images (Table 1, Figs 1, 4 right, FID)",
            subcategory="Table 1, Fig 1",
        ),
    log:
        "results/logs/realdata_table1/table1.log",
    benchmark:
        "results/benchmarks/realdata_table1/table1.tsv"
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        datasets=RD_TABLE1,
        back=RD_UNET_BACK,
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
        **RD_TABLE1_SAMPLES,
        table1="results/tables/table1_eq8_distance.csv",
        stability="results/tables/table1_checkpoint_stability.csv",
    output:
        fig=report(
            f"results/figures/fig1_samples.{RD_FIG_EXT}",
            caption="../report/fig1_samples.rst",
            category="Real images (Table 1, Figs 1, 4 right, FID)",
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


rule realdata_gl_train:
    """One U-Net of the real-data GL grid: VP preconditioning, trained on the first N images for
    the steps of realdata.gl.iterations_rule (molrg.gl_grid.iterations_for_N)."""
    input:
        train="results/data/{dataset}/train.npz",
        external=ancient("results/realdata/external_files.json"),
    output:
        model="results/realdata/{dataset}/gl_models/N{N}_seed{seed}/model.pt",
    log:
        "results/logs/realdata_gl_train/{dataset}_N{N}_seed{seed}.log",
    benchmark:
        "results/benchmarks/realdata_gl_train/{dataset}_N{N}_seed{seed}.tsv"
    wildcard_constraints:
        dataset=RD_NAMES,
        N=r"\d+",
        seed=r"\d+",
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
        unet=lambda w: {
            **RD["gl_unet"],
            "iterations": iterations_for_N(
                int(w.N), RD["gl_unet"]["iterations"], **RD["gl"]["iterations_rule"]
            ),
        },
        N=lambda w: int(w.N),
        purpose="realdata_gl",
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/realdata_train_unet.py"


rule realdata_gl_eval:
    """GL score (Eq. 21) of one grid U-Net with the configured descriptor and threshold, and its
    memorisation evidence (copy rate, NN ratio, each sample's nearest training image).
    """
    input:
        **RD_CLASSIFIER_GL,
        model="results/realdata/{dataset}/gl_models/N{N}_seed{seed}/model.pt",
        external="results/realdata/external_files.json",
        train="results/data/{dataset}/train.npz",
        heldout="results/data/{dataset}/heldout.npz",
    output:
        gl="results/realdata/{dataset}/gl_models/N{N}_seed{seed}/gl.json",
        samples="results/realdata/{dataset}/gl_models/N{N}_seed{seed}/samples.npz",
        nn="results/realdata/{dataset}/gl_models/N{N}_seed{seed}/nn.npz",
    log:
        "results/logs/realdata_gl_eval/{dataset}_N{N}_seed{seed}.log",
    benchmark:
        "results/benchmarks/realdata_gl_eval/{dataset}_N{N}_seed{seed}.tsv"
    wildcard_constraints:
        dataset=RD_NAMES,
        N=r"\d+",
        seed=r"\d+",
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
        model="unet",
        iterations=lambda w: iterations_for_N(
            int(w.N), RD["gl_unet"]["iterations"], **RD["gl"]["iterations_rule"]
        ),
        gl=RD_GL_EVAL,
        sampler=RD["sampler"],
        descriptor=RD_DESCRIPTOR,
        batch_size=RD["table1"]["batch_size"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/realdata_gl_eval.py"


rule realdata_gl_empirical:
    """The empirical-optimal denoiser (exact posterior mean of the first N images) sampled and scored
    like a grid U-Net: the memorising baseline of Fig 4 right (expected GL ~ 0, copy rate ~ 1).
    """
    input:
        **RD_CLASSIFIER_GL,
        external="results/realdata/external_files.json",
        train="results/data/{dataset}/train.npz",
        heldout="results/data/{dataset}/heldout.npz",
    output:
        gl="results/realdata/{dataset}/gl_empirical/N{N}/gl.json",
        samples="results/realdata/{dataset}/gl_empirical/N{N}/samples.npz",
        nn="results/realdata/{dataset}/gl_empirical/N{N}/nn.npz",
    log:
        "results/logs/realdata_gl_empirical/{dataset}_N{N}.log",
    benchmark:
        "results/benchmarks/realdata_gl_empirical/{dataset}_N{N}.tsv"
    wildcard_constraints:
        dataset=RD_NAMES,
        N=r"\d+",
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
        model="empirical_optimal",
        iterations=None,
        gl=RD_GL_EVAL,
        sampler=RD["sampler"],
        descriptor=RD_DESCRIPTOR,
        batch_size=RD["table1"]["batch_size"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/realdata_gl_eval.py"


rule realdata_gl_jacobian:
    """The intrinsic dimension of a Fig 4 right set, measured on its own largest-N GL U-Net: Jacobian
    rank (Eq. 51) along Heun trajectories, the minimum of the mean rank curve and its significance.
    """
    input:
        model=lambda w: f"results/realdata/{w.dataset}/gl_models/N{RD_GL_JAC_N[w.dataset]}_seed0/model.pt",
        manifest="results/data/{dataset}/manifest.json",
    output:
        json="results/realdata/{dataset}/gl_jacobian.json",
    log:
        "results/logs/realdata_gl_jacobian/{dataset}.log",
    benchmark:
        "results/benchmarks/realdata_gl_jacobian/{dataset}.tsv"
    wildcard_constraints:
        dataset=RD_NAMES,
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
        jacobian=RD["gl"]["jacobian"],
        sampler=RD["sampler"],
        N=lambda w: RD_GL_JAC_N[w.dataset],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/realdata_gl_jacobian.py"


rule realdata_gl_table:
    """Fig 4 right's tables: GL, copy rate and NN ratio per model (grid U-Nets and the empirical-
    optimal baseline) with N/d_intr (Table 2 where valid, else the config fallback, with the reason),
    and the sigmoid fits (Eq. 47) on the U-Net rows."""
    input:
        **RD_GL_TABLE_INPUTS,
    output:
        scores=report(
            "results/tables/real_gl_scores.csv",
            caption="../report/real_gl_tables.rst",
            category="Real images (Table 1, Figs 1, 4 right, FID)",
            subcategory="Fig 4 right",
        ),
        fit=report(
            "results/tables/real_sigmoid_fit.csv",
            caption="../report/real_gl_tables.rst",
            category="Real images (Table 1, Figs 1, 4 right, FID)",
            subcategory="Fig 4 right",
        ),
    log:
        "results/logs/realdata_gl_table/gl_table.log",
    benchmark:
        "results/benchmarks/realdata_gl_table/gl_table.tsv"
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        gl=RD["gl"],
        fit=config["fit"],
        descriptor_kind=RD["descriptor"]["kind"],
        datasets=RD_GL,
        seed=config["seed"],
        config_slice={
            **{
                k: RD[k]
                for k in ("gl_datasets", "gl_unet", "sampler", "gl", "descriptor")
            },
            "fit": config["fit"],
        },
    script:
        "../scripts/realdata_gl_table.py"


rule realdata_fid:
    """FID of every sample set of a dataset against its training images (clean-fid)."""
    input:
        **RD_CLASSIFIER_FID,
        external="results/realdata/external_files.json",
        train="results/data/{dataset}/train.npz",
        samples=lambda w: RD_FID_SAMPLES[w.dataset],
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
            category="Real images (Table 1, Figs 1, 4 right, FID)",
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


rule plot_fig4_right:
    """Fig 4 right: GL of the real-data U-Nets vs N/d_intr (top) and vs N (bottom), one colour per
    dataset (legend, outside the axes: d_intr and its source), pooled sigmoid fits (black) and each
    set's own fit (its colour), the empirical-optimal denoiser as black-edged diamonds (plot_gl.py).
    """
    input:
        table="results/tables/real_gl_scores.csv",
        fit="results/tables/real_sigmoid_fit.csv",
    output:
        figure=report(
            f"results/figures/fig4_right_real_gl.{RD_FIG_EXT}",
            caption="../report/fig4_right_real_gl.rst",
            category="Real images (Table 1, Figs 1, 4 right, FID)",
            subcategory="Fig 4 right",
        ),
    log:
        "results/logs/plot_fig4_right/figure.log",
    benchmark:
        "results/benchmarks/plot_fig4_right/figure.tsv"
    localrule: True
    conda:
        "../../envs/plots.yaml"
    params:
        style=config["plot"],
        threshold=config["fit"]["threshold"],
        columns={"x": "N_over_d_intr", "n": "N", "hue": "dataset_label", "gl": "gl"},
        labels={
            "title": f"U-Nets on real images; GL descriptor: {RD_DESCRIPTOR_LABEL}",
            "hue": "dataset",
            "x": "$N / d_{intr}$",
            "n": "$N$",
        },
        fit_scope="all",
        curve_model="unet",
        legend="outside",
        group_fit_column="dataset",
    script:
        "../scripts/plot_gl.py"


rule plot_fig4_right_memorization:
    """Memorisation you can see: the smallest and largest N U-Net of each dataset, its first samples
    beside their nearest training images (descriptor space), copy rate, GL, NN ratio (issue #9).
    """
    input:
        samples=[
            f"results/realdata/{n}/gl_models/{c}/samples.npz"
            for n, c in RD_GL_MEM_CELLS
        ],
        train=[f"results/data/{n}/train.npz" for n, c in RD_GL_MEM_CELLS],
        nn=[f"results/realdata/{n}/gl_models/{c}/nn.npz" for n, c in RD_GL_MEM_CELLS],
    output:
        figure=report(
            f"results/figures/fig4_right_memorization.{RD_FIG_EXT}",
            caption="../report/fig4_right_memorization.rst",
            category="Real images (Table 1, Figs 1, 4 right, FID)",
            subcategory="Fig 4 right",
        ),
    log:
        "results/logs/plot_fig4_right_memorization/figure.log",
    benchmark:
        "results/benchmarks/plot_fig4_right_memorization/figure.tsv"
    localrule: True
    conda:
        "../../envs/plots.yaml"
    params:
        titles=[
            f"{n}, U-Net trained on N = {c.split('_seed')[0][1:]} images"
            for n, c in RD_GL_MEM_CELLS
        ],
        num_pairs=RD["gl"]["memorization_pairs"],
        value_range=[-1.0, 1.0],
        suptitle=f"Fig 4 right: generated images (top) and their nearest training images "
        f"(bottom; {RD_DESCRIPTOR_LABEL.split(',')[0]} space)",
        style=config["plot"],
    script:
        "../scripts/plot_memorization.py"


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
    + (
        [
            "results/tables/real_gl_scores.csv",
            "results/tables/real_sigmoid_fit.csv",
            f"results/figures/fig4_right_real_gl.{RD_FIG_EXT}",
            f"results/figures/fig4_right_memorization.{RD_FIG_EXT}",
        ]
        if RD_GL
        else []
    )
    + (["results/tables/fid.csv"] if RD_FID else [])
)
