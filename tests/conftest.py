"""Shared fixtures: the repository paths, a snakemake runner, one real tiny run of the whole DAG
(session-scoped, reused by the end-to-end, rerun, report and determinism tests), and the rule
that CI (CI=true) fails on skipped tests it must run."""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from _pytest.nodeid import coerce_node_id  # pytest 9: the structured node id

# One OpenMP/BLAS thread in the test processes and the tools they start, set before numpy or torch
# is imported: on a 2-core machine the other test worker and the snakemake runs keep both cores
# busy. Measured here: the suite's CPU time fell from 940 to 807 CPU-s, its time from 534 to 455 s.
# Snakemake sets the same variables for each job from its `threads`, so the jobs are unaffected.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

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


@contextlib.contextmanager
def heavy_slot():
    """One whole-workflow run at a time on this machine (an exclusive lock on a file in the temp
    folder). The two test workers (pytest-xdist) would otherwise run two 2-core snakemake runs at
    once on a 2-core machine, which measured slower than running them one after the other (18 min
    for the suite instead of 14); the other worker meanwhile runs unit tests, one thread each."""
    with file_lock(Path(tempfile.gettempdir()) / f"molrg-tests-heavy-{os.getuid()}.lock"):
        yield


@contextlib.contextmanager
def file_lock(path: Path):
    """An exclusive lock on `path` (created if missing), held for the `with` block; it also holds
    across processes, e.g. the test workers."""
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def must_not_skip_in_ci(item, reason: str) -> bool:
    """Tests that CI must run: the SLURM proof (marker `slurm`), the paper-shape smoke run (its
    opt-out MOLRG_PAPER_SMOKE=0) and every test skipped for want of something tools/install.sh
    installs (the real datasets: its skip reason names install.sh)."""
    return item.get_closest_marker("slurm") is not None or "install.sh" in reason or "MOLRG_PAPER_SMOKE" in reason


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With CI=true a skip of a test CI must run is a failure, not a silent pass: a CI machine
    without root, apt-get or the datasets would otherwise report green without the proof."""
    outcome = yield
    rep = outcome.get_result()
    if rep.skipped and os.environ.get("CI", "").lower() == "true" and not hasattr(rep, "wasxfail"):
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        if must_not_skip_in_ci(item, reason):
            rep.outcome = "failed"
            rep.longrepr = (f"{item.nodeid} was skipped ({reason}), but CI=true: CI must run it (the SLURM "
                            "proof needs root and apt-get; the dataset tests need tools/install.sh; "
                            "the paper smoke run must not be switched off; "
                            "see tests/conftest.py)")


# Parallel runs (pytest-xdist, `-n 2 --dist loadgroup --no-loadscope-reorder` in pyproject.toml).
# The modules that make whole-workflow runs of their own (2 cores each) are one group, "heavy", so
# one worker runs them one after the other; the other worker runs everything else (unit tests on
# one thread, the SLURM tests, which mostly wait, and the readers of the session's tiny run, which
# both workers share: fixture tiny_run). Two heavy runs at once on a 2-core machine measured slower
# than one after the other (heavy_slot keeps them apart wherever they run). Every other module is
# one group, so its module-scoped fixtures (e.g. the local SLURM cluster) are built once.
# The order (FIRST_GROUPS, then the collection's): the heavy group goes to the first worker and
# starts with determinism, which makes the shared tiny run; the SLURM tests, which mostly wait on
# the scheduler, go to the second worker first, so that their waits overlap the heavy runs' work.
HEAVY_MODULES = ("test_determinism.py", "test_cache.py", "test_gpu_check.py", "test_paper_smoke.py")
FIRST_GROUPS = ("heavy", "tests/test_slurm.py")


def xdist_group_of(item) -> str:
    module = item.nodeid.split("::")[0]
    return "heavy" if Path(module).name in HEAVY_MODULES else module


def run_order(item) -> tuple[int, int]:
    """Sort key: the groups of FIRST_GROUPS first, the heavy modules in HEAVY_MODULES' order."""
    group = xdist_group_of(item)
    first = FIRST_GROUPS.index(group) if group in FIRST_GROUPS else len(FIRST_GROUPS)
    return first, HEAVY_MODULES.index(Path(item.nodeid.split("::")[0]).name) if group == "heavy" else 0


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    items.sort(key=run_order)  # stable: the collection's order within a module and among the rest
    # pytest-xdist's loadgroup puts tests whose ids end in "@<group>" on one worker. Its own hook
    # appends the suffix to `item._nodeid`, which pytest 9 no longer reads (a node's id is `_id`),
    # so every test became its own unit: the suffix is set here on the id pytest 9 uses.
    if getattr(config.option, "loadgroup", False):
        for item in items:
            if "@" not in item.nodeid:
                item._id = coerce_node_id(f"{item.nodeid}@{xdist_group_of(item)}")


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
    """A completed run of the whole DAG on the tiny config; returns its working directory. The
    one full run of the session: every test that reads a run's outputs (end-to-end, reruns,
    report, determinism's first run, timing) takes it, and none may modify it (dry runs and
    reports only)."""
    # MOLRG_TINY_RUN=<dir>: reuse (and first bring up to date) a tiny run made earlier, e.g. with
    # tools/run_tiny.sh <dir>, when running single test files during development.
    reuse = os.environ.get("MOLRG_TINY_RUN")
    if reuse:
        with heavy_slot():
            run_snakemake(Path(reuse), check=True)
        return Path(reuse)
    # One run for the whole session: under pytest-xdist the workers' temp folders share a parent,
    # and the first worker that needs the run makes it there while the other waits on the lock.
    root = tmp_path_factory.getbasetemp()
    root = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root
    wd, done = root / "tiny_run", root / "tiny_run.done"
    with file_lock(root / "tiny_run.lock"):
        if not done.exists():
            shutil.rmtree(wd, ignore_errors=True)
            wd.mkdir()
            with heavy_slot():
                run_snakemake(wd, check=True)
            done.touch()
    return wd


@pytest.fixture(scope="session")
def tiny_final_outputs() -> list[str]:
    """The files `rule all` asks for on the tiny config, from the workflow (FINAL_OUTPUTS)."""
    from workflow_info import final_outputs

    return final_outputs([TINY])
