"""`molrg` is importable in a job whatever the deployment, also under `--sdm conda`, where Snakemake
removes PYTHONPATH from the job's environment and runs the script with the environment's Python,
which does not contain molrg.

Conda channels cannot be reached here, so a stand-in `conda` (first on PATH) answers Snakemake's
calls and `conda env create --prefix P` makes P a Python environment holding the venv's third-party
packages but not molrg (a plain path to the venv's site-packages, whose .pth files, among them the
editable molrg finder, are not run). Snakemake's own code path is unchanged: it creates the env,
activates it, strips PYTHONPATH and runs the script with the env's `python`.

One real job (data_digits, whose script imports molrg.datasets and molrg.runtime) runs in a copy of
the workflow whose molrg/__init__.py records, on import, the interpreter, its own file and the
PYTHONPATH it saw. The job must import the copy's molrg (not another checkout's) from the env's
Python with no PYTHONPATH; the env's Python on its own must fail to import molrg, so the job's
import comes from the workflow (common.smk puts the checkout on sys.path, and Snakemake's script
preamble carries the sys.path of the process that plans the job into every script job)."""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import BIN, TINY
from test_reruns_core import copy_checkout

pytestmark = pytest.mark.slow

FAKE_CONDA = r"""#!/bin/bash
BASE="$(cd "$(dirname "$0")/.." && pwd)"
case "$1" in
  info) printf '{"conda_prefix": "%s", "platform": "linux-64", "envs_dirs": [], "pkgs_dirs": []}\n' "$BASE" ;;
  --version) echo "conda 24.7.1" ;;
  config) echo '{"get": {"channel_priority": "strict"}, "rc_path": "", "success": true, "warnings": []}' ;;
  clean) ;;
  env)
    prefix=""; prev=""
    for a in "$@"; do [ "$prev" = "--prefix" ] && prefix="${a//\"/}"; prev="$a"; done
    [ -n "$prefix" ] || { echo "stand-in conda: no --prefix in: $*" >&2; exit 2; }
    "$FAKE_CONDA_PYTHON" -m venv --without-pip "$prefix" || exit 1
    site="$("$prefix/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    echo "$FAKE_CONDA_SITE" > "$site/host_packages.pth"
    ;;
  *) echo "stand-in conda: unsupported: $*" >&2; exit 2 ;;
esac
"""
ACTIVATE = 'export PATH="$1/bin:$PATH"\nexport CONDA_PREFIX="$1"\n'
PROBE = """
import os as _os, sys as _sys
if _os.environ.get("MOLRG_IMPORT_PROBE"):
    with open(_os.environ["MOLRG_IMPORT_PROBE"], "a") as _f:
        _f.write(f"{_sys.prefix}\\t{__file__}\\t{_os.environ.get('PYTHONPATH')}\\n")
"""


@pytest.fixture(scope="module")
def conda_job(tmp_path_factory):
    base = tmp_path_factory.mktemp("conda")
    clone = copy_checkout(base / "clone")
    with open(clone / "molrg" / "__init__.py", "a") as f:
        f.write(PROBE)
    (base / "fakeconda" / "bin").mkdir(parents=True)
    conda = base / "fakeconda" / "bin" / "conda"
    conda.write_text(FAKE_CONDA)
    conda.chmod(0o755)
    (base / "fakeconda" / "bin" / "activate").write_text(ACTIVATE)
    probe = base / "imports.tsv"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(
        PATH=f"{base / 'fakeconda' / 'bin'}{os.pathsep}{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        FAKE_CONDA_PYTHON=sys._base_executable,
        FAKE_CONDA_SITE=sysconfig.get_paths()["purelib"],
        MOLRG_IMPORT_PROBE=str(probe),
    )
    cmd = [str(BIN / "snakemake"), "-s", str(clone / "Snakefile"), "--directory", str(base / "run"),
           "--cores", "1", "--sdm", "conda", "--conda-prefix", str(base / "envs"),
           "results/data/digits/train.npz", "--configfile", str(TINY)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env, cwd=base)
    return base, clone, proc, probe


def test_job_in_conda_env_imports_this_checkouts_molrg(conda_job):
    base, clone, proc, probe = conda_job
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    assert "Activating conda environment" in proc.stdout + proc.stderr
    envs = base / "envs"
    lines = [line.split("\t") for line in probe.read_text().splitlines()]
    in_env = [line for line in lines if Path(line[0]).parent == envs]
    assert in_env, f"no import of molrg from a Python of {envs}:\n{probe.read_text()}"
    for prefix, init, pythonpath in in_env:
        assert Path(init) == clone / "molrg" / "__init__.py", f"the job imported {init}, not this checkout's molrg"
        assert pythonpath == "None", f"the job saw PYTHONPATH={pythonpath}: the test does not reproduce --sdm conda"


def test_env_python_alone_cannot_import_molrg(conda_job):
    """The control: the environment itself provides no molrg, so the job's import is the workflow's
    doing (and this test would fail if the workflow stopped providing it)."""
    base, _, proc, _ = conda_job
    assert proc.returncode == 0
    (python,) = base.glob("envs/*/bin/python")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    bare = subprocess.run([str(python), "-c", "import molrg"], capture_output=True, text=True, env=env, cwd=base)
    assert bare.returncode != 0 and "No module named 'molrg'" in bare.stderr, bare.stderr
    numpy = subprocess.run([str(python), "-c", "import numpy"], capture_output=True, text=True, env=env, cwd=base)
    assert numpy.returncode == 0, numpy.stderr
