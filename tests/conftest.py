"""Shared fixtures: the repository paths, a snakemake runner, and one real tiny run of the whole DAG
(session-scoped, reused by the end-to-end, rerun and determinism tests)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SNAKEFILE = REPO / "Snakefile"
TINY = REPO / "tests" / "config" / "tiny.yaml"
BIN = Path(sys.executable).parent


def snakemake_cmd(workdir, *args, configfiles=(TINY,), cores=2):
    cmd = [str(BIN / "snakemake"), "-s", str(SNAKEFILE), "--directory", str(workdir), "--cores", str(cores)]
    cmd += [str(a) for a in args]
    if configfiles:  # last: --configfile takes every following word, targets included
        cmd += ["--configfile", *[str(c) for c in configfiles]]
    return cmd


def run_snakemake(workdir, *args, configfiles=(TINY,), cores=2, timeout=1800, check=False):
    """Run snakemake in `workdir` (a separate working directory: results/ and .snakemake/ live there)."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run(
        snakemake_cmd(workdir, *args, configfiles=configfiles, cores=cores),
        capture_output=True, text=True, timeout=timeout, env=env,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed (rc {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One torch thread in every test: on a 2-core machine (CI) two threads next to the snakemake
    subprocesses are several times slower than one."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A completed run of the whole DAG on the tiny config; returns its working directory."""
    wd = tmp_path_factory.mktemp("tiny_run")
    run_snakemake(wd, check=True)
    return wd
