# Fig 4 right, the grid: U-Nets trained on growing subsets of a real dataset (cells: molrg.cells,
# real_gl_cells), their GL score (Eq. 21) and memorisation evidence, the empirical-optimal
# baseline, and each set's intrinsic dimension from its largest-N U-Net (spec §6.1, §6.4). A
# cell's training, samples and GL evaluation are in group train_real (one SLURM job, several
# cells). Shared names: reference.smk; tables and figures: fig4_right.smk. Notes: docs/realdata.md.
from molrg.cells import Cell
from molrg.training_length import iterations_for_N

# the GL settings the evaluation of one cell reads
RD_GL_EVAL = {
    k: RD["gl"][k]
    for k in ("num_samples", "eps_quantile", "calibration", "copy_fraction")
}
# the dataset's classifier, an input only where it is the GL descriptor
RD_GL_CLASSIFIER = (
    {"classifier": "results/realdata/{dataset}/classifier/model.pt"}
    if RD["descriptor"]["kind"] == "classifier"
    else {}
)


rule realdata_gl_train:
    """One U-Net of the real-data GL grid: VP preconditioning, trained on the first N images for
    the steps of realdata.gl.iterations_rule (molrg.training_length.iterations_for_N).
    """
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
        **RD_GL_CLASSIFIER,
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
        **RD_GL_CLASSIFIER,
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
        model=lambda w: real_gl_file(
            w.dataset, Cell(N=real_gl_cells(w.dataset)[-1].N, seed=0), "model.pt"
        ),
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
        N=lambda w: real_gl_cells(w.dataset)[-1].N,
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/realdata_gl_jacobian.py"
