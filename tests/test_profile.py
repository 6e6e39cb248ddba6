"""The SLURM profile (profiles/slurm, reached as `--profile slurm` through the repository-root
symlink) without a cluster: what Snakemake reads from it, how site values come from MOLRG_SLURM_*
environment variables, how the job-status command is chosen, and that its GPU-rule list and group
names match the rules. The real-cluster proof is tests/test_slurm.py."""
from __future__ import annotations

import ast
import os
import re
import subprocess
from pathlib import Path

import pytest

from workflow_info import ROOT, SNAKEMAKE, workflow_rules

PROFILE = ROOT / "profiles" / "slurm" / "profile.v9+.yaml"
PAPER = ROOT / "presets" / "paper.yaml"
GROUPS = {"train_grid", "train_real", "jacobian", "theory", "editing"}  # one group per figure family


def render(monkeypatch, env: dict | None = None, path: str | None = None, profile: Path = PROFILE) -> dict:
    """The profile as Snakemake's own parser turns it into command-line arguments."""
    from snakemake.profiles import ProfileConfigFileParser

    for key in [k for k in os.environ if k.startswith("MOLRG_SLURM_")]:
        monkeypatch.delenv(key)
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    if path is not None:
        monkeypatch.setenv("PATH", path)
    with open(profile) as f:
        parsed = ProfileConfigFileParser().parse(f)
    return dict(parsed)


def as_map(entries) -> dict:
    return dict(e.split("=", 1) for e in entries)


def fake_sacct(tmp_path: Path, rc: int) -> str:
    """A directory holding only a `sacct` that exits with `rc` (accounting on: 0; off: 1)."""
    d = tmp_path / f"sacct{rc}"
    d.mkdir()
    (d / "sacct").write_text(f"#!/bin/sh\necho 'Slurm accounting storage is disabled' >&2\nexit {rc}\n")
    (d / "sacct").chmod(0o755)
    return str(d)


def test_root_entry_is_the_profile():
    assert (ROOT / "slurm").is_symlink() and (ROOT / "slurm").resolve() == PROFILE.parent


def test_profile_settings(monkeypatch, tmp_path):
    p = render(monkeypatch, path=fake_sacct(tmp_path, 0))
    assert p["executor"] == "slurm"
    # groups batch grid cells, capped to one node, with GPUs counted per group job
    assert set(as_map(p["group-components"])) == GROUPS
    caps = as_map(p["resources"])
    # only caps that Snakemake re-applies inside the SLURM job (cores; gpu as a safety net): a
    # memory cap would plan the group narrower outside than inside, and srun refuses the step
    assert set(caps) == {"gpu"} and int(caps["gpu"]) >= 1 and int(p["cores"]) >= 1
    assert as_map(p["set-resource-scopes"]) == {"gpu": "local"}
    # retries with resources that grow per attempt
    assert int(p["retries"]) >= 1
    defaults = as_map(p["default-resources"])
    assert "attempt" in defaults["mem_mb"] and "attempt" in defaults["runtime"]
    assert p["show-failed-logs"] == "True" and p["slurm-keep-successful-logs"] == "False"
    # nothing site-specific unless the site says so
    assert "slurm_partition" not in defaults and "slurm_account" not in defaults
    assert "set-resources" not in p and "slurm-qos" not in p
    # GPU rules: a node's CPUs per GPU as threads (defaults: 8 CPUs, 1 GPU)
    assert p["set-threads"] and all(t.endswith("=8") for t in p["set-threads"])


def test_site_values_from_environment(monkeypatch, tmp_path):
    env = {"MOLRG_SLURM_PARTITION": "gpu-a100", "MOLRG_SLURM_ACCOUNT": "lab42", "MOLRG_SLURM_QOS": "short",
           "MOLRG_SLURM_NODE_CPUS": "32", "MOLRG_SLURM_NODE_GPUS": "4",
           "MOLRG_SLURM_RETRIES": "0", "MOLRG_SLURM_JOBS": "7"}
    p = render(monkeypatch, env, path=fake_sacct(tmp_path, 0))
    defaults = as_map(p["default-resources"])
    # quoted, so Snakemake keeps them strings (`gpu-a100` would otherwise be evaluated as Python)
    assert defaults["slurm_partition"] == "'gpu-a100'" and defaults["slurm_account"] == "'lab42'"
    assert eval(defaults["slurm_partition"]) == "gpu-a100"
    assert p["slurm-qos"] == "short" and p["cores"] == "32" and p["retries"] == "0" and p["jobs"] == "7"
    assert as_map(p["resources"]) == {"gpu": "4"}


def test_gpu_model_and_partition_go_to_gpu_rules_only(monkeypatch, tmp_path):
    text, n = re.subn(r"GPU_RULES = \[.*?\]", "GPU_RULES = ['train_x']", PROFILE.read_text(), flags=re.S)
    assert n == 1
    patched = tmp_path / "profile.v9+.yaml"
    patched.write_text(text)
    p = render(monkeypatch, {"MOLRG_SLURM_GPU_MODEL": "h100", "MOLRG_SLURM_GPU_PARTITION": "gpu",
                             "MOLRG_SLURM_PARTITION": "cpu", "MOLRG_SLURM_NODE_CPUS": "8",
                             "MOLRG_SLURM_NODE_GPUS": "3", "MOLRG_SLURM_MAX_STACKS": "1"},
               path=fake_sacct(tmp_path, 0), profile=patched)
    # a gpu_model in default-resources would give every job a GPU (the plugin adds --gpus=model:1)
    assert "gpu_model" not in as_map(p["default-resources"])
    assert sorted(p["set-resources"]) == ["molrg_unet_train_stack0:gpu_model='h100'",
                                          "molrg_unet_train_stack0:slurm_partition='gpu'",
                                          "train_x:gpu_model='h100'", "train_x:slurm_partition='gpu'"]
    # a node's CPUs per GPU, rounded up: the CPU cap then admits at most 2 (<= 3 GPUs) at once
    assert sorted(p["set-threads"]) == ["molrg_unet_train_stack0=3", "train_x=3"]


@pytest.mark.parametrize("sacct,override,expected", [
    ("accounting", None, "sacct"),
    ("no-accounting", None, "squeue"),  # sacct fails: the plugin would otherwise poll forever
    ("absent", None, "squeue"),
    ("accounting", "squeue", "squeue"),  # the site decides
])
def test_status_command(monkeypatch, tmp_path, sacct, override, expected):
    path = {"accounting": fake_sacct(tmp_path, 0), "no-accounting": fake_sacct(tmp_path, 1),
            "absent": str(tmp_path)}[sacct]
    env = {"MOLRG_SLURM_STATUS_COMMAND": override} if override else {}
    assert render(monkeypatch, env, path=path)["slurm-status-command"] == expected


def test_profile_reaches_jobs(tmp_path):
    """`snakemake --profile slurm` from the repository root: site values end up in the jobs'
    resources (dry run: nothing is submitted)."""
    (tmp_path / "Snakefile").write_text('rule a:\n    output:\n        "a.txt",\n    resources:\n'
                                        '        gpu=1,\n    shell:\n        "touch {output}"\n')
    env = {**os.environ, "MOLRG_SLURM_PARTITION": "part1", "MOLRG_SLURM_ACCOUNT": "acct1"}
    proc = subprocess.run([str(SNAKEMAKE), "--profile", "slurm", "-s", str(tmp_path / "Snakefile"),
                           "--directory", str(tmp_path), "-n"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    resources = next(line for line in out.splitlines() if line.strip().startswith("resources:"))
    for item in ("slurm_partition=part1", "slurm_account=acct1", "gpu=1", "mem_mb=2000", "runtime=60"):
        assert item in resources, resources


def test_gpu_rules_and_groups_match_the_workflow(tmp_path):
    """The profile names the rules that get the site's GPU model/partition and the groups it
    batches; both must match what the rules declare (paper preset: every rule is in the DAG)."""
    rules = workflow_rules(tmp_path, [PAPER])
    gpu_rules = {r["name"] for r in rules if r["resources"].get("gpu") not in (None, 0)}
    listed = ast.literal_eval(re.search(r"GPU_RULES = (\[.*?\])", PROFILE.read_text(), re.S).group(1))
    assert set(listed) == gpu_rules, (
        "profiles/slurm/profile.v9+.yaml GPU_RULES must list exactly the rules that declare a gpu "
        f"resource: {sorted(gpu_rules)}"
    )
    groups = {r["group"] for r in rules if r["group"]}
    assert groups <= GROUPS, f"groups without a group-components entry in the profile: {groups - GROUPS}"


def test_stacked_training_rules_get_the_gpu_settings(tmp_path, monkeypatch):
    """With accel.stack_cells > 1 (paper preset, stacks of 4) every stacked training rule declares a
    gpu and is among the profile's GPU rules; the check fails if the profile names too few stacks."""
    overlay = tmp_path / "stack.yaml"
    overlay.write_text("accel: {stack_cells: 4}\n")
    rules = workflow_rules(tmp_path, [PAPER, overlay])
    stacked = {r["name"] for r in rules if r["name"].startswith("molrg_unet_train_stack")}
    assert len(stacked) > 1 and all(r["resources"].get("gpu") for r in rules if r["name"] in stacked)
    sacct = fake_sacct(tmp_path, 0)
    p = render(monkeypatch, {"MOLRG_SLURM_GPU_PARTITION": "gpu"}, path=sacct)
    named = {entry.split(":")[0] for entry in p["set-resources"]}
    assert stacked <= named, f"stacked rules without the GPU partition: {sorted(stacked - named)}"
    few = render(monkeypatch, {"MOLRG_SLURM_GPU_PARTITION": "gpu", "MOLRG_SLURM_MAX_STACKS": "1"}, path=sacct)
    assert not stacked <= {entry.split(":")[0] for entry in few["set-resources"]}
