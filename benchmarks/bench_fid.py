"""Frechet distance at Inception's 2048 dimensions: clean-fid's `fid_from_feats` (scipy sqrtm of the
d x d product S1 S2) against molrg.fid.fid_from_features (nuclear norm of the covariance factors'
product, exact), on random features of the sizes the pipeline meets: the smoke run's (64 real, 16
generated), a default-like (500, 500) and a paper-like (5000, 5000; the paper uses 50,000 real).
Prints seconds, the ratio and the relative difference of the two values; never asserted.

    .venv/bin/python benchmarks/bench_fid.py [--threads 1] [--dim 2048] [--sizes 64x16,500x500,5000x5000]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--sizes", default="64x16,500x500,5000x5000")
    args = ap.parse_args()
    from threadpoolctl import threadpool_limits

    from cleanfid import fid as cleanfid_fid

    from molrg.fid import fid_from_features

    rng = np.random.default_rng(0)
    mix = rng.standard_normal((args.dim, args.dim)) / np.sqrt(args.dim)
    print(f"{'real x generated':>18} | {'clean-fid s':>11} | {'factors s':>9} | {'ratio':>7} | rel. diff")
    with threadpool_limits(args.threads):
        for size in args.sizes.split(","):
            n1, n2 = (int(v) for v in size.split("x"))
            f1 = rng.standard_normal((n1, args.dim))
            f2 = 1.2 * rng.standard_normal((n2, args.dim)) @ mix + 0.1
            t = time.perf_counter()
            ref = cleanfid_fid.fid_from_feats(f1, f2)
            t_ref = time.perf_counter() - t
            t = time.perf_counter()
            val = fid_from_features(f1, f2)
            t_new = time.perf_counter() - t
            print(f"{size:>18} | {t_ref:11.2f} | {t_new:9.3f} | {t_ref / t_new:6.0f}x | {abs(val - ref) / abs(ref):.1e}")


if __name__ == "__main__":
    main()
