"""Eq. 8: the mean l2 distance between paired samples (Table 1)."""
from __future__ import annotations

import numpy as np
import pytest

from molrg.metrics import eq8_distance, eq8_summary, pair_distances


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


def test_eq8_rejects_unpaired_sets():
    with pytest.raises(ValueError, match="differ in shape"):
        eq8_distance(np.zeros((3, 4)), np.zeros((2, 4)))


# ---------------------------------------------------------------------------------------------
# the real-data rules end to end on the digits (tiny config): Table 1 reports the MoLRG's Eq. 8
# distance next to the Gaussian's, and every other output of issue #4 is made
# ---------------------------------------------------------------------------------------------

REALDATA_TARGETS = [
    "results/tables/table1_eq8_distance.csv",
    "results/tables/table1_eq8_distance.md",
    "results/tables/real_gl_scores.csv",
    "results/tables/real_sigmoid_fit.csv",
    "results/tables/fid.csv",
]


@pytest.mark.slow
def test_realdata_rules_on_digits(tmp_path):
    import json

    import pandas as pd
    from conftest import TINY, run_snakemake

    # targets before --configfile (which takes every following word as a config file)
    run_snakemake(tmp_path, *REALDATA_TARGETS, "results/figures/fig1_samples.png", "--configfile", TINY,
                  configfiles=(), check=True)
    res = tmp_path / "results"
    t1 = pd.read_csv(res / "tables/table1_eq8_distance.csv")
    assert t1.dataset.tolist() == ["digits", "digits"] and t1.model.tolist() == ["gaussian", "molrg"]
    assert (t1.M == 16).all() and np.isfinite(t1.eq8_mean).all() and (t1.eq8_mean > 0).all()
    assert t1.d.tolist() == [64, 8] and t1.K.tolist() == [1, 10]
    md = (res / "tables/table1_eq8_distance.md").read_text()
    assert "| digits | 16 |" in md and "no descriptor" in md
    print("\ntiny digits Table 1 (4-step U-Net, not meaningful):\n" + t1[["model", "eq8_mean", "eq8_sem"]].to_string())

    gl = pd.read_csv(res / "tables/real_gl_scores.csv")
    assert gl.N.tolist() == [32, 128] and gl.gl.between(0, 1).all() and (gl.descriptor == "classifier").all()
    # the tiny config takes d_intr from Table 2 (issue #5's Jacobian estimate) through the DAG
    t2 = pd.read_csv(res / "tables/table2_intrinsic_dimension.csv").set_index("dataset")
    d_intr = float(t2.loc["digits", "d_intr_min"])
    assert gl.d_intr_source.str.startswith("table2").all(), gl.d_intr_source.tolist()
    assert np.allclose(gl.d_intr, d_intr) and np.allclose(gl.N_over_d_intr, gl.N / d_intr)
    fits = pd.read_csv(res / "tables/real_sigmoid_fit.csv")
    assert set(fits.x_variable) == {"N_over_d_intr", "N"} and set(fits.scope) == {"all", "digits"}
    fid = pd.read_csv(res / "tables/fid.csv")
    assert sorted(fid.model) == ["gaussian", "gl_unet", "gl_unet", "molrg", "unet"]
    assert fid.features.str.contains("not Inception").all() and np.isfinite(fid.fid).all()
    for f in REALDATA_TARGETS + ["results/figures/fig1_samples.png"]:
        assert (tmp_path / (f + ".prov.json")).is_file(), f
    man = json.loads((res / "data/digits/manifest.json").read_text())
    assert man["count"] == 1500 and man["shape"] == [1, 8, 8]
