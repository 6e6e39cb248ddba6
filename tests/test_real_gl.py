"""molrg.real_gl on constructed data: copies of training images score GL 0 and copy rate 1 and fresh
images GL 1; the scores table joins each set's d_intr, its sources and N / d_intr; the fit table fits
each set's known sigmoid and labels its rows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from molrg.descriptors import PixelDescriptor, descriptor_gl
from molrg.real_gl import SCORE_COLUMNS, choose_d_intr, fit_table, reported_jacobian, scores_table
from molrg.sigmoid import logistic_log2


def _images(n, seed):
    return torch.from_numpy(np.random.default_rng(seed).uniform(-1, 1, (n, 1, 6, 6)).astype(np.float32))


@pytest.mark.parametrize("threshold", [0.99, None])
def test_copies_score_zero_and_fresh_images_one(threshold):
    train = _images(30, 0)
    held = _images(40, 1)
    copies = train[:10]
    rec, nn = descriptor_gl(PixelDescriptor(), copies, train, train, held, threshold=threshold, eps_quantile=0.05,
                            copy_fraction=0.1, descriptor_kind="pixel")
    assert rec["gl"] == 0.0 and rec["copy_rate"] == 1.0 and rec["nn_ratio"] == pytest.approx(0.0, abs=1e-3)
    assert np.array_equal(nn["nn_idx"], np.arange(10)) and nn["nn_idx"].dtype == np.int64
    assert rec["descriptor"] == "pixel" and rec["num_samples"] == 10
    if threshold is None:  # calibrated: 95 % of the held-out images are below it
        assert rec["threshold_rule"].startswith("calibrated: 0.95-quantile")
        assert rec["heldout_gl"] == pytest.approx(0.95, abs=1 / 40)
    else:  # random 36-pixel images are far from cosine 0.99: none is a copy
        assert rec["threshold_rule"] == "fixed" and rec["heldout_gl"] == 1.0
    fresh, _ = descriptor_gl(PixelDescriptor(), held[:10], train, train, held, threshold=0.99)
    assert fresh["gl"] == 1.0 and fresh["copy_rate"] == 0.0


GL_CFG = {"d_intr": {"a": "mle", "b": 8}, "d_intr_source": "config", "d_intr_column": "d_intr_min"}


def test_d_intr_from_the_fallbacks_with_their_sources():
    chosen = choose_d_intr({"a", "b"}, GL_CFG, {"a": 3.5, "b": 9.0}, {"a": "mle:levina_bickel(k=5, n=30)"})
    assert chosen["a"] == {"d_intr": 3.5, "d_intr_source": "mle:levina_bickel(k=5, n=30)",
                           "d_intr_reason": "realdata.gl.d_intr_source = config"}
    assert chosen["b"]["d_intr"] == 8.0 and chosen["b"]["d_intr_source"] == "config:realdata.gl.d_intr"


def test_reported_jacobian_prefers_table2():
    own = {"a": {"d_intr": 1.0, "significant": False, "reason": "", "sigma_min": 2.0, "N": 16}}
    table2 = pd.DataFrame({"dataset": ["a", "z"], "d_intr_min": [12.0, 5.0], "valid": ["True", "False"],
                           "reason": [np.nan, "flat"]})
    rep = reported_jacobian(own, table2, "d_intr_min", {"a"})
    assert list(rep) == ["a"] and rep["a"]["d_intr"] == 12.0 and rep["a"]["significant"] is True
    assert rep["a"]["reason"] == ""
    assert reported_jacobian(own, None, "d_intr_min", {"a"}) is own
    assert reported_jacobian(own, table2.drop(columns="valid"), "d_intr_min", {"a"}) is own


def _chosen():
    return {"a": {"d_intr": 4.0, "d_intr_source": "mle:x", "d_intr_reason": "no Table 2 given: use MLE"},
            "b": {"d_intr": 2.0, "d_intr_source": "table2:d_intr_min", "d_intr_reason": ""}}


def test_scores_table_joins_d_intr_and_sorts():
    records = [{"dataset": "b", "model": "unet", "N": 8, "seed": 0, "gl": 0.5, "copy_rate": 0.1, "nn_ratio": 0.9,
                "train_iterations": 100, "threshold": 0.7},
               {"dataset": "a", "model": "unet", "N": 8, "seed": 0, "gl": 0.4, "copy_rate": 0.2, "nn_ratio": 0.8,
                "train_iterations": 100, "threshold": 0.7},
               {"dataset": "a", "model": "empirical_optimal", "N": 8, "seed": 0, "gl": 0.0, "copy_rate": 1.0,
                "nn_ratio": 0.0, "threshold": 0.7}]
    jac = {"a": {"d_intr": 30.0, "significant": False}, "b": {"d_intr": 2.0, "significant": True}}
    df = scores_table(records, _chosen(), {"a": 3.0, "b": 2.5}, jac)
    assert list(df.columns) == SCORE_COLUMNS + ["train_iterations", "threshold", "dataset_label"]
    assert list(zip(df.dataset, df.model)) == [("a", "empirical_optimal"), ("a", "unet"), ("b", "unet")]
    assert list(df.N_over_d_intr) == [2.0, 2.0, 4.0] and list(df.train_iterations) == [0, 100, 100]
    assert list(df.d_intr_jacobian_significant) == [False, False, True] and list(df.d_intr_mle) == [3.0, 3.0, 2.5]
    assert df.dataset_label[0] == "a (d_intr = 4, MLE; MLE 3)\n  no Table 2 given"
    assert df.dataset_label[2] == "b (d_intr = 2, Table 2; MLE 2.5)"


def test_fit_table_fits_each_set_and_labels_rows():
    N = 2.0 ** np.arange(1, 10)
    rows = [{"dataset": ds, "model": "unet", "N": n, "seed": 0, "N_over_d_intr": n / di,
             "gl": float(logistic_log2(n / di, 1.2, 3.0))} for ds, di in (("a", 4.0), ("b", 2.0)) for n in N]
    rows.append({"dataset": "a", "model": "empirical_optimal", "N": 2.0, "seed": 0, "N_over_d_intr": 0.5, "gl": 0.9})
    fits = fit_table(pd.DataFrame(rows), _chosen(), "pixel", n_boot=0, plateau=1.0, fraction=0.5)
    assert list(fits.columns[:5]) == ["scope", "model", "descriptor", "d_intr_source", "x_variable"]
    assert list(fits.scope) == ["all", "all", "a", "a", "b", "b"]
    assert list(fits.d_intr_source) == ["mle:x;table2:d_intr_min"] * 2 + ["mle:x"] * 2 + ["table2:d_intr_min"] * 2
    by = fits.set_index(["scope", "x_variable"])
    # the curves collapse in N / d_intr (midpoint 2^3 for both sets, the baseline left out) but not in N
    for scope in ("all", "a", "b"):
        assert by.loc[(scope, "N_over_d_intr"), "x_star"] == pytest.approx(8.0, rel=1e-3)
    assert by.loc[("a", "N"), "x_star"] == pytest.approx(32.0, rel=1e-3)
    assert by.loc[("all", "N"), "r2"] < by.loc[("all", "N_over_d_intr"), "r2"]
