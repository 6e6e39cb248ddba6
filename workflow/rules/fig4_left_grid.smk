# Fig 4 left, the grid: DDPM++ U-Nets trained on MoLRG training sets of growing size N for several
# subspace dimensions d (spec §1.4, §2.4, §6.1-6.3). Per cell (d, N, seed): dataset -> train ->
# sample -> GL score, and the empirical-optimal baseline per (d, N); all in group train_grid (one
# SLURM job runs many cells). Cells: molrg.cells. Tables and figures: fig4_left.smk. Notes for
# the README: docs/molrg_unet.md.
from molrg.cells import Cell, molrg_cells, molrg_unet_settings, stack_groups

MU = config["molrg_unet"]
MU_RES = MU["resources"]
MU_HEUN = {k: MU[k] for k in ("num_steps", "sigma_min", "sigma_max", "rho")}
# One training job per stack of cells (config accel.stack_cells, molrg/stacked.py), by job name.
# A stack of one cell is any cell of the grid (rule molrg_unet_train, on the wildcards below);
# larger stacks are trained vmapped in one process, one rule each (molrg_unet_train_stack<i>): a
# rule's outputs share its wildcards, and the cells of a stack have none in common.
MU_SOLO = Cell(d="{mu_d}", N="{mu_N}", seed="{mu_seed}")
MU_STACKS = (
    {MU_SOLO.name: [MU_SOLO]}
    if config["accel"]["stack_cells"] == 1
    else {
        f"stack{i}": cells
        for i, cells in enumerate(
            stack_groups(molrg_cells(MU), config["accel"]["stack_cells"])
        )
    }
)


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
        seed=config["seed"],
    script:
        "../scripts/molrg_unet_dataset.py"


for _job, _cells in MU_STACKS.items():

    rule:
        """EDM training of a stack of cells: one cell alone (molrg.training), or several vmapped in
        one process (molrg.stacked; the same weights at float tolerance); each cell keeps its own
        seed. Checkpoints every `checkpoint_every` steps; a rerun after a kill resumes from the last
        one and ends with the same weights.
        """
        name:
            "molrg_unet_train" if _cells == [MU_SOLO] else f"molrg_unet_train_{_job}"
        input:
            data=[molrg_unet_file("data", c) for c in _cells],
        output:
            # one named file each: the output cache stores named files, not lists
            **{
                c.name if len(_cells) > 1 else "model": molrg_unet_file("model", c)
                for c in _cells
            },
        log:
            f"results/logs/molrg_unet_train/{_job}.log",
        benchmark:
            f"results/benchmarks/molrg_unet_train/{_job}.tsv"
        group:
            "train_grid"
        conda:
            "../../envs/train.yaml"
        threads: MU["threads"]
        resources:
            gpu=MU_RES["gpu"],
            mem_mb=lambda wc, attempt: MU_RES["mem_mb"] * attempt,
            runtime=lambda wc, attempt, n=len(_cells): capped_runtime(
                MU_RES["runtime"] * n * attempt
            ),
        params:
            # the stacked loop's settings and its checkpoint (one cell's sits beside its model)
            **(
                {}
                if len(_cells) == 1
                else {
                    "accel": {
                        k: config["accel"][k] for k in ("autocast_bf16", "compile")
                    },
                    "checkpoint": f"results/molrg_unet/models/{_job}_checkpoint.pt",
                }
            ),
            cells=lambda wc, cells=_cells: [c.name.format(**wc) for c in cells],
            unet=molrg_unet_settings(MU),
            seed=config["seed"],
            device=config["device"],
        script:
            "../scripts/molrg_unet_train.py"


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
        seed=config["seed"],
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
        data="results/molrg_unet/data/d{mu_d}_N{mu_N}.npz",
        samples="results/molrg_unet/samples/d{mu_d}_N{mu_N}_seed{mu_seed}.npz",
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
        replicate=lambda wc: int(wc.mu_seed),
        copy_fraction=MU["copy_fraction"],
        model="unet",
        seed=config["seed"],
    script:
        "../scripts/molrg_unet_gl.py"


rule molrg_unet_empirical:
    """Baseline cell: num_generated Heun samples of the empirical-optimal denoiser (exact posterior
    mean of the training set, molrg.empirical; it regenerates training points), scored exactly as
    the U-Nets (same eps, fresh samples and copy threshold as the U-Net cells of this (d, N)).
    """
    input:
        data="results/molrg_unet/data/d{mu_d}_N{mu_N}.npz",
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
        num_fresh=MU["num_fresh"],
        quantile=MU["eps_quantile"],
        replicate=0,
        copy_fraction=MU["copy_fraction"],
        model="empirical_optimal",
        seed=config["seed"],
    script:
        "../scripts/molrg_unet_gl.py"
