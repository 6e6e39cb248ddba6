"""Values of result-table cells as a CSV round trip leaves them (text, numbers or NaN)."""
from __future__ import annotations

import math


def csv_bool(v) -> bool:
    """A CSV bool: True/False, 'True'/'true'/'1', numbers."""
    if isinstance(v, str):
        return v.strip().lower() in ("true", "1", "yes")
    try:
        return bool(v) and not (isinstance(v, float) and math.isnan(v))
    except (TypeError, ValueError):
        return False


def csv_float(v) -> float:
    """float(v), NaN where v is not a number."""
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")
