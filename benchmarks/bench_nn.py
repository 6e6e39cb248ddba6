"""Nearest-neighbour search of molrg.gl (chunked inner products in torch) at the size the issue
asks for: 10k generated x 50k training points at n = 3072 (32 x 32 x 3), L2 and cosine, with the
peak resident memory. Printed, never asserted.

    .venv/bin/python benchmarks/bench_nn.py [--M 10000] [--N 50000] [--n 3072] [--threads 2] [--device cpu|cuda]
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from molrg.gl import nearest_neighbors  # noqa: E402


def peak_rss_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--M", type=int, default=10_000)
    ap.add_argument("--N", type=int, default=50_000)
    ap.add_argument("--n", type=int, default=3072)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--check", type=int, default=200, help="queries checked against torch.cdist")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    refs = torch.randn(args.N, args.n, generator=g)
    queries = torch.randn(args.M, args.n, generator=g)
    print(f"inputs: {args.M} x {args.n} queries, {args.N} x {args.n} references (float32, "
          f"{(args.M + args.N) * args.n * 4 / 1e9:.2f} GB); peak RSS so far {peak_rss_gb():.2f} GB; "
          f"{torch.get_num_threads()} thread(s), device {args.device}")
    for metric in ("l2", "cosine"):
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        t = time.perf_counter()
        val, idx = nearest_neighbors(queries, refs, metric=metric, device=args.device)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        dt = time.perf_counter() - t
        flops = 2 * args.M * args.N * args.n
        print(f"{metric:>6}: {dt:7.1f} s ({flops / dt / 1e9:6.1f} GFLOP/s), peak RSS {peak_rss_gb():.2f} GB", flush=True)
        if metric == "l2":
            l2_idx = idx
    k = min(args.check, args.M)  # after the timings: the float64 check copies the references
    ref_idx = torch.cdist(queries[:k].double(), refs.double()).argmin(1)
    print(f"L2: first {k} nearest indices equal torch.cdist's: {bool(torch.equal(l2_idx[:k], ref_idx))}")


if __name__ == "__main__":
    main()
