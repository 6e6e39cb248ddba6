"""Eq. 8: the mean l2 distance between paired samples (Table 1)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from molrg.metrics import (agreement_mask, class_agreement, convergence_row, eq8_both, eq8_distance, eq8_summary,
                           pair_distances, table1_dataset, table1_markdown, table1_note)


def test_eq8_is_zero_for_identical_sets():
    x = np.random.default_rng(0).uniform(-1, 1, (7, 3, 4, 4))
    assert eq8_distance(x, x.copy()) == 0.0
    s = eq8_summary(x, x)
    assert s == {"eq8_mean": 0.0, "eq8_std": 0.0, "eq8_sem": 0.0, "eq8_median": 0.0, "M": 7}


def test_eq8_matches_hand_computation():
    # pair 1: images differ by (3, 4) in two pixels -> 5; pair 2: identical -> 0;
    # pair 3: every one of the 4 pixels differs by 1 -> sqrt(4) = 2.  Mean (5 + 0 + 2) / 3 = 7/3.
    a = np.zeros((3, 1, 2, 2))
    b = np.zeros((3, 1, 2, 2))
    b[0, 0, 0, 0], b[0, 0, 1, 1] = 3.0, -4.0
    b[2] = 1.0
    assert np.allclose(pair_distances(a, b), [5.0, 0.0, 2.0])
    assert eq8_distance(a, b) == pytest.approx(7 / 3)
    s = eq8_summary(a, b)
    assert s["eq8_std"] == pytest.approx(np.std([5, 0, 2], ddof=1))
    assert s["eq8_sem"] == pytest.approx(np.std([5, 0, 2], ddof=1) / np.sqrt(3))
    assert s["eq8_median"] == 2.0
    # symmetric, and not the squared norm
    assert eq8_distance(b, a) == eq8_distance(a, b)


def test_eq8_both_units_on_known_distances():
    # pair distances 5, 0, 2 (as above): plain l2 mean 7/3, squared l2 mean (25 + 0 + 4) / 3
    a = np.zeros((3, 1, 2, 2))
    b = np.zeros((3, 1, 2, 2))
    b[0, 0, 0, 0], b[0, 0, 1, 1] = 3.0, -4.0
    b[2] = 1.0
    r = eq8_both(a, b)
    assert r["n_pairs"] == 3
    assert r["eq8_l2"] == pytest.approx(7 / 3)
    assert r["eq8_l2sq"] == pytest.approx(29 / 3)
    assert r["eq8_l2_se"] == pytest.approx(np.std([5, 0, 2], ddof=1) / np.sqrt(3))
    assert r["eq8_l2sq_se"] == pytest.approx(np.std([25, 0, 4], ddof=1) / np.sqrt(3))
    # restricted to pairs 0 and 2
    r = eq8_both(a, b, mask=[True, False, True])
    assert r["n_pairs"] == 2 and r["eq8_l2"] == pytest.approx(3.5) and r["eq8_l2sq"] == pytest.approx(14.5)
    # no pair selected: nan, not an error
    r = eq8_both(a, b, mask=[False] * 3)
    assert r["n_pairs"] == 0 and np.isnan(r["eq8_l2"]) and np.isnan(r["eq8_l2sq_se"])
    # one pair: standard error 0
    assert eq8_both(a[:1], b[:1])["eq8_l2_se"] == 0.0
    with pytest.raises(ValueError, match="mask"):
        eq8_both(a, b, mask=[True, False])


def test_squared_l2_of_unrelated_images_is_the_variance_sum():
    # two independent uniform[-1, 1] images of n pixels: E||a - b||^2 = n * 2/3 (Var(a - b) = 2/3 per pixel)
    rng = np.random.default_rng(1)
    a, b = rng.uniform(-1, 1, (4000, 1, 8, 8)), rng.uniform(-1, 1, (4000, 1, 8, 8))
    r = eq8_both(a, b)
    assert abs(r["eq8_l2sq"] - 64 * 2 / 3) < 4 * r["eq8_l2sq_se"]
    assert r["eq8_l2"] < np.sqrt(r["eq8_l2sq"])  # Jensen


def test_class_agreement_all_none_and_half():
    y = np.array([0, 1, 2, 3])
    assert class_agreement(y, y.copy()) == 1.0
    assert class_agreement(y, (y + 1) % 4) == 0.0
    assert class_agreement(y, np.array([0, 1, 0, 0])) == 0.5
    assert agreement_mask(y, np.array([0, 1, 0, 0])).tolist() == [True, True, False, False]
    assert np.isnan(class_agreement(np.array([], int), np.array([], int)))
    with pytest.raises(ValueError, match="equal length"):
        class_agreement(y, y[:3])


def test_predicted_class_agreement_with_a_classifier():
    # a classifier whose logits are fixed functions of the image: a sample and a copy agree,
    # a sample and its negation (which flips the predicted class) disagree
    import torch

    from molrg.descriptors import ClassifierNet, predict_labels

    torch.manual_seed(0)
    net = ClassifierNet(1, 2, width=4, feature_dim=4).eval()
    with torch.no_grad():  # logits = (mean pixel, -mean pixel): class 0 for bright, 1 for dark images
        net.trunk = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 4))
        net.trunk[1].weight.zero_()
        net.trunk[1].weight[0] = 1 / 16
        net.trunk[1].bias.zero_()
        net.head.weight.zero_()
        net.head.weight[0, 0], net.head.weight[1, 0] = 1.0, -1.0
        net.head.bias.zero_()
    x = np.concatenate([np.full((3, 1, 4, 4), 0.5), np.full((2, 1, 4, 4), -0.5)]).astype(np.float32)
    y = predict_labels(net, x, batch_size=2)
    assert y.tolist() == [0, 0, 0, 1, 1]
    assert class_agreement(y, predict_labels(net, x.copy())) == 1.0
    assert class_agreement(y, predict_labels(net, -x)) == 0.0
    with pytest.raises(ValueError, match="input channels"):
        predict_labels(net, np.zeros((2, 3, 4, 4), np.float32))


def test_eq8_rejects_unpaired_sets():
    with pytest.raises(ValueError, match="differ in shape"):
        eq8_distance(np.zeros((3, 4)), np.zeros((2, 4)))


# ---------------------------------------------------------------------------------------------
# the real-data rules end to end on the digits (tiny config): Table 1 reports the MoLRG's Eq. 8
# distance next to the Gaussian's, and every other output of the real-data rules is made
# ---------------------------------------------------------------------------------------------

REALDATA_TARGETS = [
    "results/tables/table1_eq8_distance.csv",
    "results/tables/table1_eq8_distance.md",
    "results/tables/reference_unet_convergence.csv",
    "results/tables/table1_checkpoint_stability.csv",
    "results/tables/real_gl_scores.csv",
    "results/tables/real_sigmoid_fit.csv",
    "results/tables/fid.csv",
]


@pytest.mark.slow
def test_realdata_rules_on_digits(tiny_run):
    """The real-data part of the shared tiny run (tests/config/tiny.yaml: digits), read only."""
    import json

    import pandas as pd

    res = tiny_run / "results"
    for target in (*REALDATA_TARGETS, "results/figures/fig1_samples.png"):
        assert (tiny_run / target).is_file(), target
        assert (tiny_run / (target + ".prov.json")).is_file(), target
    t1 = pd.read_csv(res / "tables/table1_eq8_distance.csv")
    assert t1.dataset.tolist() == ["digits", "digits"] and t1.model.tolist() == ["gaussian", "molrg"]
    assert (t1.M == 16).all() and np.isfinite(t1.eq8_mean).all() and (t1.eq8_mean > 0).all()
    assert t1.d.tolist() == [64, 8] and t1.K.tolist() == [1, 10]
    # both units of Eq. 8 with standard errors, the class agreement and Eq. 8 over the agreeing pairs
    assert np.allclose(t1.eq8_l2, t1.eq8_mean) and np.allclose(t1.eq8_l2_se, t1.eq8_sem)
    assert (t1.eq8_l2sq >= t1.eq8_l2**2 - 1e-9).all() and (t1.eq8_l2sq_se > 0).all()  # Jensen
    assert (t1.n_pairs == 16).all() and t1.class_agreement.between(0, 1).all()
    assert np.allclose(t1.n_pairs_agree, np.round(t1.class_agreement * 16))
    md = (res / "tables/table1_eq8_distance.md").read_text()
    assert "| digits | gaussian (1, 64) | 16 |" in md and "no descriptor" in md and "squared l2" in md
    # the reference U-Net's convergence record: one row, the criterion evaluated (tiny: every 2 steps)
    conv = pd.read_csv(res / "tables/reference_unet_convergence.csv")
    assert conv.dataset.tolist() == ["digits"] and conv.steps.iloc[0] in (2, 4)
    assert conv.converged.dtype == bool and (conv.threshold == 0.01).all() and "held-out" in conv.criterion.iloc[0]
    # the kept checkpoints (tiny: 2, spacing 2): the final model (step 4) and the EMA weights of step 2,
    # each unit's gap at both, the final's change 0 (the monitor cannot stop before step 3)
    st = pd.read_csv(res / "tables/table1_checkpoint_stability.csv")
    assert conv.steps.iloc[0] == 4 and len(st) == 6 and set(st.unit) == {"l2", "l2sq", "class_agreement"}
    assert sorted(zip(st.checkpoint, st.step))[::3] == [("unet", 4), ("unet_back1", 2)]
    assert (st[st.checkpoint == "unet"].dgap == 0).all() and (st.n_pairs == 16).all() and np.isfinite(st.gap).all()
    assert "Checkpoint stability" in md
    print("\ntiny digits Table 1 (4-step U-Net, not meaningful):\n" + t1[["model", "eq8_mean", "eq8_sem"]].to_string())

    gl = pd.read_csv(res / "tables/real_gl_scores.csv")
    unet_N = gl[gl.model == "unet"].groupby("dataset").N.apply(list).to_dict()
    assert unet_N == {"digits": [32, 128], "digits_pca2": [32, 128]} and gl.gl.between(0, 1).all()
    assert (gl.descriptor == "classifier").all() and gl.copy_rate.between(0, 1).all() and (gl.nn_ratio >= 0).all()
    # the empirical-optimal denoiser regenerates its training images: every sample a copy
    emp = gl[gl.model == "empirical_optimal"]
    assert emp.N.tolist() == [32, 32] and (emp.copy_rate >= 0.9).all() and (emp.nn_ratio < 0.1).all(), emp.T
    # the tiny config takes d_intr from the Jacobian rank of each set's largest-N GL U-Net where its minimum
    # is significant, else the fallback (digits: 10 typed; digits_pca2: the MLE) with the reason; the
    # Jacobian value and the MLE stand beside it
    for name, g in gl.groupby("dataset"):
        jac = json.loads((res / f"realdata/{name}/gl_jacobian.json").read_text())
        assert np.allclose(g.d_intr_jacobian, jac["d_intr"]) and np.isfinite(g.d_intr_mle).all()
        if jac["significant"]:
            assert (g.d_intr_source == "jacobian:gl_unet_min").all() and np.allclose(g.d_intr, jac["d_intr"])
        else:
            assert g.d_intr_reason.str.startswith("Jacobian rank curve has no significant minimum").all()
            want = 10.0 if name == "digits" else g.d_intr_mle.iloc[0]
            assert np.allclose(g.d_intr, want), (name, g.d_intr.tolist())
    assert (gl[gl.dataset == "digits_pca2"].d_intr_mle < 2.5).all()  # a 2-component projection: d_intr <= 2
    assert np.allclose(gl.N_over_d_intr, gl.N / gl.d_intr)
    fits = pd.read_csv(res / "tables/real_sigmoid_fit.csv")
    assert set(fits.x_variable) == {"N_over_d_intr", "N"} and set(fits.scope) == {"all", "digits", "digits_pca2"}
    fid = pd.read_csv(res / "tables/fid.csv")
    assert sorted(fid.model) == ["gaussian", "gl_unet", "gl_unet", "gl_unet", "gl_unet", "molrg", "unet"]
    assert fid.features.str.contains("not Inception").all() and np.isfinite(fid.fid).all()
    man = json.loads((res / "data/digits/manifest.json").read_text())
    assert man["count"] == 1500 and man["shape"] == [1, 8, 8]


def test_pair_gaps_by_hand():
    from molrg.metrics import pair_gaps

    u = np.zeros((2, 1, 1, 2))
    g = np.array([[[[3.0, 4.0]]], [[[1.0, 0.0]]]])  # distances 5, 1
    m = np.array([[[[0.0, 1.0]]], [[[0.0, 2.0]]]])  # distances 1, 2
    out = pair_gaps(u, g, m, np.array([0, 1]), np.array([1, 1]), np.array([0, 0]))
    assert out["l2"].tolist() == pytest.approx([4.0, -1.0])
    assert out["l2sq"].tolist() == pytest.approx([24.0, -3.0])
    assert out["class_agreement"].tolist() == [1.0, -1.0]  # pair 1: MoLRG agrees; pair 2: Gaussian agrees
    assert "class_agreement" not in pair_gaps(u, g, m)


def test_checkpoint_stability_paired_change():
    from molrg.metrics import checkpoint_stability

    rng = np.random.default_rng(0)
    base = rng.normal(0.5, 1.0, 400)  # large spread between pairs, shared by the checkpoints
    same = {"unet": {"l2": base}, "unet_back1": {"l2": base + rng.normal(0, 0.01, 400)}}
    rows = {r["checkpoint"]: r for r in checkpoint_stability(same, {"unet": 10, "unet_back1": 5}, "unet", z=3)}
    assert rows["unet"]["dgap"] == 0 and rows["unet"]["gap_stable"] and rows["unet"]["ordering_stable"]
    assert rows["unet_back1"]["gap_stable"] and rows["unet_back1"]["step"] == 5
    # a shift of 0.05 is far inside the unpaired SE (~0.07) but ~100 paired SEs: not stable
    moved = {"unet": {"l2": base}, "unet_back1": {"l2": base - 0.05 + rng.normal(0, 0.005, 400)}}
    rows = {r["checkpoint"]: r for r in checkpoint_stability(moved, {"unet": 10, "unet_back1": 5}, "unet", z=3)}
    assert not rows["unet_back1"]["gap_stable"] and rows["unet_back1"]["dgap"] == pytest.approx(-0.05, abs=0.002)
    assert rows["unet_back1"]["gap_se"] == pytest.approx(base.std(ddof=1) / 20, rel=0.05)
    # the ordering flips (significantly on both sides)
    flip = {"unet": {"l2": np.full(50, 1.0) + rng.normal(0, 0.1, 50)},
            "unet_back1": {"l2": np.full(50, -1.0) + rng.normal(0, 0.1, 50)}}
    rows = checkpoint_stability(flip, {"unet": 2, "unet_back1": 1}, "unet")
    assert not any(r["ordering_stable"] for r in rows) and not rows[1]["gap_stable"]
    # identical checkpoints: zero change with zero SE counts as stable; a constant shift does not
    const = {"unet": {"l2": np.ones(5)}, "unet_back1": {"l2": np.ones(5) * 1.1}}
    rows = checkpoint_stability(const, {"unet": 2, "unet_back1": 1}, "unet")
    assert rows[1]["dgap_se"] == 0 and not rows[1]["gap_stable"]
    with pytest.raises(ValueError, match="final"):
        checkpoint_stability(same, {"unet": 1, "unet_back1": 1}, "missing")


def _table1_samples():
    """4 pairs of 1x2x2 images: U-Net 0; Gaussian 3 (clipped to 1: l2 2, squared 4; raw l2 6); MoLRG 0.5
    (l2 1); an earlier U-Net checkpoint at 0.5, where the l2 gap stays 1 (2 - 1, then 1 - 0) and the
    squared-l2 gap falls from 3 (4 - 1) to 1 (1 - 0)."""
    base = np.zeros((4, 1, 2, 2))
    return {"unet": base, "gaussian": base + 3.0, "molrg": base + 0.5, "unet_back1": base + 0.5}


def _predict(x):
    return (x.reshape(len(x), -1)[:, 0] > 0.75).astype(int)  # 0 for the U-Net and the MoLRG, 1 for the Gaussian


def test_table1_rows_on_known_samples():
    s = _table1_samples()
    rows, stab = table1_dataset("ds", s.__getitem__, _predict, (2, 1), {"heldout_accuracy": 0.9, "targets": "c"},
                                {"unet": 10, "unet_back1": 5})
    g, m = rows
    assert (g["model"], g["K"], g["d"], g["n"], g["resolution"], g["channels"]) == ("gaussian", 1, 4, 4, 2, 1)
    assert (m["model"], m["K"], m["d"]) == ("molrg", 2, 1)
    assert g["eq8_l2"] == 2.0 and g["eq8_l2sq"] == 4.0 and g["eq8_mean_unclipped"] == 6.0 and g["eq8_l2_se"] == 0.0
    assert m["eq8_l2"] == 1.0 and m["eq8_l2sq"] == 1.0 and m["eq8_mean_unclipped"] == 1.0
    assert g["class_agreement"] == 0.0 and g["n_pairs_agree"] == 0 and np.isnan(g["eq8_l2_agree"])
    assert m["class_agreement"] == 1.0 and m["n_pairs_agree"] == 4 and m["eq8_l2_agree"] == 1.0
    assert g["classifier_heldout_accuracy"] == 0.9 and g["descriptor"] == "none (pixel space)"
    by = {(r["checkpoint"], r["unit"]): r for r in stab}
    assert {r["dataset"] for r in stab} == {"ds"} and by[("unet_back1", "l2")]["step"] == 5
    assert by[("unet", "l2")]["gap"] == 1.0 and by[("unet_back1", "l2")]["gap"] == 1.0
    assert by[("unet", "class_agreement")]["gap"] == 1.0 and by[("unet_back1", "class_agreement")]["gap"] == 1.0
    assert by[("unet", "l2sq")]["gap"] == 3.0 and by[("unet_back1", "l2sq")]["dgap"] == -2.0
    # identical pairs: zero standard error, so any change is significant and no change is stable
    assert by[("unet_back1", "l2")]["gap_stable"] and not by[("unet_back1", "l2sq")]["gap_stable"]
    assert all(r["ordering_stable"] for r in stab)


def test_table1_markdown_lines():
    s = _table1_samples()
    rows, stab = table1_dataset("ds", s.__getitem__, _predict, (2, 1), {"heldout_accuracy": 0.9}, {"unet": 10})
    conv = pd.DataFrame([convergence_row("ds", {
        "criterion": "plateau", "value": None, "threshold": 0.01, "converged": False, "steps": 100,
        "max_iterations": 100, "stopped_early": False, "final_heldout_loss": 0.2, "history": {"steps": [50, 100]}})])
    assert conv.evaluations[0] == 2 and np.isnan(conv.value[0])
    md = table1_markdown(pd.DataFrame(rows), conv, pd.DataFrame(stab), "NOTE").splitlines()
    assert md[0] == "Table 1. NOTE"
    assert "| ds | gaussian (1, 4) | 4 | 2.00 ± 0.00 | 4.00 ± 0.00 | 0.000 (0 pairs) | n/a ± n/a | n/a ± n/a | 6.00 |" in md
    assert "| ds | molrg (2, 1) | 4 | 1.00 ± 0.00 | 1.00 ± 0.00 | 1.000 (4 pairs) | 1.00 ± 0.00 | 1.00 ± 0.00 | 1.00 |" in md
    assert "± = standard error of the mean over the pairs. Classifier held-out accuracy: ds 0.900" in md
    assert ("Reference U-Nets (reference_unet_convergence.csv): ds: NOT converged after 100 steps "
            "(improvement n/a vs threshold 0.01)") in md
    assert "| ds | unet (10) | l2 | 1.000 ± 0.000 | 0.000 ± 0.000 | yes |" in md
    assert table1_note(18).startswith("Eq. 8 over M pairs") and "Heun 18 steps" in table1_note(18)
