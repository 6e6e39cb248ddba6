# Issue #3. Fig 4 left: DDPM++ U-Nets trained on MoLRG training sets of growing size N for several
# subspace dimensions d, each scored by the GL score (Eq. 21, phi = identity, eps by Eq. 46), and
# the sigmoid fit (Eq. 47) of GL against N/d_intr and against N. Spec §1.4, §2.4, §6.1-6.3, §6.5.
# Per cell (d, N, seed): dataset -> train -> sample -> gl (group train_grid: one SLURM job runs many
# cells); then the table, the fit and the figure (localrule). Notes for the README: docs/molrg_unet.md.
from molrg.runtime import derive_seed

MU = config["molrg_unet"]
MU_FIT = config["fit"]
MU_FIG_EXT = config["plot"]["format"]


# Training-set sizes N (total; balanced classes N_k = N / K) per d, from the N / d_intr list:
# N_k = r * d rounded half up (Python's round() would round 2.5 to 2), at least 1.
MU_SIZES = {
    d: [
        MU["K"] * nk
        for nk in sorted({max(1, int(r * d + 0.5)) for r in MU["N_over_d_intr"]})
    ]
    for d in MU["d_values"]
}
# every cell d{d}_N{N}_seed{s} of the grid -> its training seed, as its solo job derives it from the
# wildcards (rule molrg_unet_train); the stacked rules read the seeds from here
MU_TRAIN_SEEDS = {
    f"d{d}_N{N}_seed{s}": derive_seed(config["seed"], "molrg_unet_train", d, N, s)
    for d in MU["d_values"]
    for N in MU_SIZES[d]
    for s in MU["seeds"]
}
MU_CELLS = list(MU_TRAIN_SEEDS)  # the cell names, in grid order
# Baseline cells (issue #9): the empirical-optimal denoiser of the training set at these sizes, every d
MU_EMPIRICAL = [
    f"d{d}_N{MU['K'] * nk}"
    for d in MU["d_values"]
    for nk in sorted({max(1, int(r * d + 0.5)) for r in MU["empirical_N_over_d_intr"]})
]
# The memorisation figure: for every d, the first seed's U-Net at the smallest and the largest N
MU_MEM_CELLS = [
    f"d{d}_N{N}_seed{MU['seeds'][0]}"
    for d in MU["d_values"]
    for N in sorted({min(MU_SIZES[d]), max(MU_SIZES[d])})
]
MU_NET = {
    k: MU[k]
    for k in ("width", "channel_mult", "num_blocks", "attn_resolutions", "dropout")
}
MU_TRAIN = {
    k: MU[k]
    for k in (
        "precond",
        "iterations",
        "batch_size",
        "lr",
        "lr_rampup_kimg",
        "ema_halflife_kimg",
        "ema_rampup_ratio",
        "xflip",
        "checkpoint_every",
        "log_every",
    )
}
MU_HEUN = {k: MU[k] for k in ("num_steps", "sigma_min", "sigma_max", "rho")}
# GPU acceleration (config accel, issue #11): stacks of cells trained in one process, or one per cell
ACCEL = config["accel"]
MU_STACK = ACCEL["stack_cells"]
# consecutive groups, as molrg.stacked.stack_groups (not imported here: it imports torch, which would
# slow down every snakemake start)
MU_STACKS = [MU_CELLS[i : i + MU_STACK] for i in range(0, len(MU_CELLS), MU_STACK)]


MU_RES = MU["resources"]


wildcard_constraints:
    mu_d=r"\d+",
    mu_N=r"\d+",
    mu_seed=r"\d+",


rule molrg_unet_dataset:
    """One MoLRG training set per (d, N): K orthogonal rank-d bases (shared by every N of this d,
    so that eps comes from the same distribution), N/K samples per class, as 3 x res x res images.
    """
    output:
        data="results/molrg_unet/data/d{mu_d}_N{mu_N}.npz",
    log:
        "results/logs/molrg_unet_dataset/d{mu_d}_N{mu_N}.log",
    benchmark:
        "results/benchmarks/molrg_unet_dataset/d{mu_d}_N{mu_N}.tsv"
    group:
        "train_grid"
    conda:
        "../../envs/train.yaml"
    threads: 1
    params:
        resolution=MU["resolution"],
        K=MU["K"],
        basis_seed=lambda wc: derive_seed(config["seed"], "molrg_unet_basis", wc.mu_d),
        data_seed=lambda wc: derive_seed(
            config["seed"], "molrg_unet_data", wc.mu_d, wc.mu_N
        ),
    script:
        "../scripts/molrg_unet_dataset.py"


if MU_STACK == 1:

    rule molrg_unet_train:
        """EDM training of one cell; checkpoints every `checkpoint_every` steps next to model.pt, and a
        rerun after a kill resumes from the last one and ends with the same weights.
        """
        input:
            data=rules.molrg_unet_dataset.output.data,
        output:
            model="results/molrg_unet/models/d{mu_d}_N{mu_N}_seed{mu_seed}/model.pt",
        log:
            "results/logs/molrg_unet_train/d{mu_d}_N{mu_N}_seed{mu_seed}.log",
        benchmark:
            "results/benchmarks/molrg_unet_train/d{mu_d}_N{mu_N}_seed{mu_seed}.tsv"
        group:
            "train_grid"
        conda:
            "../../envs/train.yaml"
        threads: MU["threads"]
        resources:
            gpu=MU_RES["gpu"],
            mem_mb=lambda wc, attempt: MU_RES["mem_mb"] * attempt,
            runtime=lambda wc, attempt: capped_runtime(MU_RES["runtime"] * attempt),
        params:
            net=MU_NET,
            train=MU_TRAIN,
            seed=lambda wc: derive_seed(
                config["seed"], "molrg_unet_train", wc.mu_d, wc.mu_N, wc.mu_seed
            ),
            device=config["device"],
        script:
            "../scripts/molrg_unet_train.py"

else:
    # accel.stack_cells > 1 (issue #11, molrg/stacked.py): the cells are trained in stacks of that many,
    # one job per stack, vmapped in one process (GPU: launch-bound small cells). One rule per stack,
    # since a rule's outputs must share its wildcards and a stack's cells have no common one.
    for _i, _stack in enumerate(MU_STACKS):

        rule:
            name:
                f"molrg_unet_train_stack{_i}"
            input:
                data=[
                    f"results/molrg_unet/data/{c.rsplit('_seed', 1)[0]}.npz"
                    for c in _stack
                ],
            output:
                model=[f"results/molrg_unet/models/{c}/model.pt" for c in _stack],
            log:
                f"results/logs/molrg_unet_train/stack{_i}.log",
            benchmark:
                f"results/benchmarks/molrg_unet_train/stack{_i}.tsv"
            group:
                "train_grid"
            conda:
                "../../envs/train.yaml"
            threads: MU["threads"]
            resources:
                gpu=MU_RES["gpu"],
                mem_mb=lambda wc, attempt: MU_RES["mem_mb"] * attempt,
                runtime=lambda wc, attempt, n=len(_stack): capped_runtime(
                    MU_RES["runtime"] * n * attempt
                ),
            params:
                cells=_stack,
                net=MU_NET,
                train=MU_TRAIN,
                # each cell's seed as in its solo job (rule molrg_unet_train above)
                seeds=[MU_TRAIN_SEEDS[c] for c in _stack],
                accel={k: ACCEL[k] for k in ("autocast_bf16", "compile")},
                checkpoint=f"results/molrg_unet/models/stack{_i}_checkpoint.pt",
                device=config["device"],
            script:
                "../scripts/molrg_unet_train_stack.py"


rule molrg_unet_sample:
    """num_generated float samples of one cell's U-Net with the EDM Heun sampler (no quantisation)."""
    input:
        model="results/molrg_unet/models/d{mu_d}_N{mu_N}_seed{mu_seed}/model.pt",
    output:
        samples="results/molrg_unet/samples/d{mu_d}_N{mu_N}_seed{mu_seed}.npz",
    log:
        "results/logs/molrg_unet_sample/d{mu_d}_N{mu_N}_seed{mu_seed}.log",
    benchmark:
        "results/benchmarks/molrg_unet_sample/d{mu_d}_N{mu_N}_seed{mu_seed}.tsv"
    group:
        "train_grid"
    conda:
        "../../envs/train.yaml"
    threads: MU["threads"]
    resources:
        gpu=MU_RES["gpu"],
        mem_mb=MU_RES["mem_mb"],
        runtime=MU_RES["runtime"],
    params:
        num=MU["num_generated"],
        batch=MU["sample_batch"],
        heun=MU_HEUN,
        resolution=MU["resolution"],
        seed=lambda wc: derive_seed(
            config["seed"], "molrg_unet_sample", wc.mu_d, wc.mu_N, wc.mu_seed
        ),
        device=config["device"],
    script:
        "../scripts/molrg_unet_sample.py"


rule molrg_unet_gl:
    """GL score of one cell: eps = eps_quantile quantile of fresh-sample nearest-training-point
    distances (Eq. 46, fresh samples of the same MoLRG), GL = fraction of generated samples
    farther than eps from every training point (Eq. 21); copy rate and NN-distance ratio
    (molrg.gl.memorization_stats); nn: each generated sample's nearest training point.
    """
    input:
        data=rules.molrg_unet_dataset.output.data,
        samples=rules.molrg_unet_sample.output.samples,
    output:
        row="results/molrg_unet/gl/d{mu_d}_N{mu_N}_seed{mu_seed}.csv",
        nn="results/molrg_unet/gl/d{mu_d}_N{mu_N}_seed{mu_seed}_nn.npz",
    log:
        "results/logs/molrg_unet_gl/d{mu_d}_N{mu_N}_seed{mu_seed}.log",
    benchmark:
        "results/benchmarks/molrg_unet_gl/d{mu_d}_N{mu_N}_seed{mu_seed}.tsv"
    group:
        "train_grid"
    conda:
        "../../envs/train.yaml"
    threads: 1
    params:
        num_fresh=MU["num_fresh"],
        quantile=MU["eps_quantile"],
        # fresh samples depend on (d, N) only: every seed of a cell is scored against the same eps
        fresh_seed=lambda wc: derive_seed(
            config["seed"], "molrg_unet_fresh", wc.mu_d, wc.mu_N
        ),
        seed=lambda wc: int(wc.mu_seed),
        copy_fraction=MU["copy_fraction"],
        model="unet",
    script:
        "../scripts/molrg_unet_gl.py"


rule molrg_unet_empirical:
    """Baseline cell: num_generated Heun samples of the empirical-optimal denoiser (exact posterior
    mean of the training set, molrg.empirical; it regenerates training points), scored exactly as
    the U-Nets (same eps, fresh samples and copy threshold as the U-Net cells of this (d, N)).
    """
    input:
        data=rules.molrg_unet_dataset.output.data,
    output:
        row="results/molrg_unet/empirical/d{mu_d}_N{mu_N}.csv",
        nn="results/molrg_unet/empirical/d{mu_d}_N{mu_N}_nn.npz",
        samples="results/molrg_unet/empirical/d{mu_d}_N{mu_N}_samples.npz",
    log:
        "results/logs/molrg_unet_empirical/d{mu_d}_N{mu_N}.log",
    benchmark:
        "results/benchmarks/molrg_unet_empirical/d{mu_d}_N{mu_N}.tsv"
    group:
        "train_grid"
    conda:
        "../../envs/train.yaml"
    threads: 1
    params:
        num=MU["num_generated"],
        batch=MU["sample_batch"],
        heun=MU_HEUN,
        sample_seed=lambda wc: derive_seed(
            config["seed"], "molrg_unet_empirical", wc.mu_d, wc.mu_N
        ),
        num_fresh=MU["num_fresh"],
        quantile=MU["eps_quantile"],
        fresh_seed=lambda wc: derive_seed(
            config["seed"], "molrg_unet_fresh", wc.mu_d, wc.mu_N
        ),
        seed=0,
        copy_fraction=MU["copy_fraction"],
        model="empirical_optimal",
    script:
        "../scripts/molrg_unet_gl.py"


rule molrg_unet_gl_table:
    """Every cell's GL score, copy rate and NN ratio in one tidy table (model = unet), with the
    empirical-optimal baseline rows (model = empirical_optimal)."""
    input:
        rows=expand("results/molrg_unet/gl/{cell}.csv", cell=MU_CELLS)
        + expand("results/molrg_unet/empirical/{cell}.csv", cell=MU_EMPIRICAL),
    output:
        table=report(
            "results/tables/molrg_gl_scores.csv",
            caption="../report/molrg_gl_tables.rst",
            category="MoLRG U-Nets (Fig 4 left)",
            subcategory="Tables",
        ),
    log:
        "results/logs/molrg_unet_gl_table/table.log",
    benchmark:
        "results/benchmarks/molrg_unet_gl_table/table.tsv"
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        config_slice={
            k: v
            for k, v in MU.items()
            if k not in ("resources", "threads", "memorization_pairs")
        },
        seed=config["seed"],
    script:
        "../scripts/molrg_unet_gl_table.py"


rule molrg_unet_sigmoid_fit:
    """Eq. 47 fitted against N/d_intr and against N (all cells, and per d_intr): parameters,
    residuals, N*/d_intr at fit.threshold with a bootstrap interval over cells."""
    input:
        table=rules.molrg_unet_gl_table.output.table,
    output:
        fit=report(
            "results/tables/molrg_sigmoid_fit.csv",
            caption="../report/molrg_gl_tables.rst",
            category="MoLRG U-Nets (Fig 4 left)",
            subcategory="Tables",
        ),
    log:
        "results/logs/molrg_unet_sigmoid_fit/fit.log",
    benchmark:
        "results/benchmarks/molrg_unet_sigmoid_fit/fit.tsv"
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        fit=MU_FIT,
        seed=derive_seed(config["seed"], "molrg_unet_fit"),
    script:
        "../scripts/molrg_unet_fit.py"


rule molrg_unet_fig4_left:
    """Fig 4 left: GL vs N/d_intr (top, log2 axis, colour = d_intr, dashed sigmoid) and GL vs N (bottom)."""
    input:
        table=rules.molrg_unet_gl_table.output.table,
        fit=rules.molrg_unet_sigmoid_fit.output.fit,
    output:
        figure=report(
            f"results/figures/fig4_left_molrg_gl.{MU_FIG_EXT}",
            caption="../report/fig4_left_molrg_gl.rst",
            category="MoLRG U-Nets (Fig 4 left)",
            subcategory="Figures",
        ),
    log:
        "results/logs/molrg_unet_fig4_left/figure.log",
    benchmark:
        "results/benchmarks/molrg_unet_fig4_left/figure.tsv"
    localrule: True
    conda:
        "../../envs/plots.yaml"
    params:
        style=config["plot"],
        threshold=MU_FIT["threshold"],
        columns={"x": "N_over_d_intr", "n": "N", "hue": "d_intr", "gl": "gl"},
        labels={
            "title": "U-Nets on MoLRG (n = {})".format(3 * MU["resolution"] ** 2),
            "hue": "$d_{intr}$",
            "x": "$N / d_{intr}$",
            "n": "$N$",
        },
        fit_scope="all",
        # rows whose `model` is not this one (the empirical-optimal baseline) are drawn as markers only
        curve_model="unet",
        note=(
            f"eps = {100 * MU['eps_quantile']:g} % quantile of fresh-sample nearest-training-point distances "
            f"(Eq. 46): a perfectly\ngeneralising model scores GL = {1 - MU['eps_quantile']:g} by construction, "
            f"so the curves plateau there (threshold {MU_FIT['threshold']:g})."
        ),
    script:
        "../scripts/plot_gl.py"


rule molrg_unet_memorization:
    """Memorisation you can see (issue #9): for every d, the first memorization_pairs generated
    samples of the smallest-N and the largest-N U-Net beside their nearest training points, drawn
    as 3 x res x res images, with the distances, the copy threshold, the copy rate and GL.
    """
    input:
        samples=expand("results/molrg_unet/samples/{cell}.npz", cell=MU_MEM_CELLS),
        train=[
            "results/molrg_unet/data/{}.npz".format(c.rsplit("_seed", 1)[0])
            for c in MU_MEM_CELLS
        ],
        nn=expand("results/molrg_unet/gl/{cell}_nn.npz", cell=MU_MEM_CELLS),
    output:
        figure=report(
            f"results/figures/fig4_left_memorization.{MU_FIG_EXT}",
            caption="../report/fig4_left_memorization.rst",
            category="MoLRG U-Nets (Fig 4 left)",
            subcategory="Figures",
        ),
    log:
        "results/logs/molrg_unet_memorization/figure.log",
    benchmark:
        "results/benchmarks/molrg_unet_memorization/figure.tsv"
    localrule: True
    conda:
        "../../envs/plots.yaml"
    params:
        style=config["plot"],
        num_pairs=MU["memorization_pairs"],
        titles=[
            "d = {d}, d_intr = {di}, N = {N} (N/d_intr = {r:g}), seed {s}".format(
                d=int(c.split("_")[0][1:]),
                di=MU["K"] * int(c.split("_")[0][1:]),
                N=int(c.split("_")[1][1:]),
                r=int(c.split("_")[1][1:]) / (MU["K"] * int(c.split("_")[0][1:])),
                s=c.rsplit("_seed", 1)[1],
            )
            for c in MU_MEM_CELLS
        ],
        # MoLRG vectors are Gaussian values, not pixels: one symmetric colour scale per figure
        value_range=None,
        suptitle="U-Nets on MoLRG (n = {}): generated samples (top) and their nearest training points (bottom)".format(
            3 * MU["resolution"] ** 2
        ),
    script:
        "../scripts/plot_memorization.py"


FINAL_OUTPUTS.extend(
    [
        f"results/figures/fig4_left_memorization.{MU_FIG_EXT}",
        "results/tables/molrg_gl_scores.csv",
        "results/tables/molrg_sigmoid_fit.csv",
        f"results/figures/fig4_left_molrg_gl.{MU_FIG_EXT}",
    ]
)
