"""Speed of the Jacobian analysis (Fig 7, Table 2, Fig 5): one full Jacobian of a DDPM++ U-Net denoiser at
n = 784 (1 x 28 x 28) and n = 3072 (3 x 32 x 32) by molrg.jacobian.jacobian (vmapped
reverse-mode products in chunks), next to a naive loop of one backward pass per output row
(timed on a few rows and extrapolated), its SVD and rank; the subspace iteration used for editing;
the closed-form Gaussian (d = n) and MoLRG denoisers' Jacobians at the same n, exact (Tweedie,
molrg.mixture.posterior_mean_jacobian) against autodiff; and the wall time the default config's
Jacobian/editing part implies. Printed, never asserted.

    .venv/bin/python benchmarks/bench_jacobian.py [--threads 2] [--width 32] [--paper]
        [--sizes 784,3072] [--chunks 64,256] [--skip-naive] [--skip-edit] [--skip-closed-form]
        [--skip-default]

--width: U-Net model channels for the two sizes (default 32, channel_mult [1, 2, 2], 1 block);
--paper: the paper's EDM CIFAR-10 DDPM++ (width 128, [2, 2, 2], 4 blocks, attention at 16):
         slow on a CPU (minutes per Jacobian at n = 3072), meant for a GPU (--device cuda).
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from molrg.editing import ddim_invert, ddim_sigmas, leading_singular_vectors  # noqa: E402
from molrg.estimate import class_molrg, gaussian_model  # noqa: E402
from molrg.jacobian import jacobian, numerical_rank, singular_values  # noqa: E402
from molrg.mixture import MoLRGDenoiser  # noqa: E402
from molrg.checkpoint import build_denoiser  # noqa: E402


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device, repeat=1):
    best, out = math.inf, None
    for _ in range(repeat):
        sync(device)
        t = time.perf_counter()
        out = fn()
        sync(device)
        best = min(best, time.perf_counter() - t)
    return best, out


def unet(res, channels, args, device):
    if args.paper:
        net = dict(width=128, channel_mult=(2, 2, 2), num_blocks=4, attn_resolutions=(16,), dropout=0.13)
    else:
        net = dict(width=args.width, channel_mult=(1, 2, 2), num_blocks=1, attn_resolutions=(), dropout=0.13)
    net.update(img_resolution=res, in_channels=channels)
    D = build_denoiser("edm", net, {"sigma_data": 0.5}).to(device).eval().requires_grad_(False)
    # random weights are as costly to differentiate as trained ones; break the zero-init residual
    # branches so that the Jacobian is not c_skip * I
    torch.manual_seed(0)
    with torch.no_grad():
        for p in D.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return D, net


def naive_rows(D, x, sigma, rows):
    """The loop the issue forbids: one backward pass per output coordinate (here only `rows`)."""
    x = x.detach().requires_grad_(True)
    out = D(x, sigma).reshape(-1)
    J = []
    for i in range(rows):
        (g,) = torch.autograd.grad(out[i], x, retain_graph=True)
        J.append(g.reshape(-1))
    return torch.stack(J)


def bench_size(res, channels, args, device):
    D, net = unet(res, channels, args, device)
    n = channels * res * res
    x = 28.37 * torch.randn(1, channels, res, res, device=device)
    params = sum(p.numel() for p in D.parameters())
    print(f"\n== n = {n} ({channels} x {res} x {res}), DDPM++ width {net['width']} {list(net['channel_mult'])} "
          f"x{net['num_blocks']} blocks, {params / 1e6:.2f} M parameters, device {device}")
    fwd, _ = timed(lambda: D(x, 28.37), device, repeat=3)
    print(f"one forward pass (batch 1): {fwd * 1e3:.1f} ms")
    timed(lambda: jacobian(D, x, 28.37, chunk_size=64), device)  # warm-up
    for chunk in sorted({min(int(c), n) for c in args.chunks.split(",")}):
        t, J = timed(lambda: jacobian(D, x, 28.37, chunk_size=chunk), device)
        print(f"full Jacobian (vmapped vjp, chunk {chunk:4d}): {t:7.2f} s  = {t / n * 1e3:.2f} ms per row")
    t_svd, s = timed(lambda: singular_values(J), device)
    print(f"SVD (float64) {t_svd:.2f} s; numerical rank (eta 0.99): {int(numerical_rank(s)[0])} of {n}")
    rows = 32
    if not args.skip_naive:
        t_naive, Jn = timed(lambda: naive_rows(D, x, 28.37, rows), device)
        err = (Jn - J[0, :rows]).abs().max().item()
        print(f"naive loop, {rows} backward passes: {t_naive:.2f} s -> {t_naive / rows * n:.1f} s extrapolated "
              f"to n rows (max |difference| to the vmapped rows {err:.1e})")
    if not args.skip_edit:
        sig = ddim_sigmas(0.7, 70)
        xt = ddim_invert(D, x / 28.37 * 0.5, sig)
        leading_singular_vectors(D, xt, float(sig[-1]), k=3, iters=1)  # warm-up (first jvp traces)
        t_v, (V, S, used) = timed(lambda: leading_singular_vectors(D, xt, float(sig[-1]), k=3, iters=30,
                                                                   generator=torch.Generator().manual_seed(0)), device)
        print(f"3 leading singular vectors by subspace iteration: {t_v:.2f} s ({used} iterations, "
              f"{t_v / max(used, 1) * 1e3:.0f} ms per iteration)")
    return J


def bench_closed_form(n, device, chunk=512, K=10, d=20, N=256):
    """The closed-form denoisers of jacobian_rank's `others` (float64), fitted on N random points:
    the full-rank Gaussian (K = 1, d = n) and a K-class MoLRG of rank d. Exact Tweedie Jacobian
    against the autodiff path at the paper preset's chunk size, their largest difference and the
    rank both give."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(N, n, generator=g, dtype=torch.float64) @ torch.randn(n, n, generator=g, dtype=torch.float64) / n**0.5
    labels = torch.arange(N) % K
    x = 28.37 * torch.randn(1, n, generator=g, dtype=torch.float64, device=device)
    print(f"\n== closed-form denoisers at n = {n} (float64, fitted on {N} random points)")
    for name, model in (("gaussian (K=1, d=n)", gaussian_model(X)), (f"molrg (K={K}, d={d})", class_molrg(X, labels, d))):
        D = MoLRGDenoiser(model).to(device)
        t_exact, J = timed(lambda: jacobian(D, x, 28.37), device)
        t_auto, Ja = timed(lambda: jacobian(D, x, 28.37, chunk_size=chunk, exact=False), device)
        t_eig, s = timed(lambda: singular_values(J), device)
        err = ((J - Ja).abs().max() / J.abs().max()).item()
        print(f"{name:22s} exact {t_exact:6.2f} s | autodiff (chunk {chunk}) {t_auto:6.2f} s | ratio "
              f"{t_auto / t_exact:5.1f}x | max rel. difference {err:.1e} | eigvalsh {t_eig:.2f} s, rank {int(numerical_rank(s)[0])}")


def default_budget(device):
    """The Jacobians the embedded default asks for (config.yaml) and one of them with the default's
    reference U-Net architecture (realdata.unet), untrained."""
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    jac = cfg["jacobian"]
    steps = jac["num_steps"] if jac["steps"] is None else len(jac["steps"])
    count = len(jac["datasets"]) * jac["num_noises"] * steps
    name = jac["datasets"][0]
    ds = cfg["datasets"][name]
    C, res = ds["channels"], ds["resolution"]
    u = cfg["realdata"]["unet"]
    net = {k: u[k] for k in ("width", "channel_mult", "num_blocks", "attn_resolutions", "dropout")}
    D = build_denoiser(u["precond"], {**net, "img_resolution": res, "in_channels": C}).to(device).eval().requires_grad_(False)
    x = 28.37 * torch.randn(1, C, res, res, device=device)
    jacobian(D, x, 28.37, jac["chunk_size"])
    for chunk in (64, 256):
        tc, _ = timed(lambda: jacobian(D, x, 28.37, chunk), device, repeat=3)
        print(f"default reference U-Net at n = {C * res * res}, chunk {chunk}: {tc:.3f} s per Jacobian")
    t, _ = timed(lambda: jacobian(D, x, 28.37, jac["chunk_size"]), device, repeat=3)
    print(f"\ndefault config: {count} Jacobians ({len(jac['datasets'])} datasets x {jac['num_noises']} noises x "
          f"{steps} steps) at n = {C * res * res}, plus {jac['molrg_check']['num_noises']} closed-form MoLRG "
          f"trajectories (n = {jac['molrg_check']['n']}) and one edit run")
    print(f"one Jacobian of the default reference U-Net ({name}, width {net['width']} {net['channel_mult']}): "
          f"{t:.3f} s -> {count * t:.0f} s of Jacobians in all (the jobs run two side by side on 2 cores)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--paper", action="store_true")
    ap.add_argument("--chunks", default="64,256", help="chunk sizes to time (comma-separated)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--sizes", default="784,3072", help="n values to time: 784 (1x28x28) and/or 3072 (3x32x32)")
    ap.add_argument("--skip-naive", action="store_true", help="skip the naive per-row loop")
    ap.add_argument("--skip-edit", action="store_true", help="skip the subspace iteration")
    ap.add_argument("--skip-closed-form", action="store_true", help="skip the closed-form denoisers")
    ap.add_argument("--skip-default", action="store_true", help="skip the default-config estimate")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {args.threads} threads")
    shapes = {784: (28, 1), 3072: (32, 3)}
    for n in (int(v) for v in args.sizes.split(",")):
        bench_size(*shapes[n], args, device)
        if not args.skip_closed_form:
            bench_closed_form(n, device)
    if not args.skip_default:
        default_budget(device)


if __name__ == "__main__":
    main()
