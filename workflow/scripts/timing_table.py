"""Run-time tables (rule timing_table): every job's Snakemake benchmark file into
results/tables/rule_times.csv (one row per job) and results/tables/family_times.csv (per rule,
per figure family, total), with provenance. The parsing and sums are molrg.timing's."""
from molrg.provenance import save_table
from molrg.runtime import setup_logging
from molrg.timing import job_times, summed_times

p = snakemake.params
log = setup_logging(snakemake.log[0])
jobs = job_times(p.benchmarks, local_rules=p.local_rules, exclude_rules=p.exclude_rules)
if jobs.empty:
    raise ValueError(f"no benchmark files under {p.benchmarks}: every rule declares `benchmark:`, "
                     "so the jobs of this run should have written them")
summary = summed_times(jobs)
note = {"note": "times measured by Snakemake (benchmark: files), latest execution of every job; "
                "they depend on the machine and its load, so they are not byte-identical between runs"}
save_table(jobs, snakemake.output.jobs, {"benchmarks": p.benchmarks}, extra=note, float_format="%.2f")
save_table(summary, snakemake.output.summary, {"benchmarks": p.benchmarks}, extra=note, float_format="%.2f")
total = summary[summary["level"] == "total"].iloc[0]
log.info("%d jobs: %.1f s wall, %.1f s CPU in all", total["jobs"], total["wall_s"], total["cpu_s"])
