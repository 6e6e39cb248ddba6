"""molrg.intrinsic_dimension: d_intr selection (Jacobian / Table 2 validity, fallbacks), the Jacobian d_intr of
a GL U-Net, the Levina-Bickel MLE."""
import numpy as np
import pandas as pd
import pytest

from molrg.intrinsic_dimension import jacobian_d_intr, mle_fallbacks, mle_intrinsic_dimension, select_d_intr


FALLBACK = {"a": 11.0, "b": 22.0}


def test_d_intr_table2_valid_and_invalid_rows():
    t2 = pd.DataFrame({"dataset": ["a", "b"], "d_intr_min": [7, 9], "valid": [True, False],
                       "reason": ["", "no interior minimum"]})
    out = select_d_intr(["a", "b"], "table2", FALLBACK, t2)
    assert out["a"] == {"d_intr": 7.0, "d_intr_source": "table2:d_intr_min", "d_intr_reason": ""}
    assert out["b"]["d_intr"] == 22.0 and out["b"]["d_intr_source"] == "config:realdata.gl.d_intr"
    assert out["b"]["d_intr_reason"] == "Table 2 row not valid: no interior minimum"


def test_d_intr_csv_bools_and_missing_pieces(tmp_path):
    # valid read back from a CSV as text; a missing row; a table without validity; NaN d_intr
    path = tmp_path / "t2.csv"
    pd.DataFrame({"dataset": ["a", "b"], "d_intr_min": [7, float("nan")], "valid": [True, True],
                  "reason": ["", ""]}).to_csv(path, index=False)
    t2 = pd.read_csv(path, dtype={"valid": str})
    out = select_d_intr(["a", "b", "c"], "table2", {**FALLBACK, "c": 5}, t2)
    assert out["a"]["d_intr"] == 7.0
    assert out["b"]["d_intr"] == 22.0 and "not a positive number" in out["b"]["d_intr_reason"]
    assert out["c"]["d_intr"] == 5.0 and out["c"]["d_intr_reason"] == "Table 2 has no row for c"
    old = pd.DataFrame({"dataset": ["a"], "d_intr_min": [7]})
    assert select_d_intr(["a"], "table2", FALLBACK, old)["a"] == {
        "d_intr": 11.0, "d_intr_source": "config:realdata.gl.d_intr", "d_intr_reason": "Table 2 has no validity column"}


def test_d_intr_config_source_and_errors():
    t2 = pd.DataFrame({"dataset": ["a"], "d_intr_min": [7], "valid": [True]})
    out = select_d_intr(["a"], "config", FALLBACK, t2)
    assert out["a"]["d_intr"] == 11.0 and out["a"]["d_intr_reason"] == "realdata.gl.d_intr_source = config"
    # a missing fallback is an error only where it is needed, naming the reason and the key
    assert select_d_intr(["a"], "table2", {}, t2)["a"]["d_intr"] == 7.0
    with pytest.raises(ValueError, match="Table 2 has no row for zz.*realdata.gl.d_intr.zz"):
        select_d_intr(["a", "zz"], "table2", FALLBACK, t2)
    with pytest.raises(ValueError, match="d_intr_source"):
        select_d_intr(["a"], "table3", FALLBACK, t2)


@pytest.mark.parametrize("d", [2, 5])
def test_mle_intrinsic_dimension_recovers_linear_subspace(d):
    # uniform points of a d-dimensional cube, rotated into R^40: the estimate is close to d
    rng = np.random.default_rng(0)
    z = rng.uniform(size=(2000, d))
    Q = np.linalg.qr(rng.normal(size=(40, 40)))[0][:, :d]
    est = mle_intrinsic_dimension(z @ Q.T, k=10)
    assert abs(est - d) < 0.15 * d + 0.2
    # exact duplicates are skipped, not turned into infinities
    x = np.vstack([z @ Q.T, (z @ Q.T)[:5]])
    assert np.isfinite(mle_intrinsic_dimension(x, k=10))


def test_mle_fallback_is_computed_and_labelled():
    # "mle" entries become the estimate of the loaded images (first MLE_MAX_POINTS), numbers stay
    rng = np.random.default_rng(1)
    Q = np.linalg.qr(rng.normal(size=(30, 30)))[0][:, :3]
    imgs = {"a": (rng.uniform(size=(1500, 3)) @ Q.T).reshape(1500, 1, 5, 6)}
    loaded = []
    values, sources = mle_fallbacks({"a": "mle", "b": 4}, lambda n: loaded.append(n) or imgs[n])
    assert loaded == ["a"] and values["b"] == 4.0 and set(sources) == {"a"}
    assert abs(values["a"] - 3) < 0.65 and sources["a"].startswith("mle:levina_bickel(k=20, n=1500")
    t2 = pd.DataFrame({"dataset": ["a"], "d_intr_min": [3011], "valid": [False], "reason": ["no interior minimum"]})
    out = select_d_intr(["a"], "table2", values, t2, fallback_source=sources)
    assert out["a"]["d_intr"] == values["a"] and out["a"]["d_intr_source"] == sources["a"]
    assert out["a"]["d_intr_reason"] == "Table 2 row not valid: no interior minimum"


def test_d_intr_jacobian_source_significant_or_fallback():
    jac = {"a": {"d_intr": 3.5, "significant": True, "reason": ""},
           "b": {"d_intr": 60.0, "significant": False, "reason": "no interior minimum: the lowest mean rank ..."}}
    out = select_d_intr(["a", "b", "c"], "jacobian", {"a": 9.0, "b": 2.0, "c": 4.0}, jacobian=jac,
              fallback_source={"b": "mle:levina_bickel(k=20, n=5000)"})
    assert out["a"] == {"d_intr": 3.5, "d_intr_source": "jacobian:gl_unet_min", "d_intr_reason": ""}
    assert out["b"]["d_intr"] == 2.0 and out["b"]["d_intr_source"].startswith("mle:")
    assert out["b"]["d_intr_reason"].startswith("Jacobian rank curve has no significant minimum: no interior")
    assert out["c"]["d_intr"] == 4.0 and out["c"]["d_intr_reason"] == "no Jacobian rank measured for c"
    with pytest.raises(ValueError, match="'jacobian', 'table2' or 'config'"):
        select_d_intr(["a"], "rank", {"a": 1.0})


def test_jacobian_d_intr_significance():
    sig = np.geomspace(80, 0.002, 8)
    u = np.array([[20, 12, 6, 4, 5, 30, 60, 64], [22, 10, 6, 4, 7, 28, 62, 64]], float)  # a U with its bottom at 4
    r = jacobian_d_intr(sig, u, 0.01, 100.0, min_rise=1.0)
    assert r["significant"] and r["d_intr"] == 4.0 and r["step_min"] == 3 and r["rise"] == 17.0
    # monotone (lowest at the largest sigma): no interior minimum
    r = jacobian_d_intr(sig, np.sort(u, axis=1), 0.01, 100.0, min_rise=1.0)
    assert not r["significant"] and "no interior minimum" in r["reason"]
    # a shallow dip: interior, but below min_rise
    flat = np.full((2, 8), 10.0)
    flat[:, 4] = 9.6
    r = jacobian_d_intr(sig, flat, 0.01, 100.0, min_rise=1.0)
    assert r["interior_minimum"] and not r["significant"] and "rises only 0.4" in r["reason"]
    # outside the trained sigma range
    r = jacobian_d_intr(sig, u, 1.0, 100.0, min_rise=1.0)
    assert not r["significant"] and "outside the trained range" in r["reason"]
