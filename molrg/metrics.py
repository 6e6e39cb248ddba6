"""Distances between paired sample sets: Eq. 8 of the paper (Table 1).

  Dist = (1/M) sum_i || x_i^UNet - x_i^model ||_2

over M pairs generated from the same initial noise, with the plain (non-squared) l2 norm of the
flattened image in model space [-1, 1] (spec §5.3; the normalisation is our reading, UNCONFIRMED).
"""
from __future__ import annotations

import numpy as np


def pair_distances(a, b) -> np.ndarray:
    """|| a_i - b_i ||_2 for each pair i of flattened samples; a and b have the same shape (M, ...)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired sample sets differ in shape: {a.shape} vs {b.shape}")
    return np.linalg.norm((a - b).reshape(len(a), -1), axis=1)


def eq8_distance(a, b) -> float:
    """Eq. 8: the mean l2 distance over the M pairs."""
    return float(pair_distances(a, b).mean())


def eq8_summary(a, b) -> dict:
    """Eq. 8 with its spread: mean, standard deviation, standard error of the mean, M."""
    d = pair_distances(a, b)
    M = len(d)
    std = float(d.std(ddof=1)) if M > 1 else 0.0
    return {"eq8_mean": float(d.mean()), "eq8_std": std, "eq8_sem": std / np.sqrt(M) if M > 1 else 0.0,
            "eq8_median": float(np.median(d)), "M": M}
