"""An edit of the core code (molrg/) reruns exactly the jobs whose scripts import the edited module,
directly or through other molrg modules, and everything downstream of them (workflow/rules/
core_code.smk, molrg.codeid). Asked from `snakemake -n` on the completed tiny run (session fixture
`tiny_run`, never modified): the workflow is copied with its file times, one module of the copy is
edited, and the copy's Snakefile plans the run. The expected jobs come from the DAG (a forced dry
run) and from the import graph, never from a hard-coded list:

* molrg/sigmoid.py: the sigmoid fits and what reads them (figures, tables);
* molrg/precond.py: the training jobs and everything downstream;
* molrg/claims.py: only the claims report (and the run-time tables, which depend on every final
  output by design);
* molrg/config_checks.py, which no job imports (only the DAG build does): nothing."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import BIN, TINY
from molrg.codeid import CodeIdentity
from test_reruns import downstream, explain, job_table
from workflow_info import ROOT, parse_jobs, workflow_rules

pytestmark = pytest.mark.slow

COPIED = ["Snakefile", "config.yaml", "workflow", "molrg", "envs"]


def copy_checkout(dest: Path) -> Path:
    """A copy of the workflow in `dest` with the original modification times (copy2), so that
    Snakemake's mtime trigger sees the copy as the same code."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    return dest


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    return copy_checkout(tmp_path_factory.mktemp("checkout"))


def dry_run(checkout: Path, workdir: Path, *args):
    import subprocess

    cmd = [str(BIN / "snakemake"), "-s", str(checkout / "Snakefile"), "--directory", str(workdir),
           "--cores", "2", "-n", *args, "--configfile", str(TINY)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text[-6000:]
    table, jobs = job_table(text), parse_jobs(text)
    assert {j.rule for j in jobs} == set(table), f"parsed jobs disagree with the job table {table}"
    return table, jobs


@pytest.fixture(scope="module")
def dag(tiny_run, checkout):
    _, jobs = dry_run(checkout, tiny_run, "--forceall")
    return jobs


@pytest.fixture(scope="module")
def imports(checkout, tmp_path_factory) -> dict[str, list[str]]:
    """rule name -> the molrg modules its script runs (molrg.codeid on the copy)."""
    ids = CodeIdentity(checkout / "molrg")
    out = {}
    for r in workflow_rules(tmp_path_factory.mktemp("info"), [TINY]):
        if r["script"]:
            rel = Path(r["rulefile"]).resolve().parent.relative_to(ROOT)
            out[r["name"]] = ids.closure((checkout / rel / r["script"]).resolve())
    return out


# (module, rules that must be among the directly affected ones, rules that must not be planned)
CASES = [
    ("sigmoid", {"molrg_unet_sigmoid_fit", "realdata_gl_table"}, {"molrg_unet_train", "realdata_gl_train"}),
    ("precond", {"molrg_unet_train", "realdata_gl_train", "realdata_unet"}, {"theory_dae", "molrg_unet_dataset"}),
    ("claims", {"claims_report"}, {"molrg_unet_sigmoid_fit"}),
    ("config_checks", set(), set()),
]


@pytest.mark.parametrize("module, must, must_not", CASES, ids=[c[0] for c in CASES])
def test_core_edit_reruns_exactly_its_importers(tiny_run, checkout, dag, imports, module, must, must_not):
    name = f"molrg.{module}"
    direct = {rule for rule, mods in imports.items() if name in mods}
    assert must <= direct, f"{sorted(must - direct)} do not import {name} (the test's premise)"
    if module == "claims":
        assert direct == {"claims_report"}, f"{name} is imported by {sorted(direct)}"
    if module == "config_checks":
        assert direct == set(), f"{name} is imported by jobs of {sorted(direct)}"
    roots = [j for j in dag if j.rule in direct]
    expected = downstream(dag, roots) if roots else set()
    expected = {k for k in expected if k[0] != "all"}

    path = checkout / "molrg" / f"{module}.py"
    original = path.read_bytes()
    try:
        path.write_bytes(original + b"\n# an edit that changes no behaviour\n")
        table, jobs = dry_run(checkout, tiny_run)
    finally:
        path.write_bytes(original)
    planned = {j.key for j in jobs if j.rule != "all"}
    extra = [j for j in jobs if j.rule != "all" and j.key not in expected]
    assert not extra, f"an edit of {name} plans jobs that do not run it:\n" + explain(extra)
    assert expected - planned == set(), f"an edit of {name} leaves stale: {sorted(expected - planned)}"
    assert not must_not & set(table), f"an edit of {name} reruns {sorted(must_not & set(table))}"
    for j in jobs:
        # a job that runs the module reruns for its params, unless an upstream job reruns first
        # (then Snakemake names only that reason)
        if j.rule in direct:
            assert "Params have changed" in j.reason or "updated by another job" in j.reason, (
                f"{j.rule} {j.outputs}: {j.reason}")
    print(f"\n{name}: {len(planned)} jobs, {dict(sorted(table.items()))}")
