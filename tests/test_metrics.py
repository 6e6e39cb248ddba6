"""Eq. 8: the mean l2 distance between paired samples (Table 1)."""
from __future__ import annotations

import numpy as np
import pytest

from molrg.metrics import eq8_distance, eq8_summary, pair_distances


def test_eq8_is_zero_for_identical_sets():
    x = np.random.default_rng(0).uniform(-1, 1, (7, 3, 4, 4))
    assert eq8_distance(x, x.copy()) == 0.0
    s = eq8_summary(x, x)
    assert s == {"eq8_mean": 0.0, "eq8_std": 0.0, "eq8_sem": 0.0, "M": 7}


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
    # symmetric, and not the squared norm
    assert eq8_distance(b, a) == eq8_distance(a, b)


def test_eq8_rejects_unpaired_sets():
    with pytest.raises(ValueError, match="differ in shape"):
        eq8_distance(np.zeros((3, 4)), np.zeros((2, 4)))
