# Reproduction of "Diffusion Models Learn Low-Dimensional Distributions via Subspace Clustering"
# (arXiv 2409.02426). Glue only: config, schema validation, rule files, the final target.
# Where each figure comes from: README.md, table "Figures and the rules that make them".
import os

from snakemake.utils import min_version

min_version("9.0")


# The embedded default, found next to this Snakefile even with --directory elsewhere;
# --configfile FILE merges a preset over it.
configfile: os.path.join(workflow.basedir, "config.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/theory.smk"
include: "workflow/rules/fig4_left_grid.smk"
include: "workflow/rules/fig4_left.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/reference.smk"
include: "workflow/rules/table1.smk"
include: "workflow/rules/fig4_right_grid.smk"
include: "workflow/rules/fig4_right.smk"
include: "workflow/rules/jacobian.smk"
include: "workflow/rules/editing.smk"
include: "workflow/rules/timing.smk"
include: "workflow/rules/claims.smk"
include: "workflow/rules/core_code.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
