"""Quality gates on the workflow text: snakefmt formatting, `snakemake --lint` clean (exit status
0), and dry runs that build the DAG of the default config and of the paper preset. The paper
DAG's build time is measured and printed (target: under 10 s), never asserted."""
from __future__ import annotations

import re
import subprocess
import time

import pytest

from workflow_info import ROOT, SNAKEMAKE

SNAKEFMT = ROOT / ".venv" / "bin" / "snakefmt"
PAPER = ROOT / "presets" / "paper.yaml"

pytestmark = pytest.mark.slow


def snakemake(workdir, *args, timeout=300) -> tuple[subprocess.CompletedProcess, float]:
    """snakemake on the repository's Snakefile in a private working directory; (result, seconds)."""
    t0 = time.monotonic()
    proc = subprocess.run([str(SNAKEMAKE), "-s", str(ROOT / "Snakefile"), "--directory", str(workdir), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    return proc, time.monotonic() - t0


def lint_summary(text: str) -> str:
    """The lints, one line each: 'where: what' (the full text explains each one at length)."""
    lines, where = [], "?"
    for line in text.splitlines():
        if line.startswith("Lints for "):
            where = line[len("Lints for "):].rstrip(":").replace(str(ROOT) + "/", "")
        elif line.startswith("    * "):
            lines.append(f"{where}: {line[6:].rstrip(':')}")
    return "\n".join(lines)


def test_snakefmt_check():
    proc = subprocess.run([str(SNAKEFMT), "--check", "--diff", "Snakefile", "workflow/"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (
        f"snakefmt would reformat (run `.venv/bin/snakefmt Snakefile workflow/`):\n{proc.stdout[-6000:]}{proc.stderr[-3000:]}"
    )


def test_snakemake_lint(tmp_path):
    proc, _ = snakemake(tmp_path, "--lint")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"snakemake --lint found:\n{lint_summary(out) or out[-6000:]}"


def test_dry_run_default_config(tmp_path):
    proc, seconds = snakemake(tmp_path, "-n", "--quiet", "rules")
    print(f"\nsnakemake -n (config.yaml): {seconds:.1f} s")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]


def test_dry_run_paper_preset(tmp_path):
    proc, seconds = snakemake(tmp_path, "-n", "--configfile", str(PAPER))
    jobs = re.search(r"^total\s+(\d+)", proc.stdout + proc.stderr, re.M)
    print(f"\nsnakemake -n --configfile presets/paper.yaml: {seconds:.1f} s "
          f"({jobs.group(1) if jobs else '?'} jobs; target < 10 s, not asserted)")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
