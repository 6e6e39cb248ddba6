# Fig 4 left, tables and figures: every cell's GL score (Eq. 21, phi = identity, eps by Eq. 46)
# in one table, the sigmoid fit (Eq. 47) of GL against N/d_intr and against N, the figure and the
# memorisation figure (spec §6.1-6.3, §6.5). Cells: fig4_left_grid.smk. Notes: docs/molrg_unet.md.
from molrg.cells import molrg_baselines, molrg_cells, molrg_memorization_cells

MU_FIT = config["fit"]
MU_FIG_EXT = config["plot"]["format"]
MU_FIG_N = 3 * MU["resolution"] ** 2  # the ambient dimension n, in the figures' titles


rule molrg_unet_gl_table:
    """Every cell's GL score, copy rate and NN ratio in one tidy table (model = unet), with the
    empirical-optimal baseline rows (model = empirical_optimal)."""
    input:
        rows=[molrg_unet_file("gl", c) for c in molrg_cells(MU)]
        + [molrg_unet_file("empirical", c) for c in molrg_baselines(MU)],
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
        seed=config["seed"],
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
            "title": f"U-Nets on MoLRG (n = {MU_FIG_N})",
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
    """Memorisation you can see: for every d, the first memorization_pairs generated samples of the
    smallest-N and the largest-N U-Net beside their nearest training points, drawn as 3 x res x res
    images, with the distances, the copy threshold, the copy rate and GL.
    """
    input:
        samples=[molrg_unet_file("samples", c) for c in molrg_memorization_cells(MU)],
        train=[molrg_unet_file("data", c) for c in molrg_memorization_cells(MU)],
        nn=[molrg_unet_file("nn", c) for c in molrg_memorization_cells(MU)],
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
            f"d = {c.d}, d_intr = {MU['K'] * c.d}, N = {c.N} "
            f"(N/d_intr = {c.N / (MU['K'] * c.d):g}), seed {c.seed}"
            for c in molrg_memorization_cells(MU)
        ],
        # MoLRG vectors are Gaussian values, not pixels: one symmetric colour scale per figure
        value_range=None,
        suptitle=f"U-Nets on MoLRG (n = {MU_FIG_N}): generated samples (top) and their nearest "
        "training points (bottom)",
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
