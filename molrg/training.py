"""Training a preconditioned U-Net denoiser on a data tensor (N, C, H, W), EDM style.

`train_denoiser` runs Adam with an optional linear LR warm-up and an EMA of the weights (EDM's
half-life rule with ramp-up), writes a checkpoint every k steps, resumes *exactly* from it after a
kill (net, EMA, optimiser, RNG states and the data order are all restored, so the final weights
equal those of an uninterrupted run on the same device), stops on a non-finite loss with an error
naming the cell, and writes the model file atomically only at the very end: a failed or killed run
never leaves a file that looks finished. The checkpoint and model files are molrg.checkpoint's
(`molrg.checkpoint.load_denoiser` reads the model file); the settings, schedules and per-step
pieces here are shared with molrg.stacked.
Spec §6.3 (MoLRG settings) and §9.6 (Adam, LR warm-up, EMA, nan/inf gradient handling).
"""
from __future__ import annotations

import copy
import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .checkpoint import (CheckpointFile, EpochSampler, build_denoiser, ema_update, rng_state, run_fingerprint,
                         set_rng_state, write_model_file)
from .precond import loss_fn
from .progress import fmt_seconds
from .walltime import JobBudget

Tensor = torch.Tensor


@dataclass
class TrainConfig:
    """Settings of one training run (defaults: EDM/authors' code values where they exist)."""

    iterations: int
    batch_size: int
    lr: float = 1e-3
    lr_rampup_kimg: float = 0.0  # linear LR warm-up over this many thousand images; 0 = off (code: 10000)
    ema_halflife_kimg: float = 500.0  # EMA half-life in thousands of images (code: 500)
    ema_rampup_ratio: float = 0.05  # half-life <= ratio * images seen so far; 0 = no ramp-up (code: 0.05)
    precond: str = "edm"  # edm | vp
    sigma_data: float = 0.5  # EDM only
    P_mean: float = -1.2  # EDM only: ln sigma ~ N(P_mean, P_std^2)
    P_std: float = 1.2
    xflip: float = 0.0  # probability of a horizontal flip per sample (augmentation; off by default)
    checkpoint_every: int = 1000  # steps between checkpoints
    log_every: int = 100  # steps between progress lines
    seed: int = 0

    def __post_init__(self):
        if self.iterations < 1 or self.batch_size < 1 or self.checkpoint_every < 1 or self.log_every < 1:
            raise ValueError(f"iterations, batch_size, checkpoint_every, log_every must be >= 1: {self}")
        if self.precond not in ("edm", "vp"):
            raise ValueError(f"precond must be 'edm' or 'vp', got {self.precond!r}")


def precond_kwargs(cfg: TrainConfig) -> dict:
    """Arguments of the preconditioning (molrg.precond.make_precond) for these settings."""
    return {"sigma_data": cfg.sigma_data} if cfg.precond == "edm" else {}


def loss_kwargs(cfg: TrainConfig) -> dict:
    """Arguments of the training loss (molrg.precond.loss_fn) for these settings."""
    return {"P_mean": cfg.P_mean, "P_std": cfg.P_std} if cfg.precond == "edm" else {}


def disable_tf32(device: torch.device) -> None:
    """The authors' code trains without TF32 matrix products (spec §9.6)."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def random_xflip(x: Tensor, p: float) -> Tensor:
    """Flip each image of x (B, C, H, W) horizontally with probability p (one draw of the global RNG
    per image; none when p = 0)."""
    if p <= 0:
        return x
    flip = torch.rand(x.shape[0], device=x.device) < p
    return torch.where(flip.reshape(-1, 1, 1, 1), x.flip(3), x)


def learning_rate(cfg: TrainConfig, nimg: int) -> float:
    """EDM's linear warm-up: lr * min(nimg / (lr_rampup_kimg * 1000), 1) (nimg = images seen before the step)."""
    if cfg.lr_rampup_kimg <= 0:
        return cfg.lr
    return cfg.lr * min(nimg / (cfg.lr_rampup_kimg * 1000), 1.0)


def sanitize_grads(params) -> None:
    """EDM's guard, in place: nan gradients -> 0, +-inf clamped to +-1e5."""
    for p in params:
        if p.grad is not None:
            torch.nan_to_num(p.grad, nan=0, posinf=1e5, neginf=-1e5, out=p.grad)


def ema_beta(cfg: TrainConfig, nimg: int) -> float:
    """EDM's EMA decay per step: half-life in images, capped at ramp-up ratio * images seen."""
    ema_nimg = cfg.ema_halflife_kimg * 1000
    if cfg.ema_rampup_ratio > 0:
        ema_nimg = min(ema_nimg, nimg * cfg.ema_rampup_ratio)
    return 0.5 ** (cfg.batch_size / max(ema_nimg, 1e-8))


def train_denoiser(data: Tensor, cfg: TrainConfig, net_kwargs: dict, out_path, *, checkpoint_path=None,
                   device="cpu", cell: str = "", log: logging.Logger | None = None,
                   keep_checkpoint: bool = False, callback=None, monitor=None, budget=None) -> dict:
    """Train D(x, sigma) on `data` (N, C, H, W) and write its EMA weights to `out_path`.

    net_kwargs: DDPMpp arguments other than img_resolution/in_channels (taken from the data).
    checkpoint_path: defaults to `<out_path folder>/checkpoint.pt`; resumed if it was written by a
    run with the same settings and data, ignored (and overwritten) otherwise. Deleted after success
    unless keep_checkpoint. callback(step): called after every step (tests use it to interrupt).
    monitor (optional, e.g. molrg.convergence.HeldoutMonitor): an object with `every` and
    `__call__(step, ema_model, device) -> bool`, called with the EMA model every `monitor.every` steps
    and at the last step; True ends training there (early stop). Its `state_dict()` is saved in the
    checkpoint and restored on resume.
    budget (molrg.walltime.JobBudget; default: from the environment, i.e. the SLURM job's time left
    or MOLRG_TIME_BUDGET_S, else none): when the job's time is nearly spent, or SIGTERM arrives
    (SLURM's time limit, Snakemake stopping), a checkpoint is saved and TimeLimitReached raised,
    so that a retry resumes from it.
    Returns a summary dict (final mean loss, steps, seconds, whether it resumed).
    """
    log = log or logging.getLogger("molrg.training")
    budget = JobBudget.from_environment() if budget is None else budget
    with budget:  # catches SIGTERM while training
        return _train(data, cfg, net_kwargs, out_path, checkpoint_path, device, cell, log, keep_checkpoint,
                      callback, monitor, budget)


def _train(data, cfg, net_kwargs, out_path, checkpoint_path, device, cell, log, keep_checkpoint, callback,
           monitor, budget) -> dict:
    out_path = Path(out_path)
    checkpoint_path = Path(checkpoint_path) if checkpoint_path else out_path.with_name("checkpoint.pt")
    device = torch.device(device)
    if data.ndim != 4 or data.shape[2] != data.shape[3]:
        raise ValueError(f"cell {cell}: training data must be (N, C, H, H), got {tuple(data.shape)}")
    disable_tf32(device)

    net_kwargs = {**net_kwargs, "img_resolution": int(data.shape[2]), "in_channels": int(data.shape[1])}
    pre_kwargs, l_kwargs = precond_kwargs(cfg), loss_kwargs(cfg)
    compute_loss = loss_fn(cfg.precond)

    torch.manual_seed(cfg.seed)  # initial weights, then the loss's sigma/noise draws and dropout
    model = build_denoiser(cfg.precond, net_kwargs, pre_kwargs).to(device).train()
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8)
    sampler = EpochSampler(data.shape[0], seed=cfg.seed + 1)
    x_all = data.to(device=device, dtype=torch.float32)
    step, resumed = 0, False

    ckpt = CheckpointFile(checkpoint_path, run_fingerprint(cfg, net_kwargs, data), f"cell {cell or '?'}", log)
    ck = ckpt.load(device, cfg.iterations)
    if ck is not None:
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        sampler.load_state_dict(ck["sampler"])
        set_rng_state(ck["rng"])
        step, resumed = int(ck["step"]), True
        if monitor is not None and "monitor" in ck:
            monitor.load_state_dict(ck["monitor"])

    def state() -> dict:  # everything an exact resume needs (the global RNG state is taken now)
        return {"step": step, "model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                "sampler": sampler.state_dict(), "rng": rng_state(),
                **({"monitor": monitor.state_dict()} if monitor is not None else {})}

    log.info("cell %s: time budget: %s", cell, budget.describe())
    t_start, t_last, step_last = time.time(), time.time(), step
    loss_sum, loss_count, mean_loss = 0.0, 0, float("nan")
    step_s = 0.0  # slowest step (seconds)
    while step < cfg.iterations:
        # before the job's time limit: room for one more step and a checkpoint save, twice over
        ckpt.stop_within_budget(budget, 2 * (step_s + ckpt.save_s), step, cfg.iterations, state,
                                f"no model was written to {out_path}")
        t_step = time.monotonic()
        nimg = step * cfg.batch_size
        x = random_xflip(x_all[sampler.next(cfg.batch_size).to(device)], cfg.xflip)
        for group in opt.param_groups:
            group["lr"] = learning_rate(cfg, nimg)

        loss = compute_loss(model, x, **l_kwargs)
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            raise FloatingPointError(
                f"training diverged in cell {cell or '?'}: loss = {loss_value} at step {step + 1}/{cfg.iterations}; "
                f"no model was written to {out_path}. Lower the learning rate or use an LR warm-up.")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        sanitize_grads(model.parameters())
        opt.step()
        step += 1
        ema_update(ema.parameters(), model.parameters(), ema_beta(cfg, step * cfg.batch_size))

        loss_sum, loss_count = loss_sum + loss_value, loss_count + 1
        if step % cfg.log_every == 0 or step == cfg.iterations:
            now = time.time()
            its = (step - step_last) / max(now - t_last, 1e-9)
            mean_loss = loss_sum / loss_count
            eta = (cfg.iterations - step) / max(its, 1e-9)
            log.info("cell %s: step %d/%d loss %.4f lr %.2e %.2f it/s ETA %s", cell, step, cfg.iterations,
                     mean_loss, learning_rate(cfg, nimg), its, fmt_seconds(eta))
            t_last, step_last, loss_sum, loss_count = now, step, 0.0, 0
        stop = False
        if monitor is not None and (step % monitor.every == 0 or step == cfg.iterations):
            stop = bool(monitor(step, ema, device))
        if step % cfg.checkpoint_every == 0 and step < cfg.iterations and not stop:
            ckpt.save(state())
        if callback is not None:
            callback(step)
        step_s = max(step_s, time.monotonic() - t_step)
        if stop:
            log.info("cell %s: monitor stopped training at step %d/%d", cell, step, cfg.iterations)
            break

    write_model_file({"precond": cfg.precond, "precond_kwargs": pre_kwargs, "net_kwargs": net_kwargs,
                      "state_dict": ema.state_dict(), "train_config": dataclasses.asdict(cfg), "steps": step}, out_path)
    if not keep_checkpoint:
        ckpt.remove()
    seconds = time.time() - t_start
    log.info("cell %s: wrote %s (%d steps, %.1f s this run)", cell, out_path, step, seconds)
    return {"steps": step, "final_loss": mean_loss, "seconds": seconds, "resumed": resumed,
            "stopped_early": step < cfg.iterations}
