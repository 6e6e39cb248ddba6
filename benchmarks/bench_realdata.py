"""Speed of the real-data part (Table 1, Fig 1, Fig 4 right, FID) on this machine, and the wall time it implies for the
default run (config.yaml): data preparation, classifier, U-Net training (reference and GL grid),
Heun sampling of the U-Net / Gaussian / MoLRG, per-class estimation, FID features. Printed, never
asserted. Run on a quiet machine:

    .venv/bin/python benchmarks/bench_realdata.py [--threads 2] [--quick]

Training speed is measured for `threads` torch threads (Snakemake runs the training jobs with
realdata.resources.train.threads each, two side by side on 2 cores).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from molrg.datasets import load_and_prepare  # noqa: E402
from molrg.descriptors import ClassifierNet, train_classifier  # noqa: E402
from molrg.estimate import Float64Denoiser, class_molrg, gaussian_model  # noqa: E402
from molrg.fid import array_features, classifier_extractor, fid_from_features  # noqa: E402
from molrg.precond import loss_fn  # noqa: E402
from molrg.sampler import generate  # noqa: E402
from molrg.checkpoint import build_denoiser  # noqa: E402


def timed(fn, repeat=3):
    """Median wall time of `repeat` calls (the first result is returned too)."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        r = fn()
        times.append(time.perf_counter() - t)
        out = r if out is None else out
    return statistics.median(times), out


def unet_its(u: dict, shape, steps=30) -> float:
    net_kwargs = dict(img_resolution=shape[-1], in_channels=shape[0], width=u["width"],
                      channel_mult=tuple(u["channel_mult"]), num_blocks=u["num_blocks"],
                      attn_resolutions=tuple(u["attn_resolutions"]), dropout=u["dropout"])
    D = build_denoiser(u["precond"], net_kwargs)
    opt = torch.optim.Adam(D.parameters(), lr=u["lr"])
    f = loss_fn(u["precond"])
    x = torch.randn(u["batch_size"], *shape)

    def step():
        loss = f(D, x)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - t), D.eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: realdata.resources.train.threads)")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = ap.parse_args()
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    rd, data = cfg["realdata"], cfg["datasets"]
    threads = args.threads or rd["resources"]["train"]["threads"]
    torch.set_num_threads(threads)
    rep = 1 if args.quick else 3
    rows = []

    def row(what, seconds, note=""):
        rows.append((what, seconds, note))
        print(f"{what:<52} {seconds:9.2f} s  {note}", flush=True)

    print(f"torch {torch.__version__}, {threads} thread(s); datasets {rd['table1_datasets']} / GL {rd['gl_datasets']}")
    name = rd["table1_datasets"][0]
    t, (train, held, _) = timed(lambda: load_and_prepare(name, data[name], 0), 1)
    row(f"prepare {name} ({len(train.x)} train, {train.x.shape[1:]})", t)
    shape = tuple(train.x.shape[1:])
    X = train.x.reshape(len(train.x), -1)

    m = rd["molrg"][name]
    t, molrg = timed(lambda: class_molrg(X, train.y, m["d"]), rep)
    row(f"per-class MoLRG K={m['K']} d={m['d']} n={X.shape[1]}", t)
    t, gauss = timed(lambda: gaussian_model(X), rep)
    row(f"Gaussian n={X.shape[1]}", t)
    big = np.random.default_rng(0).standard_normal((5000, 3072)).astype(np.float32)
    t, _ = timed(lambda: class_molrg(big, np.repeat(np.arange(10), 500), 20), 1)
    row("per-class MoLRG at n=3072 (5000 images, K=10, d=20)", t, "CIFAR-size check: thin SVD per class")

    c = rd["descriptor"]["classifier"]
    t, net = timed(lambda: train_classifier(train.x, train.y, 10, 1, c["batch_size"], c["lr"], 0, c["width"],
                                            c["feature_dim"]), 1)
    row("classifier, 1 epoch", t, f"x {c['epochs']} epochs per dataset")

    its_ref, D_ref = unet_its(rd["unet"], shape)
    its_gl, D_gl = unet_its(rd["gl_unet"], shape)
    row("reference U-Net (EDM) training step", 1 / its_ref, f"{its_ref:.2f} it/s, batch {rd['unet']['batch_size']}")
    row("GL U-Net (VP) training step", 1 / its_gl, f"{its_gl:.2f} it/s, batch {rd['gl_unet']['batch_size']}")

    s = rd["sampler"]
    M = rd["table1"]["num_samples"]
    heun = dict(num_steps=s["num_steps"], sigma_min=s["sigma_min"], sigma_max=s["sigma_max"], rho=s["rho"])
    n_s = min(M, 128)
    t_unet, _ = timed(lambda: generate(D_ref, n_s, shape, 0, batch_size=n_s, **heun), rep)
    row(f"Heun {s['num_steps']} steps, U-Net, {n_s} samples", t_unet)
    t_mol, _ = timed(lambda: generate(Float64Denoiser(molrg), n_s, shape, 0, batch_size=n_s, **heun), rep)
    row(f"Heun {s['num_steps']} steps, MoLRG, {n_s} samples", t_mol)
    t_gau, _ = timed(lambda: generate(Float64Denoiser(gauss), n_s, shape, 0, batch_size=n_s, **heun), rep)
    row(f"Heun {s['num_steps']} steps, Gaussian, {n_s} samples", t_gau)

    ext = classifier_extractor(ClassifierNet(shape[0], 10, c["width"], c["feature_dim"]).eval())
    t_feat, f1 = timed(lambda: array_features(train.x[:1000], ext, "classifier"), rep)
    row("FID features (clean-fid folder path), 1000 images", t_feat)
    t, _ = timed(lambda: fid_from_features(f1, f1[::-1]), rep)
    row(f"Frechet distance at {c['feature_dim']} dims", t)

    # --- the default run of this part, estimated (2 cores: jobs at `threads` threads side by side)
    n_table1, n_gl = len(rd["table1_datasets"]), len(rd["gl_datasets"])
    cells = len(rd["gl"]["N"]) * rd["gl"]["repeats"] * n_gl
    parallel = max(1, 2 // threads)
    train_s = (n_table1 * rd["unet"]["iterations"] / its_ref + cells * rd["gl_unet"]["iterations"] / its_gl) / parallel
    sample_s = n_table1 * M / n_s * (t_unet + t_mol + t_gau) + cells * rd["gl"]["num_samples"] / n_s * t_unet
    t_clf = next(r[1] for r in rows if r[0].startswith("classifier"))
    clf_s = len(set(rd["table1_datasets"] + rd["gl_datasets"])) * c["epochs"] * t_clf
    print(f"\nestimated default run of this part: training {train_s / 60:.1f} min ({parallel} jobs at once), "
          f"sampling {sample_s / 60:.1f} min, classifiers {clf_s / 60:.1f} min, "
          f"total about {(train_s + sample_s / parallel + clf_s / parallel) / 60 + 0.5:.1f} min "
          "(+ ~0.5 min of data preparation, estimation, FID and tables)")


if __name__ == "__main__":
    main()
