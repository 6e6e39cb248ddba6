# The claims report: one row per claim of the paper (spec §10, plus the theory's
# N_k = d boundary for the closed form and the DAE), with the test applied, the measured values
# and a verdict (molrg.claims). It reads every evidence table that some rule of this DAG makes
# (molrg.claims.EVIDENCE, filtered by the final outputs and the rules' concrete outputs), so the
# DAG stays valid whatever parts are configured; a claim whose evidence is absent comes out
# "not testable" and names what is missing. Include this file after every other rule file.
from molrg.claims import EVIDENCE as CLAIMS_EVIDENCE


rule claims_report:
    """results/claims.md (the first page of the report) and results/tables/claims.csv."""
    input:
        unpack(
            lambda wildcards: {
                name: path
                for name, path in CLAIMS_EVIDENCE.items()
                if path in final_outputs()
                or path in {str(o) for r in workflow.rules for o in r.output}
            }
        ),
    output:
        md=report(
            "results/claims.md",
            caption="../report/claims.rst",
            category="0. Claims",
        ),
        table=report(
            "results/tables/claims.csv",
            caption="../report/claims.rst",
            category="0. Claims",
        ),
    log:
        "results/logs/claims_report/claims.log",
    benchmark:
        "results/benchmarks/claims_report/claims.tsv"
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        seed=config["seed"],
    script:
        "../scripts/claims_report.py"


FINAL_OUTPUTS.extend(["results/claims.md", "results/tables/claims.csv"])
