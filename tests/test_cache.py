"""Trained models shared between clones through Snakemake's between-workflow output cache
(`--cache`, $SNAKEMAKE_OUTPUT_CACHE; workflow/rules/core_code.smk, README "SLURM"): two copies of
the workflow at different paths, each with its own working directory, share one cache folder. The
first trains and stores every trained network; the second restores them all (none of its training
jobs runs: its training logs stay empty, outputs linked from the cache) and writes byte-identical tables.
A change of a training value or of the core code the training runs gives a new cache key (dry
runs of the second clone).

Targets: one cell of each training family and the table rows read from them (11 jobs on the tiny
config instead of the whole DAG), to keep the test short."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import BIN, TINY, heavy_slot
from test_reruns_core import copy_checkout

pytestmark = pytest.mark.slow

# (training output, its log: written only when the job runs)
TRAINED = {
    "results/molrg_unet/models/d1_N2_seed0/model.pt": "results/logs/molrg_unet_train/d1_N2_seed0.log",
    "results/realdata/digits/unet/model.pt": "results/logs/realdata_unet/digits.log",
    "results/realdata/digits/classifier/model.pt": "results/logs/realdata_classifier/digits.log",
    "results/realdata/digits/gl_models/N32_seed0/model.pt": "results/logs/realdata_gl_train/digits_N32_seed0.log",
}
TABLES = [
    "results/molrg_unet/gl/d1_N2_seed0.csv",
    "results/realdata/digits/gl_models/N32_seed0/gl.json",
    "results/realdata/digits/unet/convergence.json",
    "results/realdata/digits/classifier/metrics.json",
]
TARGETS = ["results/molrg_unet/gl/d1_N2_seed0.csv", "results/realdata/digits/gl_models/N32_seed0/gl.json",
           "results/realdata/digits/unet/model.pt"]


def run(clone: Path, cache: Path, *args, configfiles=(TINY,)) -> str:
    # targets before --cache: `--cache RULE...` takes every following word as a rule name
    cmd = [str(BIN / "snakemake"), "-s", str(clone / "Snakefile"), "--directory", str(clone / "run"),
           "--cores", "2", *TARGETS, *args, "--cache", "--configfile", *map(str, configfiles)]
    env = dict(os.environ, SNAKEMAKE_OUTPUT_CACHE=str(cache))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, env=env)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text[-8000:]
    return text


@pytest.fixture(scope="module")
def clones(tmp_path_factory):
    base = tmp_path_factory.mktemp("cache")
    cache = base / "shared_cache"
    cache.mkdir()
    first, second = copy_checkout(base / "clone1"), copy_checkout(base / "clone2")
    with heavy_slot():
        log1 = run(first, cache)
        log2 = run(second, cache)
    return first, second, cache, log1, log2


def test_second_clone_restores_every_trained_model(clones):
    first, second, cache, log1, log2 = clones
    for out, log in TRAINED.items():
        assert (first / "run" / log).exists(), f"the first clone did not train {out}:\n{log1[-4000:]}"
        # Snakemake creates a job's log file before it runs or restores the job: empty = not run
        log2_file = second / "run" / log
        assert not log2_file.exists() or log2_file.stat().st_size == 0, f"the second clone trained {out} again"
        for clone in (first, second):
            path = clone / "run" / out
            assert path.is_symlink() and Path(os.readlink(path)).parent == cache, f"{path} is not linked from the cache"
        assert f"Symlinking output file {out} from cache" in log2, f"{out} not restored:\n{log2[-4000:]}"


def test_second_clone_tables_are_byte_identical(clones):
    first, second, *_ = clones
    for table in TABLES:
        a, b = (first / "run" / table).read_bytes(), (second / "run" / table).read_bytes()
        assert a == b, f"{table} differs between the clones"


def test_cache_key_follows_config_and_core_code(clones, tmp_path):
    """A training value of the config and an edit of a module the training imports each give the
    training jobs a new key (written to the cache, not obtained from it); unchanged, obtained."""
    _, second, cache, *_ = clones
    same = run(second, cache, "-n", "--forcerun", "molrg_unet_train")
    assert "results/molrg_unet/models/d1_N2_seed0/model.pt will be obtained from" in same, same[-3000:]
    override = tmp_path / "override.yaml"
    override.write_text(yaml.safe_dump({"molrg_unet": {"iterations": 7}}))
    changed = run(second, cache, "-n", configfiles=(TINY, override))
    assert "results/molrg_unet/models/d1_N2_seed0/model.pt will be written to" in changed, changed[-3000:]
    precond = second / "molrg" / "precond.py"
    original = precond.read_bytes()
    try:
        precond.write_bytes(original + b"\n# an edit\n")
        edited = run(second, cache, "-n")
    finally:
        precond.write_bytes(original)
    for out in TRAINED:
        # the dry run names one output file of each cached job (not always model.pt): match the job's folder
        job = re.escape(str(Path(out).parent)) + r"/\S+"
        if "classifier" in out:  # the classifier does not run molrg.precond: not even planned
            assert not re.search(f"Output file {job} will be", edited), edited[-3000:]
        else:
            assert re.search(f"{job} will be written to", edited), edited[-3000:]
