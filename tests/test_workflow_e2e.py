"""A real `snakemake --cores 2` run of the whole DAG on the tiny config (tests/config/tiny.yaml):
every final output of the workflow exists, every declared output is well-formed (tables without
NaN or inf), every table and figure carries provenance, and a second call has nothing left to do.
All on the session's one tiny run (conftest.tiny_run)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import run_snakemake

pytestmark = pytest.mark.slow


def _summary(wd):
    proc = run_snakemake(wd, "--summary", check=True)
    lines = [l for l in proc.stdout.splitlines() if l and not l.startswith("output_file")]
    return [l.split("\t") for l in lines]


def _check_file(path: Path):
    assert path.exists(), f"declared output missing: {path}"
    if path.is_dir():
        return
    assert path.stat().st_size > 0, f"empty output: {path}"
    suffix = path.suffix
    if suffix == ".csv":
        df = pd.read_csv(path)
        assert len(df) > 0, f"table without rows: {path}"
        num = df.select_dtypes("number")
        bad = {c: int((~np.isfinite(num[c].to_numpy(dtype=float))).sum()) for c in num.columns}
        bad = {c: n for c, n in bad.items() if n}
        # NaN as well as inf: a value a table cannot give must be a documented text, not a NaN
        assert not bad, f"NaN or infinite values in {path} (column: count): {bad}"
    elif suffix == ".png":
        with Image.open(path) as im:
            im.verify()
    elif suffix == ".json":
        json.loads(path.read_text())
    elif suffix == ".npz":
        with np.load(path) as z:
            assert len(z.files) > 0
    elif suffix == ".pt":
        import torch

        obj = torch.load(path, map_location="cpu", weights_only=False)
        assert obj is not None


def test_every_final_output_exists(tiny_run, tiny_final_outputs):
    """Every file `rule all` asks for (FINAL_OUTPUTS of the workflow, not a list kept here)."""
    assert tiny_final_outputs, "the workflow declares no final outputs"
    missing = [f for f in tiny_final_outputs if not (Path(tiny_run) / f).exists()]
    assert not missing, f"final outputs missing after the tiny run: {missing}"


def test_every_declared_output_is_well_formed(tiny_run):
    rows = _summary(tiny_run)
    assert rows, "snakemake --summary listed no outputs"
    statuses = {r[4] for r in rows}
    assert statuses <= {"ok"}, f"outputs not up to date after the run: {statuses}"
    for r in rows:
        _check_file(Path(tiny_run) / r[0])


def test_tables_and_figures_carry_provenance(tiny_run):
    results = Path(tiny_run) / "results"
    files = [p for sub in ("tables", "figures") for p in (results / sub).glob("*") if not p.name.endswith(".prov.json")]
    assert files, "no tables or figures produced"
    for p in files:
        side = Path(str(p) + ".prov.json")
        assert side.exists(), f"{p.name} has no provenance sidecar"
        rec = json.loads(side.read_text())
        for key in ("config", "seed", "git_commit", "packages", "device"):
            assert key in rec, f"{side.name} lacks '{key}'"


def test_second_run_has_nothing_to_do(tiny_run):
    proc = run_snakemake(tiny_run, "-n", check=True)
    assert "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout[-3000:]
