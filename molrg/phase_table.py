"""The phase-transition tables of Figs 2, 3, 6 as the figures and logs read them: their columns,
the success probability per cell and the empirical boundary. molrg.phase makes the tables (with
torch); this module needs pandas only, so the figure jobs start without torch (tests/test_layout.py
checks that they do)."""
from __future__ import annotations

import pandas as pd

TABLE_COLUMNS = ["K", "method", "solver", "n", "d", "N_k", "N", "trial", "error", "success", "noise_std", "threshold"]


def success_table(df: pd.DataFrame) -> pd.DataFrame:
    """Empirical success probability per cell, the quantity of the heat-maps."""
    return df.groupby(["d", "N_k"], as_index=False)["success"].mean()


def empirical_boundary(df: pd.DataFrame, level: float = 0.5) -> pd.DataFrame:
    """Per d: the smallest N_k of the grid from which the success probability is >= `level` at that
    N_k and at every larger N_k of the grid (NaN if the largest N_k fails). Columns d, boundary.

    The DAE's acceptance test of docs/theory.md compares this with the closed form's boundary."""
    st = success_table(df).sort_values(["d", "N_k"])
    out = []
    for d, g in st.groupby("d"):
        ok = (g.success >= level).to_numpy()[::-1].cumprod()[::-1].astype(bool)  # ok here and above
        out.append({"d": d, "boundary": g.N_k.to_numpy()[ok].min() if ok.any() else float("nan")})
    return pd.DataFrame(out)
