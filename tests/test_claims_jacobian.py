"""The Fig 7 and Table 2 claims (molrg.claims.fig7, table2) on constructed rank curves, put through the
same Table 2 computation as the pipeline (molrg.jacobian.table2_row): a flat curve with noise and a
monotone curve are not U-shaped (not reproduced), a clear U is; a minimum outside the trained range is
a caveat beside a kept verdict; d_intr / n above the bound is not reproduced; the rank rule's
over-reading on the MoLRG of known rank is a caveat."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from molrg import claims as C
from molrg import jacobian as J
from molrg.sampler import edm_sigma_steps

SIG = edm_sigma_steps(18)[:-1].numpy()  # 80 ... 0.002, the default grid's 18 pre-step sigmas
STEPS = np.arange(len(SIG))
EDM = {"precond": "edm", "P_mean": -1.2, "P_std": 1.2}  # trained range [0.029, 3.16]


def curve_ranks(mean_curve, noise_sd=1.0, noises=15, seed=0):
    """Integer ranks per noise: the mean curve plus independent noise, clipped to [1, 64]."""
    rng = np.random.default_rng(seed)
    return np.clip(np.round(np.asarray(mean_curve) + rng.normal(0, noise_sd, (noises, len(SIG)))), 1, 64)


def u_curve(center=1.0, depth=40.0, floor=10.0):
    return floor + depth * np.minimum(1.0, np.abs(np.log(SIG / center)) / 4)


def table2_ev(*ranks_by_dataset, train=EDM, n=64, calibration=None):
    rows = [J.table2_row(f"ds{k}", n, STEPS, SIG, R, 28.37, train, 0.95, seed=k) for k, R in enumerate(ranks_by_dataset)]
    ev = {"table2_intrinsic_dimension": pd.DataFrame(rows)}
    if calibration is not None:
        ev["rank_rule_calibration"] = calibration
    return ev


def row(ev, fn):
    r = fn(ev)
    assert set(r) == set(C.COLUMNS) and r["verdict"] in C.VERDICTS and r["fails_if"]
    assert r["measured"] != "-" or r["verdict"] == C.NOT_TESTABLE  # numbers whenever there is evidence
    return r


def test_the_claims_level_is_the_tables_level():
    assert C.U_ALPHA == J.U_ALPHA


def test_fig7_flat_curve_with_noise_is_not_u_shaped():
    r = row(table2_ev(curve_ranks(np.full(len(SIG), 20.0), noise_sd=2.0)), C.fig7)
    assert r["verdict"] == C.NOT_REPRODUCED and "no significant rise" in r["reason"]
    assert "minimum at sigma" in r["measured"] and "p = " in r["measured"]  # the numbers are there


def test_fig7_monotone_curve_is_not_reproduced():
    falling = 60 - 45 * (np.log(SIG) - np.log(SIG[-1])) / (np.log(SIG[0]) - np.log(SIG[-1]))  # rank falls as sigma grows
    r = row(table2_ev(curve_ranks(falling)), C.fig7)
    assert r["verdict"] == C.NOT_REPRODUCED and "above" in r["reason"]


def test_fig7_clear_u_is_reproduced_and_one_bad_dataset_fails_it():
    ev = table2_ev(curve_ranks(u_curve(1.0)), curve_ranks(u_curve(0.5), seed=1))
    r = row(ev, C.fig7)
    assert r["verdict"] == C.REPRODUCED and r["caveats"] == "none"
    t2 = ev["table2_intrinsic_dimension"]
    assert t2.valid.all() and t2.u_shaped.all() and (t2.p_high_sigma < 0.05).all() and (t2.p_low_sigma < 0.05).all()
    assert (t2.sigma_min_ci_lo <= t2.sigma_min).all() and (t2.sigma_min <= t2.sigma_min_ci_hi).all()
    ev = table2_ev(curve_ranks(u_curve(1.0)), curve_ranks(np.full(len(SIG), 20.0), noise_sd=2.0, seed=1))
    assert row(ev, C.fig7)["verdict"] == C.NOT_REPRODUCED


def test_fig7_minimum_outside_the_trained_range_is_a_caveat_and_keeps_the_verdict():
    ev = table2_ev(curve_ranks(u_curve(28.0)))  # the paper's location: above the EDM training range
    t2 = ev["table2_intrinsic_dimension"].iloc[0]
    assert bool(t2.valid) and not bool(t2.min_inside_train) and t2.sigma_min_train_quantile > 0.99
    assert "outside the trained range" in t2.caveat
    r = row(ev, C.fig7)
    assert r["verdict"] == C.REPRODUCED and "outside the trained range" in r["caveats"]
    r2 = row(ev, C.table2)
    assert r2["verdict"] == C.REPRODUCED and "outside the trained range" in r2["caveats"]


def test_fig7_two_noises_have_no_power_and_missing_columns_are_not_testable():
    r = row(table2_ev(curve_ranks(u_curve(1.0), noises=2)), C.fig7)
    assert r["verdict"] == C.NO_POWER and "noise" in r["reason"]
    r = row(table2_ev(curve_ranks(u_curve(1.0, floor=40.0), noises=2)), C.table2)  # d/n 0.6, but 2 noises
    assert r["verdict"] == C.NO_POWER and "d_intr 4" in r["measured"]
    old = pd.DataFrame({"dataset": ["a"], "n": [64], "d_intr_min": [10], "valid": [True], "reason": [""]})
    assert row({"table2_intrinsic_dimension": old}, C.fig7)["verdict"] == C.NOT_TESTABLE


def test_table2_bound_and_u_shape_caveat():
    ev = table2_ev(curve_ranks(u_curve(1.0, floor=8.0)))  # d_intr ~ 8 of 64: 0.125
    r = row(ev, C.table2)
    assert r["verdict"] == C.REPRODUCED and "d_intr 9 +- 0.29 of n = 64" in r["measured"]
    assert "not calibrated" in r["caveats"]  # no calibration table given
    r = row(table2_ev(curve_ranks(u_curve(1.0, floor=30.0, depth=30.0))), C.table2)  # 30 / 64 = 0.47
    assert r["verdict"] == C.NOT_REPRODUCED and "> 0.25" in r["reason"]
    # the bound within 2 SE of d_intr / n: no power
    t2 = pd.DataFrame({"dataset": ["a"], "n": [64], "d_intr_min": [16.5], "d_intr_min_se": [2.0], "valid": [True],
                       "reason": [""]})
    assert row({"table2_intrinsic_dimension": t2}, C.table2)["verdict"] == C.NO_POWER
    # a flat curve: not valid, the verdict and the number kept, the caveat says why
    r = row(table2_ev(curve_ranks(np.full(len(SIG), 10.0), noise_sd=2.0)), C.table2)
    assert r["verdict"] == C.REPRODUCED and "U-shape not significant" in r["caveats"] and "d_intr 8.47" in r["measured"]


def calibration(reading_at_min, truth_d=4, K=2):
    tidy = []
    for model, curve in (("closed_form", None), ("unet_d4_N256_seed0", reading_at_min)):
        for b in range(4):
            for j, s in enumerate(SIG):
                if curve is None:
                    rank = K * truth_d if s > 1 else truth_d
                else:
                    rank = curve + 20 * min(1.0, abs(np.log(s / SIG[10])) / 4)  # U with its bottom at sigma 1.09
                tidy.append({"source": "molrg_check", "model": model, "noise": b, "step": j, "sigma": s,
                             "rank": rank, "truth_d": truth_d, "truth_Kd": K * truth_d,
                             "energy_top_d": 0.5, "energy_top_Kd": 0.9})
    return J.rank_rule_calibration(pd.DataFrame(tidy))


def test_rank_rule_calibration_table_and_the_overreading_caveat():
    cal = calibration(17)
    cf = cal[cal.model == "closed_form"].sort_values("sigma")
    assert cf.reading_mean.iloc[-1] == 8 and cf.reading_mean.iloc[0] == 4 and (cf.truth_Kd == 8).all()
    m = cal[(cal.model != "closed_form") & cal.at_minimum]
    assert len(m) == 1 and m.reading_mean.iloc[0] == pytest.approx(17) and m.over_Kd.iloc[0] == pytest.approx(17 / 8)
    ev = table2_ev(curve_ranks(u_curve(1.0, floor=8.0)), calibration=cal)
    r = row(ev, C.table2)
    assert r["verdict"] == C.REPRODUCED and "rank rule calibration" in r["caveats"] and "2.12x" in r["caveats"]
    assert "reads 17 at its minimum" in r["measured"] and "hold 90.0%" in r["measured"]
    r = row(table2_ev(curve_ranks(u_curve(1.0, floor=8.0)), calibration=calibration(9)), C.table2)
    assert "rank rule calibration" not in r["caveats"]
