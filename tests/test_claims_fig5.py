"""The Fig 5 claim (molrg.claims.fig5) on constructed editing tables: a clear effect is reproduced;
singular edits no larger than random ones, or label changes no more frequent than random ones, are
not; too few images or random directions give no power; a failed validity check is a caveat beside
the numbers; missing evidence is not testable. Also the statistics it rests on (molrg.edit_stats)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from molrg import claims as C
from molrg.edit_stats import image_exceedance, label_change_test, summarise, two_proportion, wilson_ci


def table(n_images=16, k=3, n_random=20, singular_l2=2.0, random_l2=1.0, p_singular=0.5, p_random=0.05,
          fractions=(0.05, 0.1, 0.2, 0.3), units="norm_fraction", inside=True, accuracy=0.8, seed=0):
    """An editing_distances.csv as the editing rule writes it: per image, k singular and n_random
    random directions at each strength; l2 changes around the given means (random ones spread +-20 %),
    labels changed with the given probabilities (exactly round(p * n) per kind and strength)."""
    rng = np.random.default_rng(seed)
    rows = []
    for f in fractions:
        n_s, n_r = n_images * k, n_images * n_random
        flips = {"singular": set(rng.choice(n_s, round(p_singular * n_s), replace=False).tolist()),
                 "random": set(rng.choice(n_r, round(p_random * n_r), replace=False).tolist())}
        count = {"singular": 0, "random": 0}
        for img in range(n_images):
            for name, kind in [(f"v{i + 1}", "singular") for i in range(k)] + \
                              [(f"r{j + 1}", "random") for j in range(n_random)]:
                base = singular_l2 if kind == "singular" else random_l2
                l2 = abs(f) * base * (1 + (rng.uniform(-0.2, 0.2) if kind == "random" else rng.uniform(-0.05, 0.05)))
                changed = count[kind] in flips[kind]
                count[kind] += 1
                rows.append({"dataset": "toy", "image": 100 + img, "direction": name, "kind": kind, "strength": f,
                             "strength_units": units, "strength_fraction": f, "l2_change": l2,
                             "label_original": 3, "label_before": 3, "label_after": 4 if changed else 3,
                             "changed": changed, "classifier_heldout_accuracy": accuracy, "sigma_edit": 2.03,
                             "edit_inside_train": inside})
    return pd.DataFrame(rows)


def row(df):
    r = C.fig5({"editing_distances": df})
    assert set(r) == set(C.COLUMNS) and r["verdict"] in C.VERDICTS and r["fails_if"] and r["test"]
    return r


def test_clear_effect_is_reproduced():
    r = row(table())
    assert r["verdict"] == C.REPRODUCED, r
    assert "16/16 images" in r["measured"] and "singular 24/48" in r["measured"] and "random 16/320" in r["measured"]
    assert r["caveats"] == "none"


def test_singular_edits_no_larger_than_random_ones_are_not_reproduced():
    # same mean change for both kinds: a singular median beats the random 95 % quantile on few images
    r = row(table(singular_l2=1.0, random_l2=1.0))
    assert r["verdict"] == C.NOT_REPRODUCED and "(a)" in r["reason"] and "(b)" not in r["reason"], r
    # smaller than random: the same
    assert row(table(singular_l2=0.5))["verdict"] == C.NOT_REPRODUCED
    # larger on average but inside the random spread (1.1x, random +-20 %): still not
    assert row(table(singular_l2=1.1))["verdict"] == C.NOT_REPRODUCED


def test_equal_label_change_rates_are_not_reproduced():
    r = row(table(p_singular=0.1, p_random=0.1))
    assert r["verdict"] == C.NOT_REPRODUCED and "(b)" in r["reason"] and "(a)" not in r["reason"], r
    # no label changes at all: the semantic part fails too (no difference shown)
    assert row(table(p_singular=0.0, p_random=0.0))["verdict"] == C.NOT_REPRODUCED
    # a difference inside 2 SE (48 singular vs 320 random edits: 0.15 vs 0.1 is ~1 SE) is not enough
    assert row(table(p_singular=0.15, p_random=0.1))["verdict"] == C.NOT_REPRODUCED


def test_both_parts_failing_names_both():
    r = row(table(singular_l2=1.0, p_singular=0.05))
    assert r["verdict"] == C.NOT_REPRODUCED and "(a)" in r["reason"] and "(b)" in r["reason"]


def test_claim_uses_its_fixed_fraction_and_pools_signs():
    # an effect only at the other strengths does not count
    df = table()
    at = np.isclose(df.strength, C.EDIT_FRACTION)
    df.loc[at & (df.kind == "singular"), "l2_change"] = df.loc[at & (df.kind == "random"), "l2_change"].median()
    assert row(df)["verdict"] == C.NOT_REPRODUCED
    # negative strengths are the same fraction (the sign of v is arbitrary)
    neg = table(fractions=(-0.2, 0.2))
    r = row(neg)
    assert r["verdict"] == C.REPRODUCED and "singular 48/96" in r["measured"]


def test_too_few_images_or_random_directions_give_no_power_with_the_numbers():
    r = row(table(n_images=8))
    assert r["verdict"] == C.NO_POWER and "8 images" in r["reason"] and "8/8 images" in r["measured"]
    r = row(table(n_random=5))
    assert r["verdict"] == C.NO_POWER and "5 random" in r["reason"]


def test_failed_validity_checks_are_caveats_beside_the_verdict():
    r = row(table(inside=False, accuracy=0.3))
    assert r["verdict"] == C.REPRODUCED and "16/16 images" in r["measured"]
    assert "outside the trained range" in r["caveats"] and "accuracy 0.3" in r["caveats"]
    df = table()
    df.loc[df.image < 108, "label_before"] = 5  # the reconstruction of half the images changes its label
    r = row(df)
    assert r["verdict"] == C.REPRODUCED and "50% of the images" in r["caveats"]
    r = row(table(accuracy=np.nan))
    assert "accuracy unknown" in r["caveats"]


def test_missing_evidence_is_not_testable():
    assert C.fig5({})["verdict"] == C.NOT_TESTABLE
    r = row(table(fractions=(0.1, 0.3)))
    assert r["verdict"] == C.NOT_TESTABLE and "strength fraction 0.2" in r["reason"]
    r = row(table(units="vp", fractions=(-6, 6)))
    assert r["verdict"] == C.NOT_TESTABLE and "norm_fraction" in r["reason"]
    r = row(table().assign(changed=np.nan))
    assert r["verdict"] == C.NOT_TESTABLE and "classifier" in r["reason"]
    r = row(table().query("kind == 'singular'"))
    assert r["verdict"] == C.NOT_TESTABLE


def test_round_trip_through_csv(tmp_path):
    path = tmp_path / "editing_distances.csv"
    df = table()
    df.to_csv(path, index=False)
    ev = C.load_evidence({"editing_distances": str(path)})
    assert row(ev["editing_distances"])["verdict"] == C.REPRODUCED
    # an empty `changed` column (no classifier) as CSV writes it
    df.assign(changed=None, label_before=None, label_after=None).to_csv(path, index=False)
    ev = C.load_evidence({"editing_distances": str(path)})
    assert row(ev["editing_distances"])["verdict"] == C.NOT_TESTABLE


# --- the statistics -----------------------------------------------------------------------------------
def test_wilson_interval_and_two_proportion_z():
    lo, hi = wilson_ci(0, 20)
    assert lo == 0 and 0.15 < hi < 0.17  # 0/20: [0, 0.161]
    lo, hi = wilson_ci(10, 20)
    assert lo == pytest.approx(0.2993, abs=1e-3) and hi == pytest.approx(0.7007, abs=1e-3)
    assert all(math.isnan(v) for v in wilson_ci(0, 0))
    diff, se, z = two_proportion(24, 48, 16, 320)
    p = 40 / 368
    assert diff == pytest.approx(0.45) and se == pytest.approx(math.sqrt(p * (1 - p) * (1 / 48 + 1 / 320)))
    assert z == pytest.approx(diff / se)
    assert two_proportion(0, 48, 0, 320) == (0.0, 0.0, 0.0)


def test_exceedance_and_summary():
    df = table()
    at = df[np.isclose(df.strength, 0.2)]
    ex = image_exceedance(at)
    assert len(ex) == 16 and ex.exceeds.all() and (ex.n_random == 20).all()
    assert (ex.ratio > 1.4).all()  # 2.0 vs at most 1.2 x 1.0
    lab = label_change_test(at)
    assert (lab["k_singular"], lab["n_singular"], lab["k_random"], lab["n_random"]) == (24, 48, 16, 320)
    s = summarise(df)
    assert len(s) == 8 and set(s.kind) == {"singular", "random"}
    r = s[(s.kind == "random") & np.isclose(s.strength, 0.2)].iloc[0]
    assert r.n_edits == 320 and r.n_images == 16 and r.label_changes == 16 and r.rate_ci_lo < 0.05 < r.rate_ci_hi
