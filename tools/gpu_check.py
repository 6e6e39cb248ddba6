#!/usr/bin/env python
"""GPU check of the paper-scale pipeline: one command, one summary table.

    .venv/bin/python tools/gpu_check.py                 # on a machine with a CUDA GPU (< 8 min)
    .venv/bin/python tools/gpu_check.py --cpu-smoke     # tiny sizes on the CPU (tests/test_gpu_check.py)

What it runs, in order (each part has a time budget; a part that fails prints its error in the table
and the others still run):
  1. tiny   the tiny test config end to end (`snakemake`, tests/config/tiny.yaml + device: cuda) in a
            scratch folder; --cpu-smoke runs one MoLRG training cell of it on the CPU instead.
  2. repro  training jobs in child processes (the paper-width MoLRG U-Net, dropout on): two identical
            uninterrupted runs; one killed (SIGKILL) after its first checkpoint and resumed; the same
            again with deterministic settings (torch.use_deterministic_algorithms(True),
            cudnn.deterministic = True, cudnn.benchmark = False, CUBLAS_WORKSPACE_CONFIG=:4096:8).
            Compares final weights and generated samples: bitwise equal or the max |difference|.
  3. speed  training steps/s and images/s (molrg.training.train_denoiser, the whole step: loss,
            backward, nan guard, Adam, EMA) of the paper-width MoLRG U-Net and of the paper's two
            real-image U-Nets (realdata.unet, EDM; realdata.gl_unet, VP) at batch 512 and 128; the
            stacked trainer (molrg.stacked) with several cells per process, plus its bf16 autocast
            and torch.compile options; the Heun sampler's throughput; one Jacobian at n = 3072.
  4. hours  projected GPU hours of each paper figure family: presets/paper.yaml's counts (cells,
            iterations, samples, noises) divided by the rates of part 3.
TF32 stays off, as in training (the authors' code disables it, spec §9.6).
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
import yaml  # noqa: E402

ROWS: list[tuple[str, str, str, str]] = []


def row(part: str, item: str, value, note: str = "") -> None:
    ROWS.append((part, item, str(value), note))
    print(f"[{part}] {item}: {value} {note}", flush=True)


def paper_config() -> dict:
    from snakemake.utils import update_config

    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    update_config(cfg, yaml.safe_load((REPO / "presets" / "paper.yaml").read_text()))
    return cfg


def net_of(section: dict) -> dict:
    return {k: (tuple(section[k]) if isinstance(section[k], list) else section[k])
            for k in ("width", "channel_mult", "num_blocks", "attn_resolutions", "dropout")}


def sizes(smoke: bool, pc: dict) -> dict:
    """What each part measures: the paper's networks on a GPU, tiny stand-ins with --cpu-smoke."""
    if smoke:
        small = {"width": 8, "channel_mult": (1, 1), "num_blocks": 1, "attn_resolutions": (), "dropout": 0.1}
        return {"molrg_net": small, "molrg_shape": (3, 4, 4), "real_net": {**small, "channel_mult": (1, 2)},
                "gl_net": {**small, "channel_mult": (1, 2)}, "real_shape": (3, 8, 8), "batches": (16, 8),
                "seconds": 0.3, "repro_iters": 6, "repro_ckpt": 3, "repro_batch": 8, "stacks": (1, 3),
                "sample_num": 16, "sample_batch": 16, "jac_chunk": 64, "compile": False}
    return {"molrg_net": net_of(pc["molrg_unet"]), "molrg_shape": (3, pc["molrg_unet"]["resolution"], pc["molrg_unet"]["resolution"]),
            "real_net": net_of(pc["realdata"]["unet"]), "gl_net": net_of(pc["realdata"]["gl_unet"]),
            "real_shape": (3, 32, 32), "batches": (512, 128), "seconds": 5.0, "repro_iters": 30,
            "repro_ckpt": 10, "repro_batch": 512, "stacks": (1, 8, 32), "sample_num": 2000,
            "sample_batch": 1000, "jac_chunk": int(pc["jacobian"]["chunk_size"]), "compile": True}


def sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


# ------------------------------------------------------------------------------------------------
# 1. the tiny config end to end
# ------------------------------------------------------------------------------------------------
def part_tiny(args, device: str) -> None:
    work = Path(args.workdir) / "tiny"
    work.mkdir(parents=True, exist_ok=True)
    overlay = work / "device.yaml"
    overlay.write_text(f"device: {device}\n")
    cmd = [str(Path(sys.executable).parent / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(work),
           "--cores", str(args.cores), "--quiet", "rules"]
    if args.cpu_smoke:  # one MoLRG cell of the tiny DAG (its dataset + training) on the CPU: the first
        # cell of tests/config/tiny.yaml (d = 1, N = 2); the whole tiny DAG runs elsewhere in the suite
        cmd += ["--until", "results/molrg_unet/models/d1_N2_seed0/model.pt"]
    cmd += ["--configfile", str(REPO / "tests" / "config" / "tiny.yaml"), str(overlay)]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    t = time.time()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.tiny_timeout, env=env)
        ok, tail = proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    except subprocess.TimeoutExpired:
        ok, tail = False, f"timed out after {args.tiny_timeout} s"
    models = sorted(work.glob("results/**/model.pt"))
    first_error = next((ln.strip() for ln in tail.splitlines() if "Error" in ln), "")
    row("tiny", "tiny config end to end" if not args.cpu_smoke else "tiny config, one MoLRG training cell",
        "ok" if ok else "FAILED", f"{time.time() - t:.0f} s, {len(models)} model.pt, device {device}"
        + ("" if ok else f"; {first_error[:150]} (log: stderr)"))
    if not ok:
        print(tail, file=sys.stderr)


# ------------------------------------------------------------------------------------------------
# 2. resume after a kill, and two identical runs
# ------------------------------------------------------------------------------------------------
def child_train(args) -> None:
    """Runs in a child process: one training job (optionally hanging after its first checkpoint,
    so that the parent can SIGKILL it there), then a few samples from the final model."""
    from molrg.sampler import generate
    from molrg.checkpoint import load_denoiser
    from molrg.training import TrainConfig, train_denoiser

    if args.deterministic:
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    s = sizes(args.cpu_smoke, paper_config())
    out = Path(args.child_train)
    gen = torch.Generator().manual_seed(123)
    data = torch.randn(64, *s["molrg_shape"], generator=gen) * 0.4
    cfg = TrainConfig(iterations=s["repro_iters"], batch_size=s["repro_batch"], checkpoint_every=s["repro_ckpt"],
                      log_every=s["repro_iters"], seed=7)

    def hang(step):
        if args.hang and step == cfg.checkpoint_every:
            (out / "READY").write_text("checkpoint written\n")
            time.sleep(3600)

    train_denoiser(data, cfg, s["molrg_net"], out / "model.pt", device=args.device, callback=hang)
    model = load_denoiser(out / "model.pt", args.device)
    torch.save(generate(model, 32, s["molrg_shape"], seed=5, batch_size=32, device=args.device, num_steps=18),
               out / "samples.pt")


def _child(args, out: Path, deterministic: bool, hang: bool) -> subprocess.Popen:
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, __file__, "--child-train", str(out), "--device", args.device_name]
    cmd += ["--deterministic"] * deterministic + ["--hang"] * hang + ["--cpu-smoke"] * args.cpu_smoke
    env = dict(os.environ)
    if deterministic:
        env["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(p: subprocess.Popen) -> None:
    text, _ = p.communicate(timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"training child failed:\n{text[-1500:]}")


def _kill_at_first_checkpoint(p: subprocess.Popen, out: Path) -> None:
    t = time.time()
    while not (out / "READY").exists():
        if p.poll() is not None:
            raise RuntimeError(f"child ended before its first checkpoint:\n{p.stdout.read()[-1500:]}")
        if time.time() - t > 300:
            p.kill()
            raise RuntimeError("no checkpoint within 300 s")
        time.sleep(0.2)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    if (out / "model.pt").exists() or not (out / "checkpoint.pt").exists():
        raise RuntimeError("after the kill: a model.pt exists or the checkpoint is missing")


def _compare(a: Path, b: Path) -> str:
    wa = torch.load(a / "model.pt", weights_only=True)["state_dict"]
    wb = torch.load(b / "model.pt", weights_only=True)["state_dict"]
    sa, sb = torch.load(a / "samples.pt", weights_only=True), torch.load(b / "samples.pt", weights_only=True)
    dw = max((wa[k].float() - wb[k].float()).abs().max().item() for k in wa)
    ds = (sa - sb).abs().max().item()
    eq_w = all(torch.equal(wa[k], wb[k]) for k in wa)
    return (f"weights {'bitwise equal' if eq_w else f'max|diff| {dw:.2e}'}; "
            f"samples {'bitwise equal' if torch.equal(sa, sb) else f'max|diff| {ds:.2e}'}")


def part_repro(args) -> None:
    base = Path(args.workdir) / "repro"
    for det in (False, True):
        mode = "deterministic" if det else "default"
        try:
            a, b, k = base / f"{mode}_a", base / f"{mode}_b", base / f"{mode}_killed"
            # the three runs are separate processes with their own seeds and folders, so they run
            # side by side (on a GPU they share it; the kernels they pick do not depend on that)
            pa, pb, pk = _child(args, a, det, hang=False), _child(args, b, det, hang=False), _child(args, k, det, hang=True)
            try:
                _kill_at_first_checkpoint(pk, k)
                resumed = _child(args, k, det, hang=False)
                for p in (pa, pb, resumed):
                    _finish(p)
            finally:
                for p in (pa, pb, pk):
                    if p.poll() is None:
                        p.kill()
            row("repro", f"two identical runs ({mode})", _compare(a, b))
            row("repro", f"killed after 1st checkpoint + resumed vs uninterrupted ({mode})", _compare(a, k))
        except Exception as e:  # noqa: BLE001 - reported in the table
            row("repro", f"runs ({mode})", "ERROR", str(e).splitlines()[0][:200])


# ------------------------------------------------------------------------------------------------
# 3. speed
# ------------------------------------------------------------------------------------------------
def _train_rate(net, shape, batch, precond, device, seconds) -> tuple[float, float]:
    """steps/s of molrg.training.train_denoiser (calibrated so that the timed run lasts ~seconds)."""
    from molrg.training import TrainConfig, train_denoiser

    data = torch.randn(max(batch, 256), *shape, generator=torch.Generator().manual_seed(0)) * 0.5
    with tempfile.TemporaryDirectory() as tmp:
        def run(iters):
            cfg = TrainConfig(iterations=iters, batch_size=batch, precond=precond, checkpoint_every=10**9,
                              log_every=10**9)
            return train_denoiser(data, cfg, net, Path(tmp) / "m.pt", device=device)["seconds"]

        first = run(3)  # warm-up (CUDA context, cuDNN) and calibration
        iters = max(3, min(2000, int(seconds / max(first / 3, 1e-6))))
        sec = run(iters)
    return iters / sec, iters * batch / sec


def _stack_rate(net, shape, batch, device, seconds, n_cells, **accel) -> float:
    """cell-steps/s of molrg.stacked.train_stack with n_cells cells."""
    from molrg.stacked import StackCell, train_stack
    from molrg.training import TrainConfig

    g = torch.Generator().manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        def run(iters):
            cells = [StackCell(f"c{i}", torch.randn(128, *shape, generator=g) * 0.4, i, Path(tmp) / f"m{i}.pt")
                     for i in range(n_cells)]
            cfg = TrainConfig(iterations=iters, batch_size=batch, checkpoint_every=10**9, log_every=10**9)
            return train_stack(cells, cfg, net, checkpoint_path=Path(tmp) / "ck.pt", device=device, **accel)[0]["seconds"]

        first = run(3)
        iters = max(3, min(1000, int(seconds / max(first / 3, 1e-6))))
        sec = run(iters)
    return n_cells * iters / sec


def _sample_rate(net, shape, precond, device, num, batch) -> float:
    """images/s of the 18-step Heun sampler (35 network evaluations per image)."""
    from molrg.sampler import generate
    from molrg.checkpoint import build_denoiser

    full = {**net, "img_resolution": shape[1], "in_channels": shape[0]}
    model = build_denoiser(precond, full, {"sigma_data": 0.5} if precond == "edm" else {}).to(device).eval()
    generate(model, min(batch, num), shape, seed=0, batch_size=batch, device=device, num_steps=2)  # warm-up
    sync(device)
    t = time.time()
    generate(model, num, shape, seed=0, batch_size=batch, device=device, num_steps=18)
    sync(device)
    return num / (time.time() - t)


def _jacobian_seconds(net, shape, device, chunk) -> tuple[float, int]:
    from molrg.jacobian import jacobian, numerical_rank, singular_values
    from molrg.checkpoint import build_denoiser

    full = {**net, "img_resolution": shape[1], "in_channels": shape[0]}
    model = build_denoiser("edm", full, {"sigma_data": 0.5}).to(device).eval().requires_grad_(False)
    x = torch.randn(1, *shape, generator=torch.Generator().manual_seed(0)).to(device) * 28.37
    jacobian(model, x[:, :, :8, :8] if shape[1] > 8 else x, 28.37, chunk_size=chunk)  # warm-up
    sync(device)
    t = time.time()
    J = jacobian(model, x, 28.37, chunk_size=chunk)
    rank = int(numerical_rank(singular_values(J[0]), 0.99))
    sync(device)
    return time.time() - t, rank


def part_speed(args, s: dict, device: str) -> dict:
    rates: dict = {}
    sec = s["seconds"]

    def measure(key, fn, label, fmt):
        try:
            rates[key] = fn()
            row("speed", label, fmt(rates[key]))
        except Exception as e:  # noqa: BLE001
            row("speed", label, "ERROR", f"{type(e).__name__}: {str(e).splitlines()[0][:160]}")
            traceback.print_exc()

    for b in s["batches"]:
        measure(f"molrg_{b}", lambda b=b: _train_rate(s["molrg_net"], s["molrg_shape"], b, "edm", device, sec),
                f"train MoLRG U-Net {s['molrg_shape']} width {s['molrg_net']['width']}, batch {b}",
                lambda r: f"{r[0]:.1f} steps/s, {r[1]:.0f} img/s")
    for name, net, precond in (("real", s["real_net"], "edm"), ("gl", s["gl_net"], "vp")):
        for b in s["batches"]:
            measure(f"{name}_{b}", lambda b=b, net=net, precond=precond: _train_rate(net, s["real_shape"], b, precond, device, sec),
                    f"train {'realdata.unet (EDM)' if name == 'real' else 'realdata.gl_unet (VP)'} "
                    f"{s['real_shape']} width {net['width']}, batch {b}", lambda r: f"{r[0]:.2f} steps/s, {r[1]:.0f} img/s")
    b = s["batches"][0]
    for n in s["stacks"]:
        measure(f"stack_{n}", lambda n=n: _stack_rate(s["molrg_net"], s["molrg_shape"], b, device, sec, n),
                f"stacked MoLRG cells, {n} per process, batch {b}", lambda r: f"{r:.1f} cell-steps/s")
    n = s["stacks"][-1]
    measure("stack_bf16", lambda: _stack_rate(s["molrg_net"], s["molrg_shape"], b, device, sec, n, autocast_bf16=True),
            f"stacked, {n} cells, accel.autocast_bf16", lambda r: f"{r:.1f} cell-steps/s")
    if s["compile"]:
        measure("stack_compile", lambda: _stack_rate(s["molrg_net"], s["molrg_shape"], b, device, sec, n, compile=True),
                f"stacked, {n} cells, accel.compile (incl. compile time)", lambda r: f"{r:.1f} cell-steps/s")
    else:
        row("speed", "stacked, accel.compile", "skipped", "--cpu-smoke: inductor's C++ build takes minutes on a CPU")
    if "molrg_" + str(b) in rates and f"stack_{n}" in rates:
        row("speed", f"stack of {n} vs one process per cell", f"{rates[f'stack_{n}'] / rates['molrg_' + str(b)][0]:.2f}x",
            "target: >= 1.3x")
    measure("sample_molrg", lambda: _sample_rate(s["molrg_net"], s["molrg_shape"], "edm", device, s["sample_num"] * 5,
                                                  s["sample_batch"] * 5),
            "Heun sampler, MoLRG U-Net, 18 steps", lambda r: f"{r:.0f} img/s")
    measure("sample_real", lambda: _sample_rate(s["real_net"], s["real_shape"], "edm", device, s["sample_num"], s["sample_batch"]),
            "Heun sampler, realdata.unet, 18 steps", lambda r: f"{r:.0f} img/s")
    measure("sample_gl", lambda: _sample_rate(s["gl_net"], s["real_shape"], "vp", device, s["sample_num"], s["sample_batch"]),
            "Heun sampler, realdata.gl_unet, 18 steps", lambda r: f"{r:.0f} img/s")
    n_jac = math.prod(s["real_shape"])
    measure("jacobian", lambda: _jacobian_seconds(s["real_net"], s["real_shape"], device, s["jac_chunk"]),
            f"one Jacobian n = {n_jac}, realdata.unet (+ SVD, rank)", lambda r: f"{r[0]:.2f} s (rank {r[1]})")
    if torch.device(device).type == "cuda":
        row("speed", "peak GPU memory", f"{torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")
    return rates


# ------------------------------------------------------------------------------------------------
# 4. projected GPU hours of the paper preset
# ------------------------------------------------------------------------------------------------
def part_hours(pc: dict, s: dict, rates: dict) -> None:
    mu, rd, jac, ed = pc["molrg_unet"], pc["realdata"], pc["jacobian"], pc["editing"]
    big, small = s["batches"]
    nfe = lambda steps: 2 * steps - 1  # noqa: E731

    def h(sec):
        return f"{sec / 3600:.1f} GPU h"

    def need(*keys):
        return all(k in rates for k in keys)

    from molrg.cells import molrg_cells

    n_cells = len(molrg_cells(mu))
    if need(f"molrg_{big}", "sample_molrg"):
        rate = rates[f"molrg_{big}"][0] * (big / mu["batch_size"])  # steps/s scale ~ 1/batch for small images
        train = n_cells * mu["iterations"] / rate
        sample = n_cells * mu["num_generated"] / rates["sample_molrg"]
        row("hours", f"Fig 4 left: {n_cells} cells x {mu['iterations']} steps + {mu['num_generated']} samples",
            h(train + sample), f"one process per cell (train {h(train)})")
        best = max((k for k in rates if k.startswith("stack_") and k[6:].isdigit()), key=lambda k: rates[k], default=None)
        if best:
            st = n_cells * mu["iterations"] / (rates[best] * big / mu["batch_size"])
            row("hours", f"Fig 4 left, stacked ({best[6:]} cells per process)", h(st + sample),
                "target: <= 2 GPU h")
    ref = sorted(set(rd["table1_datasets"]) | set(jac["datasets"]) | ({ed["dataset"]} if ed.get("checkpoint") is None else set()))
    if need(f"real_{big}", "sample_real"):
        rate = rates[f"real_{big}"][0] * (big / rd["unet"]["batch_size"])
        train = len(ref) * rd["unet"]["iterations"] / rate
        sample = len(rd["table1_datasets"]) * rd["table1"]["num_samples"] / rates["sample_real"]
        row("hours", f"reference U-Nets ({len(ref)}: {', '.join(ref)}) x {rd['unet']['iterations']} steps + Table 1 samples",
            h(train + sample), "Table 1, Fig 1, FID, Fig 7, Fig 5 share them; 32x32 assumed for all")
    if need(f"gl_{small}", "sample_gl"):
        rate = rates[f"gl_{small}"][0] * (small / rd["gl_unet"]["batch_size"])
        n_gl = len(rd["gl_datasets"]) * len(rd["gl"]["N"]) * rd["gl"]["repeats"]
        train = n_gl * rd["gl_unet"]["iterations"] / rate
        sample = n_gl * rd["gl"]["num_samples"] / rates["sample_gl"]
        row("hours", f"Fig 4 right: {n_gl} U-Nets x {rd['gl_unet']['iterations']} steps + {rd['gl']['num_samples']} samples",
            h(train + sample), "SSCD embedding not included (no weights here)")
    if need("jacobian"):
        n_j = len(jac["datasets"]) * jac["num_noises"] * (jac["num_steps"] if jac["steps"] is None else len(jac["steps"]))
        row("hours", f"Fig 7 / Table 2: {n_j} Jacobians", h(n_j * rates["jacobian"][0]))
    if need("sample_real"):
        # per image: DDIM inversion + the edits (strengths x (singular + random directions), from edit_t
        # down) + subspace iterations, counted in network evaluations of the reference U-Net at the
        # sampler's batch rate (rough)
        n_img = len(ed["image_indices"]) if ed.get("image_indices") else ed.get("num_images", 1)
        n_dir = ed["num_vectors"] + ed.get("num_random", 1)
        evals = n_img * (ed["ddim_steps"] * (1 + len(ed["strengths"]) * n_dir * ed["edit_t"])
                         + 3 * ed["power_iters"] * ed["num_vectors"])
        row("hours", "Fig 5 editing (rough, network evaluations)", h(evals / (rates["sample_real"] * nfe(18))),
            f"{evals:.0f} evaluations")


def print_table() -> None:
    widths = [max(len(r[i]) for r in ROWS + [("part", "check", "result", "note")]) for i in range(4)]
    line = "+".join("-" * (w + 2) for w in widths)
    print("\n" + "=" * len(line) + "\nGPU CHECK SUMMARY\n" + line)
    for r in [("part", "check", "result", "note")] + ROWS:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths)))
    print(line, flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cpu-smoke", action="store_true", help="tiny sizes on the CPU (what the test runs)")
    ap.add_argument("--workdir", default=None, help="scratch folder (default: a new temporary one)")
    ap.add_argument("--parts", default="tiny,repro,speed,hours", help="comma-separated subset of the parts")
    ap.add_argument("--cores", type=int, default=8, help="snakemake --cores of the tiny run")
    ap.add_argument("--tiny-timeout", type=int, default=200, help="seconds allowed for the tiny run")
    # internal: the training child of part 2
    ap.add_argument("--child-train", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--device", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--deterministic", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--hang", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child_train:
        child_train(args)
        return 0
    if not args.cpu_smoke and not torch.cuda.is_available():
        print("no CUDA device visible: run on a GPU machine, or use --cpu-smoke for the CPU smoke run", file=sys.stderr)
        return 2
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    args.device_name = "cpu" if args.cpu_smoke else "cuda"
    args.workdir = args.workdir or tempfile.mkdtemp(prefix="gpu_check_")
    parts = set(args.parts.split(","))
    pc = paper_config()
    s = sizes(args.cpu_smoke, pc)
    t0 = time.time()
    dev = "CPU (smoke, tiny sizes)" if args.cpu_smoke else torch.cuda.get_device_name(0)
    row("setup", "device", dev, f"torch {torch.__version__}, TF32 off")
    rates: dict = {}
    for name, fn in (("tiny", lambda: part_tiny(args, args.device_name)), ("repro", lambda: part_repro(args)),
                     ("speed", lambda: rates.update(part_speed(args, s, args.device_name))),
                     ("hours", lambda: part_hours(pc, s, rates))):
        if name in parts:
            t = time.time()
            fn()
            row("setup", f"wall time of part {name}", f"{time.time() - t:.0f} s")
    row("setup", "wall time of this check", f"{time.time() - t0:.0f} s")
    print_table()
    return 1 if any(r[2] in ("FAILED", "ERROR") for r in ROWS) else 0


if __name__ == "__main__":
    sys.exit(main())
