"""Proof on a real SLURM: `snakemake --profile slurm` against a single-node cluster brought up from
Debian's packages by tools/local_slurm.sh (munge, slurmctld, slurmd, slurmdbd + MariaDB, a fake
GPU gres), torn down by PID afterwards.

* test_tiny_config_via_slurm: the pipeline itself on tests/config/tiny.yaml; every file `rule all`
  needs must exist afterwards, and every SLURM job of the run must be COMPLETED in sacct.
* test_profile_groups_gpus_retries: a 5-rule toy workflow on the same profile that exercises what
  the tiny DAG may not: a `train_grid` group of GPU jobs batched into one SLURM job (capped to one
  node), a job that fails and is retried with more memory, its log kept, a localrule.

Needs root and apt-get (CI machines); skipped elsewhere. Marker: slurm.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from workflow_info import ROOT, SNAKEMAKE, workflow_rules

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

LOCAL_SLURM = ROOT / "tools" / "local_slurm.sh"
TINY = ROOT / "tests" / "config" / "tiny.yaml"

# Site values for the local cluster, given the way a user gives them (docs/slurm.md).
SITE_ENV = {
    "MOLRG_SLURM_PARTITION": "debug",
    "MOLRG_SLURM_ACCOUNT": "root",
    "MOLRG_SLURM_NODE_CPUS": "2",
    "MOLRG_SLURM_NODE_GPUS": "2",  # tools/local_slurm.sh declares 2 fake GPUs
}
# Quick polling for a local cluster (the profile keeps the plugin's defaults for real clusters).
FAST_POLLING = [
    "--slurm-init-seconds-before-status-checks", "2",
    "--seconds-between-status-checks", "2",
    "--latency-wait", "5",
]


@pytest.fixture(scope="module")
def slurm_cluster():
    if os.geteuid() != 0:
        pytest.skip("the local SLURM needs root")
    if not shutil.which("apt-get") and not shutil.which("slurmctld"):
        pytest.skip("no apt-get to install SLURM from, and no SLURM installed")
    t0 = time.monotonic()
    up = subprocess.run([str(LOCAL_SLURM), "up"], capture_output=True, text=True, timeout=600)
    print(f"\nlocal SLURM bring-up: {time.monotonic() - t0:.1f} s\n{up.stderr}")
    try:
        assert up.returncode == 0, f"tools/local_slurm.sh up failed:\n{up.stdout}\n{up.stderr}"
        yield
    finally:
        t0 = time.monotonic()
        down = subprocess.run([str(LOCAL_SLURM), "down"], capture_output=True, text=True, timeout=300)
        print(f"local SLURM tear-down: {time.monotonic() - t0:.1f} s (rc {down.returncode})")


def run_profile(workdir: Path, args: list[str], limit_s: int) -> subprocess.CompletedProcess:
    """`snakemake --profile slurm` from the repository root, as a user types it. SIGINT at the time
    limit: the SLURM executor ignores SIGTERM, and on SIGINT it cancels its jobs and exits."""
    cmd = ["timeout", "-s", "INT", "-k", "30", str(limit_s), str(SNAKEMAKE), "--profile", "slurm",
           "--directory", str(workdir), *FAST_POLLING, *args]
    env = {**os.environ, **SITE_ENV}
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    print(f"snakemake --profile slurm in {workdir.name}: {time.monotonic() - t0:.1f} s (rc {proc.returncode})")
    assert proc.returncode != 124, f"snakemake hit the {limit_s} s limit:\n{proc.stderr[-6000:]}"
    return proc


def submitted_jobs(log: str) -> list[str]:
    """SLURM job ids that snakemake reports having submitted."""
    return [line.split("SLURM jobid ")[1].split()[0] for line in log.splitlines() if "with SLURM jobid" in line]


def sacct_states(job_ids: list[str]) -> dict[str, dict]:
    """State, allocated TRES and comment of each job, as the accounting database has them
    (it records a job shortly after it ends: wait up to 20 s for all of them)."""
    for _ in range(40):
        out = subprocess.run(["sacct", "-n", "-X", "-P", "-o", "JobIDRaw,State,AllocTRES,Comment",
                              "-j", ",".join(job_ids)], capture_output=True, text=True, check=True).stdout
        rows = [line.split("|") for line in out.splitlines() if line]
        states = {r[0]: {"state": r[1], "tres": r[2], "comment": r[3]} for r in rows}
        if set(job_ids) <= set(states):
            break
        time.sleep(0.5)
    return states


def test_tiny_config_via_slurm(slurm_cluster, tmp_path):
    rules = workflow_rules(tmp_path, [TINY])
    targets = next(r for r in rules if r.get("name") == "all")["input"]
    # The limit is generous: the tiny DAG (46 jobs) takes minutes on 2 busy cores even locally.
    proc = run_profile(tmp_path, ["-s", "Snakefile", "--configfile", str(TINY.relative_to(ROOT))], limit_s=900)
    assert proc.returncode == 0, proc.stderr[-8000:]
    missing = [t for t in targets if not (tmp_path / t).exists()]
    assert not missing, f"rule all's inputs missing after the SLURM run: {missing}"
    jobs = submitted_jobs(proc.stderr)
    print(f"tiny config: {len(targets)} final files, {len(jobs)} SLURM jobs")
    if jobs:
        states = sacct_states(jobs)
        assert {j: s["state"] for j, s in states.items() if s["state"] != "COMPLETED"} == {}
    if any(not r["local"] for r in rules):  # some job of the DAG must then have gone through SLURM
        assert jobs, "the DAG has non-local rules but no job was submitted to SLURM"


TOY_SNAKEFILE = '''
rule all:
    input:
        "figure.txt",


rule prepare:  # a plain SLURM job
    output:
        "data.txt",
    resources:
        mem_mb=100,
        runtime=2,
    shell:
        "echo $SLURM_JOB_ID > {output}"


rule train:  # three cells batched into one SLURM job, each with a (fake) GPU
    output:
        "cells/{i}.txt",
    group:
        "train_grid"
    threads: 1
    resources:
        gpu=1,
        mem_mb=100,
        runtime=2,
    shell:
        "echo $SLURM_JOB_ID $CUDA_VISIBLE_DEVICES > {output}"


rule flaky:  # fails on its first attempt, succeeds on the retry with more memory
    output:
        "flaky.txt",
    resources:
        mem_mb=lambda wc, attempt: 100 * attempt,
        runtime=2,
    shell:
        "test {resources.mem_mb} -ge 200 && echo {resources.mem_mb} $SLURM_JOB_ID > {output}"


rule figure:  # runs on the submit host
    localrule: True
    input:
        "data.txt",
        expand("cells/{i}.txt", i=range(3)),
        "flaky.txt",
    output:
        "figure.txt",
    shell:
        "echo ${{SLURM_JOB_ID:-local}} > {output}"
'''


def test_profile_groups_gpus_retries(slurm_cluster, tmp_path):
    (tmp_path / "Snakefile").write_text(TOY_SNAKEFILE)
    proc = run_profile(tmp_path, ["-s", str(tmp_path / "Snakefile")], limit_s=200)
    assert proc.returncode == 0, proc.stderr[-8000:]
    log = proc.stderr

    cells = [(tmp_path / f"cells/{i}.txt").read_text().split() for i in range(3)]
    group_ids = {c[0] for c in cells}
    assert len(group_ids) == 1, f"train_grid cells ran in several SLURM jobs: {cells}"
    assert all(len(c) == 2 for c in cells), f"a grouped GPU job saw no CUDA_VISIBLE_DEVICES: {cells}"
    prepare_id = (tmp_path / "data.txt").read_text().strip()
    assert prepare_id and prepare_id not in group_ids
    mem, flaky_id = (tmp_path / "flaky.txt").read_text().split()
    assert mem == "200", "the retry did not run with the grown memory (attempt 2)"
    assert (tmp_path / "figure.txt").read_text().strip() == "local", "a localrule went to SLURM"

    states = sacct_states(submitted_jobs(log))
    tres = dict(item.split("=", 1) for item in states[group_ids.pop()]["tres"].split(","))
    # one node's worth: three gpu=1 members, but at most the node's 2 CPUs and 2 GPUs at once
    assert 1 <= int(tres["gres/gpu"]) <= 2 and 1 <= int(tres["cpu"]) <= 2, tres
    failed = [j for j, s in states.items() if s["state"] == "FAILED"]
    assert len(failed) == 1 and states[flaky_id]["state"] == "COMPLETED", states
    failed_log = tmp_path / ".snakemake" / "slurm_logs" / "rule_flaky" / f"{failed[0]}.log"
    assert failed_log.exists(), "the failed job's SLURM log was not kept"
    assert f"Logfile {failed_log}" in log, "snakemake did not print the failed job's log"
