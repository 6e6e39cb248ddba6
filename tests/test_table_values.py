"""molrg.table_values: booleans and numbers read back from CSV cells."""
import math

import pandas as pd
import pytest

from molrg.table_values import csv_bool, csv_float


def test_csv_bool_after_a_csv_round_trip(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"ok": [True, False, True], "n": [1, 0, float("nan")]}).to_csv(path, index=False)
    t = pd.read_csv(path, dtype={"ok": str})
    assert [csv_bool(v) for v in t.ok] == [True, False, True]  # read as text
    assert [csv_bool(v) for v in pd.read_csv(path).ok] == [True, False, True]  # read as bool
    assert [csv_bool(v) for v in t.n] == [True, False, False]  # NaN (an empty cell) is not true


@pytest.mark.parametrize("v, expected", [("true", True), (" TRUE ", True), ("1", True), ("yes", True), ("False", False),
                                         ("0", False), ("", False), (None, False), (2, True), (0.0, False)])
def test_csv_bool_values(v, expected):
    assert csv_bool(v) is expected


def test_csv_float():
    assert csv_float("2.5") == 2.5 and csv_float(3) == 3.0
    assert math.isnan(csv_float("n/a")) and math.isnan(csv_float(None)) and math.isnan(csv_float(float("nan")))
