"""Reruns of only what is outdated, asked from `snakemake -n` on the completed tiny run
(the session fixture `tiny_run`; dry runs only, so its directory is never modified):

* a plot setting (plot.dpi) plans exactly the figure jobs (local rules whose script is a
  workflow/scripts/plot_*.py) and the local jobs downstream of them (the run-time tables);
* one training value of one grid plans exactly the affected training jobs and everything
  downstream of them, the expected set being computed from the DAG (`snakemake -n --forceall`:
  a job's output feeding another job's input is an edge), never from a hard-coded list;
* a change of resources only, or no change at all, plans nothing.

`snakemake --list-changes params` is not used: it lists every output in Snakemake 9.27
(../shared/snakemake_slurm.md §2.3)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from conftest import TINY, run_snakemake
from workflow_info import Job, parse_jobs, workflow_rules

pytestmark = pytest.mark.slow


def job_table(text: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run: rule -> number of planned jobs ({} if nothing to do)."""
    m = re.search(r"^Job stats:\n.*?\n-+\s+-+\n(.*?)^total\s+(\d+)", text, re.M | re.S)
    if m is None:
        assert "Nothing to be done" in text, f"no job table and not 'Nothing to be done':\n{text[-3000:]}"
        return {}
    table = {row.split()[0]: int(row.split()[1]) for row in m.group(1).splitlines() if row.strip()}
    assert sum(table.values()) == int(m.group(2)), f"job table does not add up:\n{m.group(0)}"
    return table


def dry_run(workdir: Path, tmp_path: Path, override: dict | None = None, *args) -> tuple[dict[str, int], list[Job]]:
    """`snakemake -n` in `workdir` on the tiny config, with `override` merged over it."""
    configfiles = [TINY]
    if override is not None:
        path = tmp_path / "override.yaml"
        path.write_text(yaml.safe_dump(override))
        configfiles.append(path)
    proc = run_snakemake(workdir, "-n", *args, configfiles=configfiles, check=True)
    text = proc.stdout + proc.stderr
    table, jobs = job_table(text), parse_jobs(text)
    counts = {}
    for j in jobs:
        counts[j.rule] = counts.get(j.rule, 0) + 1
    assert counts == table, f"parsed job blocks {counts} disagree with the job table {table}"
    return table, jobs


def explain(jobs) -> str:
    """One line per job: rule, outputs and Snakemake's reason for planning it."""
    return "\n".join(f"  {j.rule} {list(j.outputs)}: {j.reason[:300]}" for j in jobs)


def downstream(jobs: list[Job], roots: list[Job]) -> set:
    """The keys of `roots` and of every job that consumes, directly or not, one of their outputs."""
    consumers = {}
    for j in jobs:
        for f in j.inputs:
            consumers.setdefault(f, []).append(j)
    seen, todo = set(), list(roots)
    while todo:
        job = todo.pop()
        if job.key in seen:
            continue
        seen.add(job.key)
        for f in job.outputs:
            todo.extend(consumers.get(f, []))
    return seen


@pytest.fixture(scope="module")
def full_dag(tiny_run, tmp_path_factory) -> list[Job]:
    """Every job of the tiny DAG with its input and output files (a forced dry run)."""
    _, jobs = dry_run(tiny_run, tmp_path_factory.mktemp("dag"), None, "--forceall")
    assert jobs, "the forced dry run listed no jobs"
    return jobs


def test_plot_setting_reruns_only_figures(tiny_run, full_dag, tmp_path):
    """plot.dpi plans every figure job, for its params, and otherwise only local jobs downstream of
    the figures (the run-time tables of rule timing_table, which depend on every final output),
    which rerun because their inputs are remade, never for their own params."""
    table, jobs = dry_run(tiny_run, tmp_path, {"plot": {"dpi": 151}})
    rules = {r["name"]: r for r in workflow_rules(tmp_path, [TINY])}
    figure_rules = {
        name for name, r in rules.items() if r["script"] and Path(r["script"]).name.startswith("plot_")
    }
    in_dag = {j.rule for j in full_dag}
    planned = set(table) - {"all"}
    assert planned, "changing plot.dpi planned no job: the figure rules do not take the plot section as params"
    expected = downstream(full_dag, [j for j in full_dag if j.rule in figure_rules])
    extra = [j for j in jobs if j.rule != "all" and j.key not in expected]
    assert not extra, "plot.dpi reruns jobs that are neither figures nor downstream of them:\n" + explain(extra)
    assert planned >= figure_rules & in_dag, (
        f"figure rules not rerun after a DPI change (plot section not in their params?): "
        f"{sorted((figure_rules & in_dag) - planned)}"
    )
    not_local = sorted(r for r in planned if not rules[r]["local"])
    assert not not_local, f"rules rerun by a plot setting that are not localrule: {not_local}"
    for j in jobs:
        if j.rule in figure_rules:
            assert j.reason.startswith("Params have changed"), f"{j.rule} {j.outputs}: {j.reason}"
        elif j.rule != "all":
            assert "Params have changed" not in j.reason, f"{j.rule} reads the plot section: {j.reason}"


# (id, override merged over the tiny config, the rule that consumes the value, a wildcard filter)
TRAINING_EDITS = [
    ("molrg_unet.iterations", {"molrg_unet": {"iterations": 7}}, "molrg_unet_train", ""),
    # the N = 32 cell: realdata.gl.iterations_rule shortens larger N to its floor in the tiny config,
    # so their step count (their params) does not change
    ("realdata.gl_unet.iterations", {"realdata": {"gl_unet": {"iterations": 4}}}, "realdata_gl_train", "N=32,"),
    # a single grid cell: the K = 2 grid of the DAE (one job)
    ("theory.dae.grid.K2.trials", {"theory": {"dae": {"grid": {"K2": {"trials": 3}}}}}, "theory_dae", "K=2"),
]


@pytest.mark.parametrize("override, rule, wildcards", [e[1:] for e in TRAINING_EDITS], ids=[e[0] for e in TRAINING_EDITS])
def test_training_value_reruns_only_affected_cells_and_downstream(tiny_run, full_dag, tmp_path, override, rule, wildcards):
    roots = [j for j in full_dag if j.rule == rule and wildcards in j.wildcards]
    assert roots, f"no job of rule {rule} ({wildcards or 'any wildcards'}) in the tiny DAG"
    expected = downstream(full_dag, roots)
    _, jobs = dry_run(tiny_run, tmp_path, override)
    planned = {j.key for j in jobs}
    extra = [j for j in jobs if j.key not in expected]
    assert not extra, f"jobs planned that do not depend on {rule}:\n" + explain(extra)
    assert expected - planned == set(), f"jobs downstream of {rule} not planned: {sorted(expected - planned)}"
    for j in jobs:
        if j.key in {r.key for r in roots}:
            assert j.reason.startswith("Params have changed"), f"{j.rule} {j.outputs}: {j.reason}"


def test_no_change_plans_nothing(tiny_run, tmp_path):
    table, jobs = dry_run(tiny_run, tmp_path)
    assert table == {}, f"jobs planned without any change: {table}\n" + explain(jobs)


def test_resources_change_plans_nothing(tiny_run, tmp_path):
    """Resources are scheduling hints (SLURM), never params: editing them must not rerun anything."""
    override = {
        "molrg_unet": {"resources": {"runtime": 31, "mem_mb": 2100}},
        "realdata": {"resources": {"train": {"runtime": 61}, "sample": {"mem_mb": 4100}}},
        "jacobian": {"resources": {"runtime": 31}},
        "editing": {"resources": {"mem_mb": 4100}},
        "theory": {"dae": {"resources": {"runtime": 61}}, "closed_form": {"resources": {"mem_mb": 2100}}},
    }
    table, jobs = dry_run(tiny_run, tmp_path, override)
    assert table == {}, f"jobs planned after a change of resources only: {table}\n" + explain(jobs)
