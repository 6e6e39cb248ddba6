"""Claims Table 1 and Fig 1 (molrg.claims.table1, fig1) on constructed evidence: the verdict comes from
the final U-Net's Table 1 numbers, the checkpoint-stability table (molrg.metrics.checkpoint_stability)
gives caveats beside it, the held-out-loss record is reported and decides nothing."""
from __future__ import annotations

import numpy as np
import pandas as pd

from molrg import claims as C
from molrg.metrics import STABILITY_Z, checkpoint_stability

DATASETS = ("fashion_mnist", "mnist")
M = 500


def row_of(ev, fn):
    r = fn(ev)
    assert set(r) == set(C.COLUMNS) and r["verdict"] in C.VERDICTS and r["test"] and r["fails_if"]
    return r


def stability_table(gap_means: dict, sd: float = 0.5, seed: int = 0) -> pd.DataFrame:
    """Per dataset and unit, per-pair gaps at checkpoints unet (step 4000), unet_back1 (3500), unet_back2
    (3000): gap_means[unit] = (mean at final, back1, back2); the same pair noise at every checkpoint
    (paired), plus a little checkpoint-specific noise, as a U-Net that changes a little between
    checkpoints would give."""
    rng = np.random.default_rng(seed)
    steps = {"unet": 4000, "unet_back1": 3500, "unet_back2": 3000}
    rows = []
    for ds in DATASETS:
        gaps = {ck: {} for ck in steps}
        for unit, means in gap_means.items():
            base = rng.normal(0, sd, M)
            for ck, mu in zip(steps, means):
                g = base + rng.normal(0, 0.05 * sd, M)
                gaps[ck][unit] = g - g.mean() + mu
        rows += [{"dataset": ds, **r} for r in checkpoint_stability(gaps, steps, "unet")]
    return pd.DataFrame(rows)


STABLE = {"l2": (0.5, 0.5, 0.5), "l2sq": (1.5, 1.5, 1.5), "class_agreement": (0.2, 0.2, 0.2)}


def evidence(molrg_l2=2.0, gauss_l2=4.0, agree_m=0.9, agree_g=0.5, gaps=STABLE, converged=True):
    rows = []
    for ds in DATASETS:
        for model, l2, agree in (("gaussian", gauss_l2, agree_g), ("molrg", molrg_l2, agree_m)):
            rows.append({"dataset": ds, "model": model, "eq8_l2": l2, "eq8_l2_se": 0.05, "eq8_l2sq": l2**2,
                         "eq8_l2sq_se": 0.2, "class_agreement": agree, "n_pairs": M})
    conv = pd.DataFrame({"dataset": list(DATASETS), "criterion": "relative loss change", "value": [0.0108, 0.0142],
                         "threshold": 0.01, "converged": converged, "steps": 4000})
    return {"table1_eq8_distance": pd.DataFrame(rows), "reference_unet_convergence": conv,
            "table1_checkpoint_stability": stability_table(gaps)}


def test_clean_evidence_is_reproduced_without_caveats():
    for fn in (C.table1, C.fig1):
        r = row_of(evidence(), fn)
        assert r["verdict"] == C.REPRODUCED and r["caveats"] == "none", r
    r = row_of(evidence(), C.table1)
    assert "MoLRG 2 " in r["measured"] and "Gaussian 4 " in r["measured"]
    assert "step 3500" in r["measured"] and "step 3000" in r["measured"]  # per-checkpoint gaps shown


def test_ordering_reversed_inside_its_standard_errors_is_not_reproduced():
    r = row_of(evidence(molrg_l2=4.0, gauss_l2=3.98), C.table1)  # MoLRG farther by < 1 SE
    assert r["verdict"] == C.NOT_REPRODUCED and "inside the noise" in r["reason"]
    assert "MoLRG 4 " in r["measured"]  # the numbers are shown whatever the verdict
    r = row_of(evidence(molrg_l2=4.02, gauss_l2=4.05), C.table1)  # right sign, but < 2 SE
    assert r["verdict"] == C.NOT_REPRODUCED
    r = row_of(evidence(molrg_l2=1.53, gauss_l2=1.37), C.table1)  # inverted beyond its SEs
    assert r["verdict"] == C.NOT_REPRODUCED and "inverted ordering" in r["reason"]


def test_non_converged_loss_record_is_reported_but_decides_nothing():
    r = row_of(evidence(converged=False), C.table1)
    assert r["verdict"] == C.REPRODUCED and r["caveats"] == "none" and "0.0108" in r["measured"]
    ev = evidence()
    del ev["reference_unet_convergence"]
    assert row_of(ev, C.table1)["verdict"] == C.REPRODUCED


def test_gap_that_flips_sign_between_checkpoints_is_a_caveat_beside_the_verdict():
    gaps = {**STABLE, "l2": (0.5, -0.5, 0.4)}  # the ordering of the step-3500 U-Net is the other one
    r = row_of(evidence(gaps=gaps), C.table1)
    assert r["verdict"] == C.REPRODUCED  # the verdict is the final model's; the caveat stands beside it
    assert "ordering reverses" in r["caveats"] and "3500" in r["caveats"] and "fashion_mnist l2:" in r["caveats"]
    assert "l2^2" not in r["caveats"]  # squared l2 was stable
    assert row_of(evidence(gaps=gaps), C.fig1)["caveats"] == "none"  # Fig 1 checks class agreement


def test_gap_that_drifts_beyond_its_paired_se_is_a_caveat_and_noise_is_not():
    drift = {**STABLE, "l2sq": (1.5, 1.2, 1.0)}  # same sign, but the gap still moves by many paired SEs
    r = row_of(evidence(gaps=drift), C.table1)
    assert r["verdict"] == C.REPRODUCED and "changes by more than" in r["caveats"] and "l2^2" in r["caveats"]
    wobble = {**STABLE, "l2": (0.5, 0.501, 0.499)}  # change 0.001, paired SE ~0.0016: inside 3 SE
    r = row_of(evidence(gaps=wobble), C.table1)
    assert r["caveats"] == "none", r["caveats"]


def test_class_agreement_rules_and_its_stability():
    assert row_of(evidence(agree_m=0.52, agree_g=0.5), C.fig1)["verdict"] == C.NOT_REPRODUCED
    r = row_of(evidence(agree_m=0.3, agree_g=0.5), C.fig1)
    assert r["verdict"] == C.NOT_REPRODUCED and "0.300" in r["measured"]
    flip = {**STABLE, "class_agreement": (0.2, -0.1, 0.2)}
    r = row_of(evidence(gaps=flip), C.fig1)
    assert r["verdict"] == C.REPRODUCED and "class agreement" in r["caveats"] and "reverses" in r["caveats"]


def test_missing_evidence():
    ev = evidence()
    del ev["table1_eq8_distance"]
    for fn in (C.table1, C.fig1):
        r = row_of(ev, fn)
        assert r["verdict"] == C.NOT_TESTABLE and "table1_eq8_distance" in r["reason"]
    ev = evidence()
    ev["table1_eq8_distance"] = ev["table1_eq8_distance"].drop(columns=["eq8_l2sq", "eq8_l2sq_se"])
    assert row_of(ev, C.table1)["verdict"] == C.NOT_TESTABLE
    ev = evidence()  # no stability evidence: the verdict stands, a caveat says what is unknown
    del ev["table1_checkpoint_stability"]
    r = row_of(ev, C.table1)
    assert r["verdict"] == C.REPRODUCED and "no checkpoint-stability evidence" in r["caveats"]
    ev = evidence()  # a dataset with no stability rows
    st = ev["table1_checkpoint_stability"]
    ev["table1_checkpoint_stability"] = st[st.dataset != "mnist"]
    assert "mnist l2: fewer than 2 kept checkpoints" in row_of(ev, C.table1)["caveats"]


def test_stability_threshold_is_the_metrics_constant():
    assert STABILITY_Z == 3.0 and C.STABILITY_Z is STABILITY_Z
