"""Invalid `theory` settings stop `snakemake -n` before any job starts, with a message naming the
key (schema: workflow/schemas/theory.schema.yaml; cross-field checks: molrg.config_checks._theory)."""
from __future__ import annotations

import pytest

from conftest import TINY, run_snakemake

pytestmark = pytest.mark.slow

CASES = {
    # override (merged over config.yaml and the tiny config) -> words the message must contain
    "unknown_key": ("theory: {closed_form: {spectral_k: 3}}\n", ["spectral_k"]),
    "unknown_top_key": ("theory: {sigma_e: 0.1}\n", ["sigma_e"]),
    "negative_d": ("theory: {closed_form: {grid: {K2: {d_min: -1}}}}\n", ["K2", "d_min"]),
    "K_times_d_exceeds_n": ("theory: {dae: {grid: {K3: {d_max: 5}}}}\n", ["theory.dae.grid.K3.d_max", "theory.n"]),
    "N_k_below_one": ("theory: {dae: {grid: {K1: {N_k_min: 0}}}}\n", ["K1", "N_k_min"]),
    "empty_range": ("theory: {closed_form: {grid: {K1: {N_k_min: 5, N_k_max: 4}}}}\n", ["theory.closed_form.grid.K1.N_k_min"]),
    "bad_type_trials": ("theory: {closed_form: {grid: {K1: {trials: many}}}}\n", ["trials"]),
    "bad_type_lr": ("theory: {dae: {lr: fast}}\n", ["lr"]),
    "bad_choice": ("theory: {dae: {schedule: ve}}\n", ["schedule"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_invalid_theory_config_stops_before_any_job(tmp_path, case):
    override, words = CASES[case]
    bad = tmp_path / "bad.yaml"
    bad.write_text(override)
    wd = tmp_path / "wd"
    proc = run_snakemake(wd, "-n", configfiles=(TINY, bad), timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    for w in words:
        assert w in out, f"{w!r} not named in:\n{out[-3000:]}"
    assert not (wd / "results").exists()
    assert "Job stats" not in out  # no DAG was planned
