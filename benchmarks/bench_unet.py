"""Speed of the MoLRG U-Net part (Fig 4 left): training steps per second of the DDPM++ U-Net on
3 x 4 x 4 MoLRG images at the default config's size and at the paper's (width 128, [2, 2, 2],
4 blocks, batch 512), Heun sampler throughput (35 evaluations per sample), and the wall time the
default grid implies. Printed, never asserted.

    .venv/bin/python benchmarks/bench_unet.py [--threads 1] [--device cpu|cuda] [--seconds 8] [--skip-paper]

Timings are the median over 3 windows of at least --seconds / 3 s each (after a warm-up).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from molrg.networks import num_parameters  # noqa: E402
from molrg.precond import edm_loss  # noqa: E402
from molrg.sampler import heun_sample  # noqa: E402
from molrg.checkpoint import build_denoiser  # noqa: E402

PAPER = dict(width=128, channel_mult=(2, 2, 2), num_blocks=4, attn_resolutions=(16,), dropout=0.13)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def rate(step, device, seconds):
    """Median calls per second of `step()` over 3 windows."""
    step()
    sync(device)
    rates = []
    for _ in range(3):
        t, k = time.perf_counter(), 0
        while time.perf_counter() - t < seconds / 3:
            step()
            k += 1
        sync(device)
        rates.append(k / (time.perf_counter() - t))
    return statistics.median(rates)


def bench(name, net_kwargs, batch, sample_batch, device, seconds):
    torch.manual_seed(0)
    D = build_denoiser("edm", {**net_kwargs, "img_resolution": 4, "in_channels": 3}).to(device)
    opt = torch.optim.Adam(D.parameters(), lr=1e-3)
    x = torch.randn(batch, 3, 4, 4, device=device) * 0.3

    def train_step():
        loss = edm_loss(D, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    its = rate(train_step, device, seconds)
    D.eval()
    z = torch.randn(sample_batch, 3, 4, 4, device=device)
    per_call = rate(lambda: heun_sample(D, z, num_steps=18), device, seconds)
    print(f"{name:>8}: {num_parameters(D) / 1e6:6.2f} M params | train batch {batch:4d}: {its:7.2f} it/s "
          f"({its * batch:9.0f} img/s) | Heun 18 steps / 35 NFE: {per_call * sample_batch:9.0f} samples/s "
          f"(batch {sample_batch})", flush=True)
    return its, per_call * sample_batch


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--skip-paper", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())["molrg_unet"]
    default = {k: cfg[k] for k in ("width", "channel_mult", "num_blocks", "attn_resolutions", "dropout")}
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    its, sps = bench("default", default, cfg["batch_size"], cfg["sample_batch"], device, args.seconds)
    if not args.skip_paper:
        bench("paper", PAPER, 512, 1000 if device.type == "cuda" else 100, device, args.seconds)

    cells = len(cfg["d_values"]) * len(cfg["N_over_d_intr"]) * len(cfg["seeds"])
    per_cell = cfg["iterations"] / its + cfg["num_generated"] / sps
    print(f"default grid: {cells} cells x ({cfg['iterations']} steps + {cfg['num_generated']} samples) = "
          f"{per_cell:.0f} s per cell, {cells * per_cell / 60:.1f} min of compute "
          f"(~{cells * per_cell / 120:.1f} min wall as 2 one-thread jobs, plus ~5 s start-up per job)")


if __name__ == "__main__":
    main()
