"""Invalid `theory` settings stop the workflow at start, with a message naming the key (schema:
workflow/schemas/theory.schema.yaml; cross-field checks: molrg.config_checks._theory). Checked in
process, as workflow/rules/common.smk applies them (workflow_info.validated_config); that a real
`snakemake -n` stops on such errors before building the DAG is proven by the two `wiring` cases
of tests/test_bad_inputs.py."""
from __future__ import annotations

import pytest

from conftest import TINY
from workflow_info import validated_config

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
    "restarts_K_times_d_exceeds_n": ("theory: {dae: {restarts: {grid: {K3: {d_max: 5}}}}}\n",
                                     ["theory.dae.restarts.grid.K3.d_max", "theory.n"]),
    "restarts_count_zero": ("theory: {dae: {restarts: {count: 0}}}\n", ["count"]),
    "restarts_grid_for_K1": ("theory: {dae: {restarts: {grid: {K1: {d_min: 1}}}}}\n", ["K1"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_invalid_theory_config_stops_before_any_job(tmp_path, case):
    override, words = CASES[case]
    bad = tmp_path / "bad.yaml"
    bad.write_text(override)
    with pytest.raises(Exception) as err:
        validated_config(TINY, bad)
    out = str(err.value)
    for w in words:
        assert w in out, f"{w!r} not named in:\n{out[-3000:]}"


def test_tiny_theory_config_is_valid():
    """The same checks accept the tiny config itself (the cases above fail for their override)."""
    assert validated_config(TINY)["theory"]["n"] == 12
