"""Run times that Snakemake measured: every rule writes a `benchmark:` file,
`results/benchmarks/<rule>/<job>.tsv`; these functions read them into one table per job and sum
them per rule and per figure family.

A Snakemake benchmark file is a tab-separated table with the header
`s  h:m:s  max_rss  max_vms  max_uss  max_pss  io_in  io_out  mean_load  cpu_time` and one row per
repeat (`repeat("...", n)`; one row otherwise): `s` wall seconds, `max_rss` MB, `cpu_time` CPU
seconds (user + system of the job's processes), `NA` where psutil measured nothing (a job shorter
than its first sample).
"""
from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import pandas as pd

# The default run's CPU budget per family (the team's brief, CPU-minutes of the default run on
# 2 cores); families are matched in this order, the first pattern that matches the rule name wins.
# Local rules (figures, tables, fits, claims, this table) and data preparation form one family
# whatever their prefix.
SMALL_JOBS = "figures, tables, fits, claims, data"
FAMILIES: list[tuple[str, str, float]] = [
    ("theory (Figs 2, 3, 6)", r"^theory_", 4),
    ("Fig 4 left (MoLRG U-Nets)", r"^molrg_unet_", 14),
    ("Fig 4 right (real-data GL grid)", r"^realdata_gl_", 14),
    ("Table 1, Fig 1, FID, classifier", r"^realdata_", 12),
    ("Fig 7, Table 2, Fig 5", r"^(jacobian_|editing)", 5),
]
BUDGET_CPU_MIN = {name: budget for name, _, budget in FAMILIES} | {SMALL_JOBS: 4}

JOB_COLUMNS = ["rule", "job", "family", "wall_s", "cpu_s", "max_rss_mb", "repeats"]
SUM_COLUMNS = ["level", "name", "family", "jobs", "wall_s", "cpu_s", "max_rss_mb", "family_budget_cpu_min"]


def _number(text: str) -> float:
    text = text.strip()
    return math.nan if text in ("", "NA", "nan") else float(text)


def read_benchmark(path) -> dict:
    """One benchmark file as {'wall_s', 'cpu_s', 'max_rss_mb', 'repeats'}: the mean over its rows
    (repeats) of `s`, `cpu_time` and `max_rss`; NaN where Snakemake wrote NA. Raises ValueError
    naming the file if it is not a Snakemake benchmark table."""
    path = Path(path)
    with open(path, newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    if not rows or not {"s", "cpu_time", "max_rss"} <= set(rows[0]):
        raise ValueError(f"{path}: not a Snakemake benchmark file (expected a tab-separated header with "
                         f"s, max_rss and cpu_time; got {rows[0] if rows else 'an empty file'})")
    head = rows[0]
    data = [r for r in rows[1:] if r and any(c.strip() for c in r)]
    if not data:
        raise ValueError(f"{path}: Snakemake benchmark file without a measurement row")
    cols = {name: [_number(r[head.index(name)]) for r in data] for name in ("s", "cpu_time", "max_rss")}

    def mean(values):
        finite = [v for v in values if not math.isnan(v)]
        return sum(finite) / len(finite) if finite else math.nan

    return {"wall_s": mean(cols["s"]), "cpu_s": mean(cols["cpu_time"]), "max_rss_mb": mean(cols["max_rss"]),
            "repeats": len(data)}


def family_of(rule: str, local: bool = False) -> str:
    """The figure family a rule's CPU time is budgeted under (see FAMILIES)."""
    if local or rule.startswith("data_"):
        return SMALL_JOBS
    for name, pattern, _ in FAMILIES:
        if re.search(pattern, rule):
            return name
    return SMALL_JOBS


def job_times(root, local_rules=(), exclude_rules=()) -> pd.DataFrame:
    """Every `<root>/<rule>/<job>.tsv` below the benchmark folder `root` as one row (JOB_COLUMNS),
    sorted by rule and job. `job` is the file's path below the rule's folder without `.tsv` (the
    benchmark stem, i.e. the job's wildcards); `local_rules` decides the family of local rules."""
    root = Path(root)
    rows = []
    for path in sorted(root.rglob("*.tsv")):
        rel = path.relative_to(root)
        if len(rel.parts) < 2 or rel.parts[0] in exclude_rules:
            continue
        rule = rel.parts[0]
        rows.append({"rule": rule, "job": str(Path(*rel.parts[1:]).with_suffix("")),
                     "family": family_of(rule, rule in set(local_rules)), **read_benchmark(path)})
    return pd.DataFrame(rows, columns=JOB_COLUMNS)


def summed_times(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per rule, then per family, then the total: number of jobs, summed wall and CPU seconds, the
    largest max RSS (SUM_COLUMNS). `family_budget_cpu_min` is the default run's CPU budget of the
    row's family (for a rule: of its family; for the total: the whole budget). No NaN: a value
    psutil never measured counts as 0 in the sums."""
    out = []

    def add(level, name, family, part):
        rss = part["max_rss_mb"].max() if len(part) else 0.0
        out.append({"level": level, "name": name, "family": family, "jobs": len(part),
                    "wall_s": part["wall_s"].sum(), "cpu_s": part["cpu_s"].sum(),
                    "max_rss_mb": 0.0 if math.isnan(rss) else rss,
                    "family_budget_cpu_min": sum(BUDGET_CPU_MIN.values()) if level == "total"
                    else BUDGET_CPU_MIN[family]})

    for rule, part in jobs.groupby("rule", sort=True):
        add("rule", rule, part["family"].iloc[0], part)
    order = [name for name, _, _ in FAMILIES] + [SMALL_JOBS]
    for fam in order:
        part = jobs[jobs["family"] == fam]
        if len(part):
            add("family", fam, fam, part)
    add("total", "all jobs", "", jobs)
    return pd.DataFrame(out, columns=SUM_COLUMNS)
