"""Determinism: on CPU the same config and seed give byte-identical results. Every rule of the tiny
DAG runs once more on the same inputs: the session's `tiny_run` is copied (results with their
times and Snakemake's metadata) and one job of every rule is forced (`--force` on one output per
rule, from `--summary`), so every script runs again with the same config, seed and inputs while
the rest stays up to date (the jobs downstream of a forced one, which its targets need, run
again too: 57 of the tiny DAG's 80 jobs; the forced set is checked to cover every rule of the DAG
and each forced output to be written anew). Then every table (csv,
md), array file (npz) and json result is compared by sha256 with the first run; figures by their
decoded pixels (their PNG metadata carries the git commit, which may move between the runs);
model files (.pt) by their loaded content (every tensor bit-identical, every other value equal);
provenance sidecars (.prov.json) as JSON without the keys that record when, where or at which
commit (top-level keys naming a time, date, host or the git commit; the record has none of the
first three by design). Logs, benchmark files and the run-time tables made from them
(TIMES_BY_DESIGN) are left out: they measure time.

A difference is reported per file with the rule that made it and where it differs, so the owner
can find the unseeded draw, thread-dependent reduction or time-dependent value."""
from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import heavy_slot, run_snakemake

pytestmark = pytest.mark.slow

BYTE_IDENTICAL = (".csv", ".md", ".npz", ".json")
PIXEL_IDENTICAL = (".png",)
CONTENT_IDENTICAL = (".pt",)
# outputs of rule timing_table (workflow/rules/timing.smk): wall and CPU seconds of this run
TIMES_BY_DESIGN = {"results/tables/rule_times.csv", "results/tables/family_times.csv"}
VOLATILE_KEY = re.compile(r"time|date|host|git_commit", re.I)


def result_files(workdir: Path) -> dict[str, Path]:
    root = Path(workdir) / "results"
    return {
        str(p.relative_to(workdir)): p
        for p in root.rglob("*")
        if p.is_file() and p.suffix in BYTE_IDENTICAL + PIXEL_IDENTICAL + CONTENT_IDENTICAL
        and not p.name.endswith(".prov.json")  # compared by test_provenance_sidecars_are_identical
        and not {"logs", "benchmarks"} & set(p.relative_to(root).parts)
        and str(p.relative_to(workdir)) not in TIMES_BY_DESIGN
    }


def sidecar(path: Path) -> dict:
    """A provenance record without its volatile top-level keys."""
    rec = json.loads(path.read_text())
    return {k: v for k, v in rec.items() if not VOLATILE_KEY.search(k)}


def torch_content_diff(a, b, where="") -> list[str]:
    """Where two loaded torch objects differ (tensors bit for bit, containers recursively)."""
    import torch

    if torch.is_tensor(a) or torch.is_tensor(b):
        if not (torch.is_tensor(a) and torch.is_tensor(b)) or a.shape != b.shape or a.dtype != b.dtype:
            return [f"{where or 'object'}: {getattr(a, 'shape', type(a))} vs {getattr(b, 'shape', type(b))}"]
        if torch.equal(a, b) or (a.is_floating_point() and torch.equal(a.isnan(), b.isnan())
                                 and torch.equal(a.nan_to_num(), b.nan_to_num())):
            return []
        diff = (a.double() - b.double()).abs().max().item() if a.dtype != torch.bool else "bool"
        return [f"{where}: max |diff| {diff:.3g}" if isinstance(diff, float) else f"{where}: differs"]
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{where or 'top'}: keys {sorted(map(str, set(a) ^ set(b)))} in one only"]
        return [d for k in a for d in torch_content_diff(a[k], b[k], f"{where}.{k}" if where else str(k))]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in torch_content_diff(x, y, f"{where}[{i}]")]
    return [] if a == b else [f"{where or 'object'}: {a!r:.60} vs {b!r:.60}"]


def load_torch(path: Path):
    import torch

    return torch.load(path, map_location="cpu", weights_only=False)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def same(a: Path, b: Path) -> bool:
    if a.suffix in CONTENT_IDENTICAL:
        return sha256(a) == sha256(b) or not torch_content_diff(load_torch(a), load_torch(b))
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
    if a.suffix in CONTENT_IDENTICAL:
        return "; ".join(torch_content_diff(load_torch(a), load_torch(b))[:8])
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


def one_output_per_rule(workdir: Path) -> dict[str, str]:
    """rule -> the first output `snakemake --summary` lists for it (rule `all` has none)."""
    chosen = {}
    for name, rule in producing_rules(workdir).items():
        chosen.setdefault(rule, name)
    return chosen


@pytest.fixture(scope="module")
def forced(tiny_run, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A copy of the tiny run in which one job of every rule ran again; returns (workdir, rule -> output)."""
    second = tmp_path_factory.mktemp("second_run") / "run"
    shutil.copytree(tiny_run, second, symlinks=True, ignore=shutil.ignore_patterns("locks", "incomplete"))
    targets = one_output_per_rule(second)
    before = {rule: (second / out).stat().st_mtime_ns for rule, out in targets.items()}
    with heavy_slot():
        run_snakemake(second, "--force", *targets.values(), check=True)
    rewritten = {rule for rule, out in targets.items() if (second / out).stat().st_mtime_ns != before[rule]}
    assert rewritten == set(targets), f"forced but not run again: {sorted(set(targets) - rewritten)}"
    return second, targets


@pytest.fixture(scope="module")
def second_run(forced) -> Path:
    return forced[0]


def test_every_rule_ran_again(forced, tiny_run):
    """The forced jobs cover every rule of the tiny DAG (a dry run of it from scratch, less `all`)."""
    _, targets = forced
    table = run_snakemake(tiny_run, "-n", "--forceall", "--quiet", "rules", check=True).stdout
    rules = {m.group(1) for m in re.finditer(r"^([A-Za-z_]\w*)\s+\d+$", table, re.M)} - {"all", "total"}
    assert rules and set(targets) == rules, f"rules with no forced job: {sorted(rules - set(targets))}"


def test_second_tiny_run_is_identical(tiny_run, second_run):
    second = second_run
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


def test_provenance_sidecars_are_identical(second_run, tiny_run):
    """Every sidecar of the first run has its twin in the second, with the same record (config
    slice, seed, packages, device, extra notes), volatile keys aside."""
    first = {str(p.relative_to(tiny_run)): p for p in (Path(tiny_run) / "results").rglob("*.prov.json")}
    second = {str(p.relative_to(second_run)): p for p in (Path(second_run) / "results").rglob("*.prov.json")}
    assert first, "the tiny run wrote no provenance sidecars"
    assert sorted(first) == sorted(second), f"sidecars in one run only: {sorted(set(first) ^ set(second))}"
    differ = []
    for name in sorted(first):
        a, b = sidecar(first[name]), sidecar(second[name])
        if a != b:
            keys = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
            differ.append(f"{name}: keys {keys}")
    assert not differ, f"{len(differ)} of {len(first)} provenance sidecars differ:\n" + "\n".join(differ)


def test_volatile_keys_only():
    """The keys left out of the sidecar comparison are the ones that record when, where and which commit."""
    rec = {"config": {"runtime": 5}, "seed": 1, "git_commit": "abc", "packages": {}, "device": "cpu:x", "hostname": "h",
           "timestamp": 0}
    assert set(rec) - {k for k in rec if VOLATILE_KEY.search(k)} == {"config", "seed", "packages", "device"}
