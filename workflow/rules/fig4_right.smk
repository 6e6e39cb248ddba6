# Fig 4 right, tables and figures: GL, copy rate and NN ratio of every grid U-Net and baseline
# with N/d_intr, the sigmoid fits (Eq. 47) against N/d_intr and N, the figure and the
# memorisation figure (spec §6.1, §6.4, §6.5). Grid: fig4_right_grid.smk. Notes: docs/realdata.md.
from molrg.cells import real_baselines, real_memorization_cells

RD_GL = RD["gl_datasets"]
RD_GL_FIG_EXT = config["plot"]["format"]
RD_GL_DESCRIPTOR_LABEL = {
    "sscd": "SSCD",
    "classifier": "classifier features",
    "pixel": "pixel cosine",
}[RD["descriptor"]["kind"]] + (
    f", threshold {RD['descriptor']['threshold']}"
    if RD["descriptor"]["threshold"] is not None
    else f", threshold calibrated ({1 - RD['gl']['eps_quantile']:g} quantile, {RD['gl']['calibration']})"
)
RD_GL_REPORT = {
    "category": "Real images (Table 1, Figs 1, 4 right, FID)",
    "subcategory": "Fig 4 right",
}


rule realdata_gl_table:
    """Fig 4 right's tables: GL, copy rate and NN ratio per model (grid U-Nets and the empirical-
    optimal baseline) with N/d_intr (Table 2 where valid, else the config fallback, with the reason),
    and the sigmoid fits (Eq. 47) on the U-Net rows."""
    input:
        **(
            {"table2": "results/tables/table2_intrinsic_dimension.csv"}
            if RD["gl"]["d_intr_source"] == "table2"
            else {}
        ),
        **(
            {
                "jacobian": [
                    f"results/realdata/{name}/gl_jacobian.json" for name in RD_GL
                ]
            }
            if RD["gl"]["d_intr_source"] == "jacobian"
            else {}
        ),
        # every set's Levina-Bickel MLE (reported beside; fallbacks given as "mle" take it)
        gl=[
            real_gl_file(name, cell, "gl.json")
            for name in RD_GL
            for cell in real_gl_cells(name)
        ],
        empirical=[
            f"results/realdata/{name}/gl_empirical/{cell.name}/gl.json"
            for name in RD_GL
            for cell in real_baselines(RD["gl"], config["datasets"][name]["max_train"])
        ],
        # d_intr from Table 2, or from each set's Jacobian (its own largest-N GL U-Net)
        mle_train=[f"results/data/{name}/train.npz" for name in RD_GL],
    output:
        scores=report(
            "results/tables/real_gl_scores.csv",
            caption="../report/real_gl_tables.rst",
            **RD_GL_REPORT,
        ),
        fit=report(
            "results/tables/real_sigmoid_fit.csv",
            caption="../report/real_gl_tables.rst",
            **RD_GL_REPORT,
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


rule plot_fig4_right:
    """Fig 4 right: GL of the real-data U-Nets vs N/d_intr (top) and vs N (bottom), one colour per
    dataset (legend, outside the axes: d_intr and its source), pooled sigmoid fits (black) and each
    set's own fit (its colour), the empirical-optimal denoiser as black-edged diamonds (plot_gl.py).
    """
    input:
        table=rules.realdata_gl_table.output.scores,
        fit=rules.realdata_gl_table.output.fit,
    output:
        figure=report(
            f"results/figures/fig4_right_real_gl.{RD_GL_FIG_EXT}",
            caption="../report/fig4_right_real_gl.rst",
            **RD_GL_REPORT,
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
            "title": f"U-Nets on real images; GL descriptor: {RD_GL_DESCRIPTOR_LABEL}",
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
    beside their nearest training images (descriptor space), copy rate, GL, NN ratio.
    """
    input:
        samples=[
            real_gl_file(n, c, "samples.npz")
            for n in RD_GL
            for c in real_memorization_cells(real_gl_cells(n))
        ],
        train=[
            f"results/data/{n}/train.npz"
            for n in RD_GL
            for c in real_memorization_cells(real_gl_cells(n))
        ],
        nn=[
            real_gl_file(n, c, "nn.npz")
            for n in RD_GL
            for c in real_memorization_cells(real_gl_cells(n))
        ],
    output:
        figure=report(
            f"results/figures/fig4_right_memorization.{RD_GL_FIG_EXT}",
            caption="../report/fig4_right_memorization.rst",
            **RD_GL_REPORT,
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
            f"{n}, U-Net trained on N = {c.N} images"
            for n in RD_GL
            for c in real_memorization_cells(real_gl_cells(n))
        ],
        num_pairs=RD["gl"]["memorization_pairs"],
        value_range=[-1.0, 1.0],
        suptitle=f"Fig 4 right: generated images (top) and their nearest training images "
        f"(bottom; {RD_GL_DESCRIPTOR_LABEL.split(',')[0]} space)",
        style=config["plot"],
    script:
        "../scripts/plot_memorization.py"


FINAL_OUTPUTS.extend(
    [
        "results/tables/real_gl_scores.csv",
        "results/tables/real_sigmoid_fit.csv",
        f"results/figures/fig4_right_real_gl.{RD_GL_FIG_EXT}",
        f"results/figures/fig4_right_memorization.{RD_GL_FIG_EXT}",
    ]
    if RD_GL
    else []
)
