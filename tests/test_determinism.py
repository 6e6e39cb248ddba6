"""Determinism (issue #6): on CPU the same config and seed give byte-identical results. The tiny
config runs a second time in a fresh working directory, and every table (csv, md), array file
(npz) and json result is compared by sha256 with the session's `tiny_run`; figures are compared by
their decoded pixels (their PNG metadata carries the git commit, which may move between the runs).
Provenance sidecars and logs are left out: they record times and commits by design.

A difference is reported per file with the rule that made it and where it differs, so the owner
can find the unseeded draw, thread-dependent reduction or time-dependent value."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import run_snakemake

pytestmark = pytest.mark.slow

BYTE_IDENTICAL = (".csv", ".md", ".npz", ".json")
PIXEL_IDENTICAL = (".png",)


def result_files(workdir: Path) -> dict[str, Path]:
    root = Path(workdir) / "results"
    return {
        str(p.relative_to(workdir)): p
        for p in root.rglob("*")
        if p.is_file() and p.suffix in BYTE_IDENTICAL + PIXEL_IDENTICAL and not p.name.endswith(".prov.json")
        and "logs" not in p.relative_to(root).parts
    }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def same(a: Path, b: Path) -> bool:
    if a.suffix in PIXEL_IDENTICAL:
        with Image.open(a) as ia, Image.open(b) as ib:
            return ia.size == ib.size and ia.mode == ib.mode and np.array_equal(np.asarray(ia), np.asarray(ib))
    return sha256(a) == sha256(b)


def where_different(a: Path, b: Path) -> str:
    """A short account of how two versions of a result differ."""
    if a.suffix in (".csv", ".md"):
        la, lb = a.read_text().splitlines(), b.read_text().splitlines()
        for i, (x, y) in enumerate(zip(la, lb)):
            if x != y:
                return f"line {i + 1}: {x!r} vs {y!r}"
        return f"{len(la)} vs {len(lb)} lines"
    if a.suffix == ".npz":
        with np.load(a) as za, np.load(b) as zb:
            if sorted(za.files) != sorted(zb.files):
                return f"arrays {sorted(za.files)} vs {sorted(zb.files)}"
            out = []
            for k in za.files:
                x, y = za[k], zb[k]
                if x.shape != y.shape or x.dtype != y.dtype:
                    out.append(f"{k}: {x.shape} {x.dtype} vs {y.shape} {y.dtype}")
                elif not np.array_equal(x, y, equal_nan=x.dtype.kind in "fc"):
                    diff = np.abs(x.astype(np.float64) - y.astype(np.float64)) if x.dtype.kind in "fiub" else None
                    out.append(f"{k}: max |diff| {np.nanmax(diff):.3g}" if diff is not None else f"{k}: differs")
            return "; ".join(out) or "same arrays, different bytes (zip metadata)"
    if a.suffix == ".json":
        ja, jb = json.loads(a.read_text()), json.loads(b.read_text())
        if isinstance(ja, dict) and isinstance(jb, dict):
            keys = sorted(k for k in ja.keys() | jb.keys() if ja.get(k) != jb.get(k))
            return f"keys {keys}"
    return "pixels differ" if a.suffix in PIXEL_IDENTICAL else "bytes differ"


def producing_rules(workdir: Path) -> dict[str, str]:
    """output file -> rule, from `snakemake --summary` (only asked for when something differs)."""
    proc = run_snakemake(workdir, "--summary")
    rows = [line.split("\t") for line in proc.stdout.splitlines() if "\t" in line]
    return {r[0]: r[2] for r in rows[1:] if len(r) > 2}


def test_second_tiny_run_is_identical(tiny_run, tmp_path):
    second = tmp_path / "second_run"
    run_snakemake(second, check=True)
    first_files, second_files = result_files(tiny_run), result_files(second)
    assert first_files, "the tiny run produced no results to compare"
    assert sorted(first_files) == sorted(second_files), (
        f"different result files: only in the first run {sorted(set(first_files) - set(second_files))}, "
        f"only in the second {sorted(set(second_files) - set(first_files))}"
    )
    differ = [name for name in sorted(first_files) if not same(first_files[name], second_files[name])]
    if differ:
        rules = producing_rules(second)
        report = [f"{name} (rule {rules.get(name, '?')}): {where_different(first_files[name], second_files[name])}"
                  for name in differ]
        pytest.fail(f"{len(differ)} of {len(first_files)} results differ between two runs of the same config:\n"
                    + "\n".join(report))
