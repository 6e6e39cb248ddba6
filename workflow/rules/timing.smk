# Run times that Snakemake measured: the benchmark file of every job of the run
# (results/benchmarks/<rule>/<job>.tsv) gathered into one table per job and one per rule and
# figure family. It needs every other final output, so it runs last; it reruns whenever any
# of them is remade (then the tables hold the latest time of every job).
# Families and their CPU budget: molrg.timing.FAMILIES.

TIMING_TABLES = [
    "results/tables/rule_times.csv",
    "results/tables/family_times.csv",
]


rule timing_table:
    """Wall and CPU time per job, and summed per rule and per figure family, from the benchmark
    files of every job (molrg.timing)."""
    input:
        lambda wildcards: [f for f in final_outputs() if f not in TIMING_TABLES],
    output:
        jobs=report(
            "results/tables/rule_times.csv",
            caption="../report/timing.rst",
            category="Run times",
        ),
        summary=report(
            "results/tables/family_times.csv",
            caption="../report/timing.rst",
            category="Run times",
        ),
    log:
        "results/logs/timing_table/tables.log",
    benchmark:
        "results/benchmarks/timing_table/tables.tsv"
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        benchmarks="results/benchmarks",
        exclude_rules=["timing_table"],
        # local rules (localrule: True); workflow.is_local() is True for every rule of a local run
        local_rules=lambda wildcards: sorted(workflow._localrules),
    script:
        "../scripts/timing_table.py"


FINAL_OUTPUTS.extend(TIMING_TABLES)
