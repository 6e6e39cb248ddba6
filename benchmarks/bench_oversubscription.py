"""Does `--cores 8` on a 2-core machine cost throughput?

Snakemake with `--cores 8` starts up to 8 one-thread jobs at once. This launches N identical
one-thread jobs (each a fresh Python process: import torch, build the default config's MoLRG U-Net,
run a fixed number of EDM training steps, like a `molrg_unet_train` job) through a pool of W slots,
a new job starting as soon as one ends (as Snakemake does), and prints the wall time of the batch
for W = 8 and W = os.cpu_count(), alternating, `--repeats` times each. Printed, never asserted.

    .venv/bin/python benchmarks/bench_oversubscription.py [--jobs 8] [--steps 150] [--repeats 2] [--widths 8,2]

The machine may be shared: the load average before each batch is printed next to it; compare the
widths within one repeat (they run back to back), not across runs.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def worker(steps: int) -> None:
    """One job: start-up (imports) + `steps` training steps on one thread; prints its own times."""
    t0 = time.perf_counter()
    import torch
    import yaml

    sys.path.insert(0, str(ROOT))
    from molrg.precond import edm_loss
    from molrg.checkpoint import build_denoiser

    torch.set_num_threads(1)
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())["molrg_unet"]
    res = cfg["resolution"]
    net = {k: cfg[k] for k in ("width", "channel_mult", "num_blocks", "attn_resolutions", "dropout")}
    torch.manual_seed(0)
    D = build_denoiser("edm", {**net, "img_resolution": res, "in_channels": 3})
    opt = torch.optim.Adam(D.parameters(), lr=1e-3)
    x = torch.randn(cfg["batch_size"], 3, res, res) * 0.3
    t1 = time.perf_counter()
    for _ in range(steps):
        loss = edm_loss(D, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    t2 = time.perf_counter()
    print(f"{t1 - t0:.3f} {t2 - t1:.3f} {time.process_time():.3f}")


def batch(jobs: int, width: int, steps: int) -> tuple[float, list[tuple[float, float, float]]]:
    """Run `jobs` workers through `width` slots; (wall s, per-job (start-up s, train s, CPU s))."""
    cmd = [sys.executable, __file__, "--worker", "--steps", str(steps)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    pending, running, results = jobs, [], []
    t0 = time.perf_counter()
    while pending or running:
        while pending and len(running) < width:
            running.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env))
            pending -= 1
        time.sleep(0.02)
        for p in [p for p in running if p.poll() is not None]:
            out = p.stdout.read()
            if p.returncode != 0:
                raise RuntimeError(f"worker failed (rc {p.returncode}): {out}")
            results.append(tuple(float(v) for v in out.split()))
            running.remove(p)
    return time.perf_counter() - t0, results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=8, help="identical one-thread jobs per batch")
    ap.add_argument("--steps", type=int, default=150, help="training steps per job")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--widths", default=f"8,{os.cpu_count()}", help="jobs at once, compared (default 8,cpu_count)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.steps)
        return
    widths = [int(w) for w in args.widths.split(",")]
    print(f"{os.cpu_count()} CPUs; {args.jobs} jobs x {args.steps} steps (default molrg_unet net, 1 thread each)")
    walls = {w: [] for w in widths}
    for rep in range(args.repeats):
        for w in widths if rep % 2 == 0 else widths[::-1]:
            load = os.getloadavg()[0]
            wall, res = batch(args.jobs, w, args.steps)
            walls[w].append(wall)
            start = sum(r[0] for r in res) / len(res)
            train = sum(r[1] for r in res) / len(res)
            cpu = sum(r[2] for r in res)
            print(f"repeat {rep}: {w} at once: {wall:6.1f} s wall for {args.jobs} jobs "
                  f"({args.jobs * args.steps / wall:6.1f} steps/s in all; per job: start-up {start:5.1f} s, "
                  f"training {train:5.1f} s; CPU {cpu:6.1f} s in all; load before {load:.1f})", flush=True)
    base = widths[-1]
    for w in widths[:-1]:
        ratios = [a / b for a, b in zip(walls[w], walls[base])]
        print(f"wall({w} at once) / wall({base} at once) per repeat: " + ", ".join(f"{r:.2f}" for r in ratios))


if __name__ == "__main__":
    main()
