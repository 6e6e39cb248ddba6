"""Proof on a real SLURM: `snakemake --profile slurm` against a single-node cluster brought up from
Debian's packages by tools/local_slurm.sh (munge, slurmctld, slurmd, slurmdbd + MariaDB, a fake
GPU gres), torn down by PID afterwards, leaving no SLURM configuration behind (so that no later
`snakemake` start waits for the dead controller).

* test_pipeline_subdag_via_slurm: the pipeline itself on tests/config/tiny.yaml, on a sub-DAG chosen
  from the workflow's own DAG: for every `group:` the workflow declares, its cheapest job (fewest
  upstream jobs), a job of a GPU rule, and a local rule that consumes SLURM outputs. Every target
  must exist afterwards, every SLURM job must be COMPLETED in sacct, every group must have been
  submitted as a SLURM group job, a GPU job must have been given a (fake) GPU, and the local rule
  must have run on the submit host.
* test_profile_groups_gpus_retries: a 5-rule toy workflow on the same profile that exercises what
  the pipeline cannot show on demand: a job that fails and is retried with more memory, its log
  kept; also a `train_grid` group of GPU jobs batched into one SLURM job (capped to one node; its
  --time is checked) and a localrule.
* test_capped_training_resumes_across_retries: in the same toy run (the per-job runtime cap set to
  1 minute), a training job whose work outlasts the cap asks SLURM for the cap, stops before it
  with a checkpoint, fails, is retried, resumes, and ends with the weights of an uncapped run.

Needs root and apt-get (CI machines); skipped elsewhere, and a skip fails when CI=true
(conftest.py). Marker: slurm.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import run_snakemake
from workflow_info import ROOT, SNAKEMAKE, Job, parse_jobs, workflow_rules

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
    # The node declares 6 CPUs on this 2-core machine: three 2-CPU group jobs then run side by side
    # instead of queueing; they are mostly Python start-up (measured: the sub-DAG's 6 jobs ran one
    # after the other in 72 s on the 2 detected CPUs). MOLRG_SLURM_NODE_CPUS (the profile's per-job
    # cap) stays 2, so each group job is capped as on the 2 detected CPUs.
    env = {**os.environ, "LOCAL_SLURM_CPUS": "6"}
    up = subprocess.run([str(LOCAL_SLURM), "up"], capture_output=True, text=True, timeout=600, env=env)
    print(f"\nlocal SLURM bring-up: {time.monotonic() - t0:.1f} s\n{up.stderr}")
    try:
        assert up.returncode == 0, f"tools/local_slurm.sh up failed:\n{up.stdout}\n{up.stderr}"
        yield
    finally:
        t0 = time.monotonic()
        down = subprocess.run([str(LOCAL_SLURM), "down"], capture_output=True, text=True, timeout=300)
        print(f"local SLURM tear-down: {time.monotonic() - t0:.1f} s (rc {down.returncode})\n{down.stderr}")
    # The machine as it was: no slurm.conf of ours left, so `scontrol show config` (which the SLURM
    # executor plugin runs, with a 10 s timeout, whenever snakemake imports it) fails at once
    # instead of waiting for the controller that is gone.
    assert down.returncode == 0, f"tools/local_slurm.sh down failed:\n{down.stderr}"
    conf = Path("/etc/slurm/slurm.conf")
    assert not (conf.exists() and "Written by tools/local_slurm.sh" in conf.read_text()), (
        "tools/local_slurm.sh down left its slurm.conf behind")


def run_profile(workdir: Path, args: list[str], limit_s: int, env: dict | None = None) -> subprocess.CompletedProcess:
    """`snakemake --profile slurm` from the repository root, as a user types it. SIGINT at the time
    limit: the SLURM executor ignores SIGTERM, and on SIGINT it cancels its jobs and exits."""
    cmd = ["timeout", "-s", "INT", "-k", "30", str(limit_s), str(SNAKEMAKE), "--profile", "slurm",
           "--directory", str(workdir), *FAST_POLLING, *args]
    env = {**os.environ, **SITE_ENV, **(env or {})}
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    print(f"snakemake --profile slurm in {workdir.name}: {time.monotonic() - t0:.1f} s (rc {proc.returncode})")
    assert proc.returncode != 124, f"snakemake hit the {limit_s} s limit:\n{proc.stderr[-6000:]}"
    return proc


def jobs_of_rule(log: str, rule: str) -> list[str]:
    """SLURM job ids submitted for `rule` (from the SLURM log paths snakemake prints), in order."""
    return [jid for jid in submitted_jobs(log) if f"slurm_logs/rule_{rule}/{jid}.log" in log]


def submitted_jobs(log: str) -> list[str]:
    """SLURM job ids that snakemake reports having submitted."""
    return [line.split("SLURM jobid ")[1].split()[0] for line in log.splitlines() if "with SLURM jobid" in line]


def sacct_states(job_ids: list[str]) -> dict[str, dict]:
    """State, allocated TRES, time limit and comment of each job, as the accounting database has them
    (it records a job shortly after it ends: wait up to 20 s for all of them)."""
    for _ in range(40):
        out = subprocess.run(["sacct", "-n", "-X", "-P", "-o", "JobIDRaw,State,AllocTRES,Timelimit,Comment",
                              "-j", ",".join(job_ids)], capture_output=True, text=True, check=True).stdout
        rows = [line.split("|", 4) for line in out.splitlines() if line]
        states = {r[0]: {"state": r[1], "tres": r[2], "timelimit": r[3], "comment": r[4]} for r in rows}
        if set(job_ids) <= set(states):
            break
        time.sleep(0.5)
    return states


def subdag(jobs: list[Job], rules: list[dict]) -> tuple[list[str], dict[str, Job]]:
    """Targets of the SLURM proof and the jobs they pick, from the full tiny DAG (`jobs`): per
    group the job with the fewest upstream jobs, a GPU rule's job if none is among their upstream
    jobs yet, and the cheapest local job that consumes another job's output."""
    producer = {o: j for j in jobs for o in j.outputs}

    def upstream(job: Job) -> set:
        seen, todo = set(), [job]
        while todo:
            for f in todo.pop().inputs:
                p = producer.get(f)
                if p is not None and p.key not in seen:
                    seen.add(p.key)
                    todo.append(p)
        return seen

    info = {r["name"]: r for r in rules}
    cost = {j.key: len(upstream(j)) for j in jobs}
    cheapest = lambda cands: min(cands, key=lambda j: (cost[j.key], j.rule, j.outputs))  # noqa: E731
    picks = {}
    for group in sorted({r["group"] for r in rules if r["group"]}):
        picks[f"group {group}"] = cheapest([j for j in jobs if info[j.rule]["group"] == group])
    chosen = {k for j in picks.values() for k in upstream(j) | {j.key}}
    # rules that declare a `gpu` resource (0 on the CPU configs; the test asks 1 for the pick)
    gpu_rules = {r["name"] for r in rules if "gpu" in r["resources"]}
    on_path = sorted({rule for rule, _ in chosen} & gpu_rules)
    picks["GPU rule"] = (cheapest([j for j in jobs if j.rule in on_path]) if on_path
                         else cheapest([j for j in jobs if j.rule in gpu_rules]))
    picks["local rule"] = cheapest([j for j in jobs if info[j.rule]["local"] and j.rule != "all" and cost[j.key] > 0])
    return sorted({j.outputs[0] for j in picks.values()}), picks


def test_pipeline_subdag_via_slurm(slurm_cluster, tmp_path):
    rules = workflow_rules(tmp_path, [TINY])
    dry = run_snakemake(tmp_path / "dag", "-n", "--forceall", check=True)
    targets, picks = subdag(parse_jobs(dry.stdout + dry.stderr), rules)
    groups = {r["group"] for r in rules if r["group"]}
    print("SLURM sub-DAG: " + "; ".join(f"{why}: {j.rule} {j.outputs[0]}" for why, j in picks.items()))
    # the GPU rule asks for one (fake) GPU, as on a GPU cluster (the tiny config asks none);
    # targets before --configfile, which takes every following word
    gpu_rule = picks["GPU rule"].rule
    proc = run_profile(tmp_path, [*targets, "--set-resources", f"{gpu_rule}:gpu=1", "-s", "Snakefile",
                                  "--configfile", str(TINY.relative_to(ROOT))], limit_s=600)
    log = proc.stderr
    assert proc.returncode == 0, log[-8000:]
    missing = [t for t in targets if not (tmp_path / t).exists()]
    assert not missing, f"targets missing after the SLURM run: {missing}"
    jobs = submitted_jobs(log)
    assert jobs, "no job was submitted to SLURM"
    states = sacct_states(jobs)
    assert {j: s["state"] for j, s in states.items() if s["state"] != "COMPLETED"} == {}
    # a group job's SLURM log folder is group_<group>_<its rules>/
    submitted_groups = {g for g in groups if re.search(rf"slurm_logs/group_{g}_\w+/", log)}
    assert submitted_groups == groups, (
        f"groups declared by the workflow {sorted(groups)}, submitted as SLURM group jobs {sorted(submitted_groups)}")
    with_gpu = [j for j, s in states.items() if "gres/gpu=" in s["tres"]]
    assert with_gpu, f"no SLURM job was given a GPU (rule {gpu_rule} asked for one): {states}"
    local = picks["local rule"].rule
    assert re.search(rf"^\s*localrule {local}:", log, re.M), f"{local} did not run on the submit host"
    assert f"rule_{local}" not in log, f"local rule {local} was submitted to SLURM"
    print(f"pipeline sub-DAG: {len(targets)} targets, {len(jobs)} SLURM jobs, groups {sorted(submitted_groups)}")


TOY_SNAKEFILE = '''
import sys

sys.path.insert(0, "@ROOT@")
from molrg.walltime import capped_runtime


rule all:
    input:
        "figure.txt",
        "capped/model.pt",


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


rule capped:  # training that outlasts the per-job runtime cap: stops, fails, resumes on the retry
    output:
        "capped/model.pt",
    log:
        "logs/capped.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=lambda wc, attempt: capped_runtime(10 * attempt),
    shell:
        "@PYTHON@ @SCRIPT@ {output} {log} @SLEEP@"
'''

# Tiny training for rule `capped`. Its first try sleeps in every step's callback, so that its work
# (wall clock) outlasts a 1-minute job; the retry and the reference run do not sleep. The sleep does
# not touch the computation, so the weights must equal those of the uncapped reference run.
CAPPED_TRAIN = '''
import os, sys, time
sys.path.insert(0, {root!r})
import torch
from molrg.runtime import set_threads, setup_logging
from molrg.training import TrainConfig, train_denoiser

out, log_path, sleep = sys.argv[1], sys.argv[2], float(sys.argv[3])
marker = os.path.join(os.path.dirname(out), "first_try_started")
if sleep and os.path.exists(marker):
    sleep = 0.0
elif sleep:
    open(marker, "w").close()
log = setup_logging(log_path)
set_threads(1)
g = torch.Generator().manual_seed(0)
data = torch.randn(16, 3, 4, 4, generator=g) * 0.5
cfg = TrainConfig(iterations={steps}, batch_size=8, lr=2e-3, checkpoint_every=1000, log_every=20, seed=5)
net = dict(width=8, channel_mult=(1, 1), num_blocks=1, attn_resolutions=(), dropout=0.1)
train_denoiser(data, cfg, net, out, cell="capped", log=log, callback=lambda step: time.sleep(sleep))
'''
# 50 s of work in the first try; a 1-minute job has at most ~40 s for it (start-up, 15 s margin)
CAPPED_STEPS, CAPPED_SLEEP = 200, 0.25


@pytest.fixture(scope="module")
def toy_run(slurm_cluster, tmp_path_factory):
    """One run of the toy workflow through the SLURM profile, with a per-job runtime cap of one
    minute (MOLRG_SLURM_MAX_RUNTIME=1): the rules that set their own runtime keep it, rule
    `capped` asks for the cap. The uncapped reference training runs on this host meanwhile."""
    import sys

    tmp = tmp_path_factory.mktemp("toy")
    script = tmp / "train_capped.py"
    script.write_text(CAPPED_TRAIN.format(root=str(ROOT), steps=CAPPED_STEPS))
    toy = TOY_SNAKEFILE
    for key, value in {"@ROOT@": ROOT, "@PYTHON@": sys.executable, "@SCRIPT@": script, "@SLEEP@": CAPPED_SLEEP}.items():
        toy = toy.replace(key, str(value))
    (tmp / "Snakefile").write_text(toy)
    ref = subprocess.Popen([sys.executable, str(script), str(tmp / "ref" / "model.pt"), str(tmp / "ref.log"), "0"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    proc = run_profile(tmp, ["-s", str(tmp / "Snakefile")], limit_s=400, env={"MOLRG_SLURM_MAX_RUNTIME": "1"})
    assert ref.wait(timeout=300) == 0, ref.stderr.read()
    return tmp, proc


def test_profile_groups_gpus_retries(toy_run):
    tmp_path, proc = toy_run
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
    group_state = states[group_ids.pop()]
    tres = dict(item.split("=", 1) for item in group_state["tres"].split(","))
    # one node's worth: three gpu=1 members, but at most the node's 2 CPUs and 2 GPUs at once
    assert 1 <= int(tres["gres/gpu"]) <= 2 and 1 <= int(tres["cpu"]) <= 2, tres
    # --time of a group job: Snakemake splits its members into layers that fit the caps (here two
    # cells side by side, then one) and sums the layers' longest runtimes: 2 + 2 minutes, neither
    # the members' sum (6) nor their maximum (2). docs/slurm.md, "Time limits".
    assert group_state["timelimit"] == "00:04:00", group_state
    flaky_jobs = jobs_of_rule(log, "flaky")
    failed = [j for j in flaky_jobs if states[j]["state"] == "FAILED"]
    assert len(failed) == 1 and states[flaky_id]["state"] == "COMPLETED", states
    failed_log = tmp_path / ".snakemake" / "slurm_logs" / "rule_flaky" / f"{failed[0]}.log"
    assert failed_log.exists(), "the failed job's SLURM log was not kept"
    assert f"Logfile {failed_log}" in log, "snakemake did not print the failed job's log"



def test_capped_training_resumes_across_retries(toy_run):
    """Rule `capped` asks SLURM for the cap (1 minute) instead of its 10 minutes, stops before the
    limit with a checkpoint (time left from squeue), fails, is retried, resumes, and ends with the
    weights of the uncapped reference run; its log keeps both tries."""
    import torch

    tmp_path, proc = toy_run
    log = proc.stderr
    assert proc.returncode == 0, log[-8000:]
    jobs = jobs_of_rule(log, "capped")
    states = sacct_states(jobs)
    assert len(jobs) >= 2, f"the capped job was not retried: {states}"
    assert all(states[j]["timelimit"] == "00:01:00" for j in jobs), f"the cap was not requested: {states}"
    assert [states[j]["state"] for j in jobs] == ["FAILED"] * (len(jobs) - 1) + ["COMPLETED"], states

    text = (tmp_path / "logs" / "capped.log").read_text()
    for attempt in range(1, len(jobs) + 1):
        assert f"=== attempt {attempt}, " in text, text[-4000:]
    assert "to stay within the job's time limit" in text and "resumed from" in text, text[-4000:]
    assert "TimeLimitReached" in text, text[-4000:]  # the stop failed the try, so SLURM/Snakemake retried it

    model, ref = torch.load(tmp_path / "capped" / "model.pt"), torch.load(tmp_path / "ref" / "model.pt")
    assert model["steps"] == ref["steps"] == CAPPED_STEPS
    a, b = model["state_dict"], ref["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), "capped and uncapped weights differ"
    print(f"capped training: SLURM jobs {[(j, states[j]['state']) for j in jobs]}")
