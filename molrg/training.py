"""Training a preconditioned U-Net denoiser on a data tensor (N, C, H, W), EDM style.

`train_denoiser` runs Adam with an optional linear LR warm-up and an EMA of the weights (EDM's
half-life rule with ramp-up), writes a checkpoint every k steps, resumes *exactly* from it after a
kill (net, EMA, optimiser, RNG states and the data order are all restored, so the final weights
equal those of an uninterrupted run on the same device), stops on a non-finite loss with an error
naming the cell, and writes the final file atomically only at the very end: a failed or killed run
never leaves a file that looks finished.

`load_denoiser(path, device)` rebuilds the EMA denoiser D(x, sigma) from that final file.
Spec §6.3 (MoLRG settings) and §9.6 (Adam, LR warm-up, EMA, nan/inf gradient handling).
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .networks import DDPMpp
from .precond import loss_fn, make_precond
from .walltime import JobBudget, TimeLimitReached

Tensor = torch.Tensor
FORMAT = "molrg-denoiser-v1"


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
    return {"sigma_data": cfg.sigma_data} if cfg.precond == "edm" else {}


def build_denoiser(precond: str, net_kwargs: dict, pre_kwargs: dict | None = None) -> nn.Module:
    """D(x, sigma): a DDPM++ U-Net wrapped in EDM or VP preconditioning."""
    return make_precond(precond, DDPMpp(**net_kwargs), **(pre_kwargs or {}))


def _fingerprint(cfg: TrainConfig, net_kwargs: dict, data: Tensor) -> str:
    """Identifies a run: a checkpoint is resumed only by the run that wrote it (same settings, same data)."""
    h = hashlib.sha256()
    h.update(json.dumps([dataclasses.asdict(cfg), net_kwargs], sort_keys=True, default=list).encode())
    h.update(str(tuple(data.shape)).encode())
    h.update(data.detach().cpu().contiguous().numpy().tobytes())
    # checkpoint_every / log_every do not change the result: resuming with other values is fine
    return h.hexdigest()


def stop_within_budget(budget, reserve_s: float, step: int, saved_step: int, iterations: int, checkpoint,
                       checkpoint_path, label: str, outputs: str, log) -> None:
    """The training loops' time-limit stop: when `budget` has less than `reserve_s` left, save
    `checkpoint()` (unless step is already saved) and raise TimeLimitReached, so Snakemake's retry
    resumes from it; otherwise return."""
    reason = budget.exhausted(reserve_s)
    if not reason:
        return
    if step > saved_step:
        _atomic_save(checkpoint(), checkpoint_path)
        saved_step = step
    msg = (f"{label}: stopped at step {step}/{iterations} to stay within the job's time limit ({reason}); "
           f"{checkpoint_path} holds step {saved_step}; {outputs}. A rerun (Snakemake's retry) resumes from "
           "the checkpoint.")
    log.warning("%s", msg)
    raise TimeLimitReached(msg)


def _atomic_save(obj, path: Path) -> None:
    """Write to a temporary name in the same folder, then rename: readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException as e:  # a full disk, a kill: never leave a partial temporary file behind
        tmp.unlink(missing_ok=True)
        if isinstance(e, (OSError, RuntimeError)):  # torch.save reports ENOSPC as a RuntimeError
            raise OSError(f"could not write {path}: {e}. Is the disk full? Free space on {path.parent} and "
                          f"rerun; the previous {path.name}, if any, is unchanged.") from e
        raise


class _EpochSampler:
    """Mini-batches from reshuffled epochs (an epoch boundary may fall inside a batch); its state is
    (generator state, current permutation, position), so the data order survives a resume."""

    def __init__(self, n: int, seed: int):
        self.n = n
        self.gen = torch.Generator().manual_seed(seed)
        self.perm = torch.randperm(n, generator=self.gen)
        self.pos = 0

    def next(self, batch: int) -> Tensor:
        out = []
        while batch > 0:
            if self.pos == self.n:
                self.perm, self.pos = torch.randperm(self.n, generator=self.gen), 0
            take = min(batch, self.n - self.pos)
            out.append(self.perm[self.pos : self.pos + take])
            self.pos, batch = self.pos + take, batch - take
        return torch.cat(out)

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state(), "perm": self.perm.clone(), "pos": self.pos}

    def load_state_dict(self, sd: dict) -> None:
        self.gen.set_state(sd["gen"])
        self.perm, self.pos = sd["perm"].clone(), int(sd["pos"])


def _rng_state() -> dict:
    st = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def _set_rng_state(st: dict) -> None:
    torch.set_rng_state(st["cpu"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


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
    if device.type == "cuda":  # the authors' code disables TF32 (spec §9.6)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False

    net_kwargs = {**net_kwargs, "img_resolution": int(data.shape[2]), "in_channels": int(data.shape[1])}
    fingerprint = _fingerprint(cfg, net_kwargs, data)
    pre_kwargs = precond_kwargs(cfg)
    loss_kwargs = {"P_mean": cfg.P_mean, "P_std": cfg.P_std} if cfg.precond == "edm" else {}
    compute_loss = loss_fn(cfg.precond)

    torch.manual_seed(cfg.seed)  # initial weights, then the loss's sigma/noise draws and dropout
    model = build_denoiser(cfg.precond, net_kwargs, pre_kwargs).to(device).train()
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8)
    sampler = _EpochSampler(data.shape[0], seed=cfg.seed + 1)
    x_all = data.to(device=device, dtype=torch.float32)
    step, resumed = 0, False

    if checkpoint_path.exists():
        ck = torch.load(checkpoint_path, map_location=device, weights_only=True)
        if ck.get("fingerprint") == fingerprint:
            model.load_state_dict(ck["model"])
            ema.load_state_dict(ck["ema"])
            opt.load_state_dict(ck["opt"])
            sampler.load_state_dict(ck["sampler"])
            _set_rng_state(ck["rng"])
            step, resumed = int(ck["step"]), True
            if monitor is not None and "monitor" in ck:
                monitor.load_state_dict(ck["monitor"])
            log.info("cell %s: resumed from %s at step %d/%d", cell, checkpoint_path, step, cfg.iterations)
        else:
            log.info("cell %s: ignoring %s (written by a run with other settings or data)", cell, checkpoint_path)

    log.info("cell %s: time budget: %s", cell, budget.describe())
    t_start, t_last, step_last = time.time(), time.time(), step
    loss_sum, loss_count, mean_loss = 0.0, 0, float("nan")
    saved_step, save_s, step_s = step, 0.0, 0.0  # last checkpoint; slowest save and step (seconds)
    while step < cfg.iterations:
        # before the job's time limit: room for one more step and a checkpoint save, twice over
        stop_within_budget(budget, 2 * (step_s + save_s), step, saved_step, cfg.iterations,
                           lambda: _checkpoint(fingerprint, step, model, ema, opt, sampler, monitor),
                           checkpoint_path, f"cell {cell or '?'}", f"no model was written to {out_path}", log)
        t_step = time.monotonic()
        nimg = step * cfg.batch_size
        x = x_all[sampler.next(cfg.batch_size).to(device)]
        if cfg.xflip > 0:
            flip = torch.rand(x.shape[0], device=device) < cfg.xflip
            x = torch.where(flip.reshape(-1, 1, 1, 1), x.flip(3), x)
        for group in opt.param_groups:
            group["lr"] = learning_rate(cfg, nimg)

        loss = compute_loss(model, x, **loss_kwargs)
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
        with torch.no_grad():
            beta = ema_beta(cfg, step * cfg.batch_size)
            for p_ema, p in zip(ema.parameters(), model.parameters()):
                p_ema.copy_(p.detach().lerp(p_ema, beta))

        loss_sum, loss_count = loss_sum + loss_value, loss_count + 1
        if step % cfg.log_every == 0 or step == cfg.iterations:
            now = time.time()
            its = (step - step_last) / max(now - t_last, 1e-9)
            mean_loss = loss_sum / loss_count
            eta = (cfg.iterations - step) / max(its, 1e-9)
            log.info("cell %s: step %d/%d loss %.4f lr %.2e %.2f it/s ETA %s", cell, step, cfg.iterations,
                     mean_loss, learning_rate(cfg, nimg), its, _fmt_seconds(eta))
            t_last, step_last, loss_sum, loss_count = now, step, 0.0, 0
        stop = False
        if monitor is not None and (step % monitor.every == 0 or step == cfg.iterations):
            stop = bool(monitor(step, ema, device))
        if step % cfg.checkpoint_every == 0 and step < cfg.iterations and not stop:
            t_save = time.monotonic()
            _atomic_save(_checkpoint(fingerprint, step, model, ema, opt, sampler, monitor), checkpoint_path)
            saved_step, save_s = step, max(save_s, time.monotonic() - t_save)
        if callback is not None:
            callback(step)
        step_s = max(step_s, time.monotonic() - t_step)
        if stop:
            log.info("cell %s: monitor stopped training at step %d/%d", cell, step, cfg.iterations)
            break

    _atomic_save({"format": FORMAT, "precond": cfg.precond, "precond_kwargs": pre_kwargs,
                  "net_kwargs": net_kwargs, "state_dict": ema.state_dict(),
                  "train_config": dataclasses.asdict(cfg), "steps": step}, out_path)
    if checkpoint_path.exists() and not keep_checkpoint:
        checkpoint_path.unlink()
    seconds = time.time() - t_start
    log.info("cell %s: wrote %s (%d steps, %.1f s this run)", cell, out_path, step, seconds)
    return {"steps": step, "final_loss": mean_loss, "seconds": seconds, "resumed": resumed,
            "stopped_early": step < cfg.iterations}


def _checkpoint(fingerprint, step, model, ema, opt, sampler, monitor) -> dict:
    """Everything an exact resume needs (the global RNG state is taken now)."""
    return {"fingerprint": fingerprint, "step": step, "model": model.state_dict(), "ema": ema.state_dict(),
            "opt": opt.state_dict(), "sampler": sampler.state_dict(), "rng": _rng_state(),
            **({"monitor": monitor.state_dict()} if monitor is not None else {})}


def _fmt_seconds(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d}"


def load_denoiser(path, device="cpu") -> nn.Module:
    """The EMA denoiser D(x, sigma) saved by `train_denoiser`, in eval mode, weights frozen."""
    from molrg.runtime import load_torch_file

    ck = load_torch_file(
        lambda p: torch.load(p, map_location=torch.device(device), weights_only=True), path,
        "a model file written by molrg.training",
        "Delete it and rerun the training rule that makes it, or point the config at the right file.",
    )
    if not isinstance(ck, dict) or ck.get("format") != FORMAT:
        raise ValueError(f"{path} is not a model file written by molrg.training (format {ck.get('format') if isinstance(ck, dict) else type(ck).__name__!r})")
    model = build_denoiser(ck["precond"], ck["net_kwargs"], ck["precond_kwargs"])
    model.load_state_dict(ck["state_dict"])
    return model.to(device).eval().requires_grad_(False)
