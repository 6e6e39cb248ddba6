"""Worst-case cost of one sigmoid fit + bootstrap, for two implementations: why molrg/sigmoid.py
batches and bounds its bootstrap refits.

"before" (column `before s`, `--skip-old` skips it) is the per-replicate implementation:
curve_fit(maxfev=20000) refitted once per bootstrap replicate, molrg/sigmoid.py loaded from git at
commit OLD_COMMIT; "after" is molrg.sigmoid.fit_report with the batched, bounded refits, for a fixed
plateau of 1 (the per-replicate implementation's model), a fitted plateau and a plateau fixed at
0.95 (1 - eps_quantile). Data sets:
a normal transition, flat GL (1 everywhere), saturated GL (the Fig 4 right case that took ~12
CPU-minutes for six fits: GL >= 0.95 from the second point on, exact 1.0 values) and two distinct
x only. 1000 replicates each.

Run: .venv/bin/python benchmarks/bench_fits.py [--n-boot 1000] [--skip-old]
Timings on a shared machine are inflated by the others' load; the ratio is what matters.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from molrg.sigmoid import fit_report, logistic_log2  # noqa: E402

OLD_COMMIT = "5554b2a"


def old_module():
    src = subprocess.run(["git", "show", f"{OLD_COMMIT}:molrg/sigmoid.py"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    mod = types.ModuleType("old_sigmoid")
    exec(compile(src, "old_sigmoid.py", "exec"), mod.__dict__)
    return mod


def datasets():
    """GL is a fraction: exact 1.0 values are common at large N, and they are what sends the
    per-replicate curve_fit to its bounds (~0.1 s per replicate)."""
    rng = np.random.default_rng(0)
    x = np.repeat(2.0 ** np.arange(0, 9), 3)  # 27 cells, as a (d, N) grid with 3 seeds
    xs = np.array([16.0, 32, 64, 128, 256, 512])  # Fig 4 right: six points of one dataset
    x2 = np.repeat([16.0, 512.0], 3)
    return {
        "normal transition": (x, np.clip(logistic_log2(x, 1.6, 3.2, 0.95) + rng.normal(0, 0.02, len(x)), 0, 1)),
        "flat (GL = 1 everywhere)": (xs, np.ones(len(xs))),
        "saturated (real-data-like)": (xs, np.array([0.64, 0.95, 0.99, 1.0, 1.0, 1.0])),
        "two distinct x": (x2, np.array([0.70, 0.72, 0.69, 1.0, 1.0, 1.0])),
    }


def timed(fn):
    t0 = time.process_time()
    try:
        out = fn()
        err = ""
    except (RuntimeError, ValueError) as e:
        out, err = None, type(e).__name__
    return time.process_time() - t0, out, err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--skip-old", action="store_true")
    args = ap.parse_args()
    old = None if args.skip_old else old_module()
    rows = []
    for name, (x, y) in datasets().items():
        t_old, r_old, e_old = (float("nan"), None, "skipped") if old is None else timed(
            lambda: old.fit_report(x, y, "x", 0.95, args.n_boot, 0.95, seed=0))
        for plateau in (1.0, "fit", 0.95):
            t_new, r_new, e_new = timed(lambda: fit_report(x, y, "x", n_boot=args.n_boot, seed=0, plateau=plateau,
                                                           fraction=0.95))
            rows.append((name, plateau, t_old, t_new, r_new, e_new or (r_new or {}).get("status", "")))
        print(f"[{name}] old: {t_old:.2f} s CPU {e_old}", file=sys.stderr, flush=True)
    print(f"sigmoid fit + bootstrap, {args.n_boot} replicates, CPU seconds (time.process_time)")
    print(f"{'data set':26s} {'plateau':>7s} {'before s':>9s} {'after s':>8s} {'ratio':>7s} "
          f"{'ok':>5s} {'degen':>5s}  status")
    for name, plateau, t_old, t_new, r, status in rows:
        ok = r["n_boot_ok"] if r else "-"
        dg = r["n_boot_degenerate"] if r else "-"
        ratio = f"{t_old / t_new:7.0f}" if r else "      -"  # no ratio for an input rejected up front
        print(f"{name:26s} {str(plateau):>7s} {t_old:9.2f} {t_new:8.3f} {ratio} {ok!s:>5s} {dg!s:>5s}  {status}")
    worst_old = max(r[2] for r in rows)
    worst_new = max(r[3] for r in rows)
    print(f"worst case: before {worst_old:.2f} s, after {worst_new:.3f} s (ratio {worst_old / worst_new:.0f})")


if __name__ == "__main__":
    main()
