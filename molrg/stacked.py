"""Training many small grid cells in one process: stacked parameters through `torch.func`.

Small cells (the MoLRG U-Nets at 3x4x4, batch 512) are launch-bound on a GPU: one cell per process
keeps the device mostly idle. `train_stack` trains S cells that share the architecture and the
training settings (they differ in data and seed) as one vmapped model: the parameters of the S
U-Nets are stacked (`torch.func.stack_module_state`), the forward pass is
`vmap(functional_call(model, ...))` over the cells, and one Adam step updates all of them (Adam,
the EMA and the nan/inf gradient guard are elementwise, so a stacked step is S solo steps).

Same training as `molrg.training.train_denoiser`, by construction rather than by copy:
  * each cell's network is built as there (`build_denoiser`, `torch.manual_seed(seed)` first);
  * each cell's mini-batches come from its own `EpochSampler`, its sigma/noise draws from its own
    saved global-RNG state, drawn by calling the *same* loss function (`precond.loss_fn`) on a probe
    that records the noisy input and sigma and returns the weight lambda(sigma) by autograd; the
    cell's loss is then that weight times the squared error of the vmapped denoiser;
  * learning rate (`learning_rate`), EMA decay and update (`ema_beta`, `ema_update`), x-flips,
    Adam settings and the gradient guard are training.py's; the checkpoint and model files are
    molrg.checkpoint's, so `load_denoiser` reads a stacked cell's model.pt like any other.
With dropout = 0 a stacked cell's final weights equal those of training it alone up to float
rounding (vmapped convolutions sum in another order); with dropout > 0 the dropout masks come from
one stack-wide generator, so a stacked cell is a statistically equivalent run, not the same one.

Checkpoints hold the whole stack (a killed stack resumes exactly); each cell's final model.pt is
written atomically only at the end. Options (config `accel`), both off by default: bf16 autocast of
the forward pass (autocast does not reach vmapped convolutions, so with it the cells' forward passes
run one after another, each under autocast: a precision option, not a speed one for stacks), and
`torch.compile` of the vmapped forward.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from .checkpoint import (CheckpointFile, EpochSampler, build_denoiser, ema_update, rng_state, run_fingerprint,
                         set_rng_state, write_model_file)
from .precond import loss_fn
from .training import (TrainConfig, disable_tf32, ema_beta, learning_rate, loss_kwargs, precond_kwargs,
                       random_xflip, sanitize_grads)
from .walltime import JobBudget

Tensor = torch.Tensor


@dataclass
class StackCell:
    """One grid cell of a stack: its name (for logs/errors), data (N, C, H, W), seed and output file."""

    name: str
    data: Tensor
    seed: int
    out_path: str | Path


class _LossProbe(nn.Module):
    """Stands in for the denoiser inside the training loss: records the loss's noisy input and sigma
    (drawn from the global RNG exactly as in a solo run) and returns x0 + c with c = 1 per sample, so
    that d loss / d c_i = 2 w_i P / B gives the loss weight w_i = lambda(sigma_i)."""

    def __init__(self, real: nn.Module):
        super().__init__()
        self.real = real

    def __getattr__(self, name):  # sigma_data, epsilon_t, sigma(t): the real preconditioning's
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["real"], name)

    def forward(self, x_noisy: Tensor, sigma) -> Tensor:
        self.rec_x, self.rec_sigma = x_noisy.detach(), torch.as_tensor(sigma).detach()
        return self.x0 + self.c


def draw_loss_inputs(probe: _LossProbe, compute_loss, x0: Tensor, loss_kwargs: dict):
    """(noisy input, sigma (B,), weight (B,)) that `compute_loss(D, x0)` would draw for this batch."""
    B, P = x0.shape[0], x0[0].numel()
    probe.x0 = x0
    probe.c = torch.ones(B, *([1] * (x0.ndim - 1)), device=x0.device, dtype=x0.dtype, requires_grad=True)
    loss = compute_loss(probe, x0, **loss_kwargs)
    (g,) = torch.autograd.grad(loss, probe.c)
    weight = g.reshape(B) * (B / (2 * P))
    sigma = probe.rec_sigma.to(x0.device, torch.float32)
    sigma = sigma.expand(B) if sigma.ndim == 0 else sigma.reshape(B)
    return probe.rec_x, sigma, weight.detach()


def _stack_fingerprint(cfgs, net_kwargs, cells) -> str:
    h = hashlib.sha256()
    for cfg, cell in zip(cfgs, cells):
        h.update(cell.name.encode())
        h.update(run_fingerprint(cfg, net_kwargs, cell.data).encode())
    return h.hexdigest()


def _autocast(device: torch.device, enabled: bool):
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def train_stack(cells: list[StackCell], cfg: TrainConfig, net_kwargs: dict, *, checkpoint_path,
                device="cpu", autocast_bf16: bool = False, compile: bool = False,
                log: logging.Logger | None = None, keep_checkpoint: bool = False, callback=None,
                budget=None) -> list[dict]:
    """Train every cell of `cells` (same shape (C, H, W), settings `cfg` except the seed) as one stack.

    Writes each cell's EMA weights to `cell.out_path` (a molrg.checkpoint model file). checkpoint_path:
    the stack's resumable checkpoint (resumed if written by the same cells, settings and data).
    callback(step) after every step (tests use it to interrupt). budget: as in train_denoiser (the
    job's time limit or SIGTERM: checkpoint, then TimeLimitReached). Returns one summary dict per cell.
    """
    log = log or logging.getLogger("molrg.stacked")
    budget = JobBudget.from_environment() if budget is None else budget
    with budget:  # catches SIGTERM while training
        return _train_stack(cells, cfg, net_kwargs, checkpoint_path, device, autocast_bf16, compile, log,
                            keep_checkpoint, callback, budget)


def _train_stack(cells, cfg, net_kwargs, checkpoint_path, device, autocast_bf16, compile, log, keep_checkpoint,
                 callback, budget) -> list[dict]:
    if not cells:
        raise ValueError("train_stack needs at least one cell")
    device = torch.device(device)
    shapes = {tuple(c.data.shape[1:]) for c in cells}
    if len(shapes) != 1:
        raise ValueError(f"a stack's cells must share the image shape (C, H, W); got {sorted(shapes)} "
                         f"for {[c.name for c in cells]}")
    shape = shapes.pop()
    if len(shape) != 3 or shape[1] != shape[2]:
        raise ValueError(f"training data must be (N, C, H, H), got {shape}")
    disable_tf32(device)
    names = ", ".join(c.name for c in cells)
    net_kwargs = {**net_kwargs, "img_resolution": int(shape[1]), "in_channels": int(shape[0])}
    cfgs = [dataclasses.replace(cfg, seed=int(c.seed)) for c in cells]
    pre_kwargs, l_kwargs = precond_kwargs(cfg), loss_kwargs(cfg)
    compute_loss = loss_fn(cfg.precond)

    # per cell, exactly as train_denoiser: seed, build the net, then its RNG stream and data order
    models, rngs, samplers = [], [], []
    for c, ccfg in zip(cells, cfgs):
        torch.manual_seed(ccfg.seed)
        models.append(build_denoiser(cfg.precond, net_kwargs, pre_kwargs).to(device).train())
        rngs.append(rng_state())
        samplers.append(EpochSampler(c.data.shape[0], seed=ccfg.seed + 1))
    params, buffers = stack_module_state(models)  # leaves with requires_grad, shape (S, ...)
    ema = {k: v.detach().clone() for k, v in params.items()}
    opt = torch.optim.Adam(list(params.values()), lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8)
    probe = _LossProbe(copy.deepcopy(models[0]))
    base = copy.deepcopy(models[0]).to("meta")
    xs = [c.data.to(device=device, dtype=torch.float32) for c in cells]
    torch.manual_seed(cfgs[0].seed + 2)  # the stack-wide stream for dropout masks
    stack_rng = rng_state()
    step, resumed = 0, False

    ckpt = CheckpointFile(checkpoint_path, _stack_fingerprint(cfgs, net_kwargs, cells), f"stack [{names}]", log)
    ck = ckpt.load(device, cfg.iterations)
    if ck is not None:
        with torch.no_grad():
            for k in params:
                params[k].copy_(ck["params"][k])
                ema[k].copy_(ck["ema"][k])
        opt.load_state_dict(ck["opt"])
        for s, sd in zip(samplers, ck["samplers"]):
            s.load_state_dict(sd)
        rngs, stack_rng = list(ck["rngs"]), ck["stack_rng"]
        step, resumed = int(ck["step"]), True

    def one_cell(p, b, x, sigma):
        return functional_call(base, (p, b), (x, sigma))

    if autocast_bf16:
        # autocast does not reach vmapped convolutions (torch 2.x: the batched conv bypasses it and
        # then mixes bf16 activations with float32 weights), so under bf16 the cells' forward passes
        # run one after another in this process, each under autocast
        def forward(P, B, X, S):
            with _autocast(device, True):
                return torch.stack([one_cell({k: v[i] for k, v in P.items()}, {k: v[i] for k, v in B.items()},
                                             X[i], S[i]).float() for i in range(X.shape[0])])
    else:
        forward = vmap(one_cell, in_dims=(0, 0, 0, 0), randomness="different")
    if compile:
        forward = torch.compile(forward)

    t_start, t_last, step_last = time.time(), time.time(), step
    loss_sum, loss_count = torch.zeros(len(cells)), 0
    mean_loss = [float("nan")] * len(cells)

    def state() -> dict:
        return {"step": step, "params": {k: v.detach() for k, v in params.items()}, "ema": ema,
                "opt": opt.state_dict(), "samplers": [s.state_dict() for s in samplers], "rngs": rngs,
                "stack_rng": stack_rng}

    log.info("stack [%s]: time budget: %s", names, budget.describe())
    step_s = 0.0  # slowest step (seconds)
    while step < cfg.iterations:
        # before the job's time limit: room for one more step and a checkpoint save, twice over
        ckpt.stop_within_budget(budget, 2 * (step_s + ckpt.save_s), step, cfg.iterations, state,
                                "no model was written")
        t_step = time.monotonic()
        nimg = step * cfg.batch_size
        x0s, xns, sigmas, weights = [], [], [], []
        for i in range(len(cells)):
            set_rng_state(rngs[i])
            x = random_xflip(xs[i][samplers[i].next(cfg.batch_size).to(device)], cfg.xflip)
            xn, sg, w = draw_loss_inputs(probe, compute_loss, x, l_kwargs)
            rngs[i] = rng_state()
            x0s.append(x), xns.append(xn), sigmas.append(sg), weights.append(w)
        X0, XN, SG, W = torch.stack(x0s), torch.stack(xns), torch.stack(sigmas), torch.stack(weights)
        for group in opt.param_groups:
            group["lr"] = learning_rate(cfg, nimg)

        set_rng_state(stack_rng)
        D = forward(params, buffers, XN, SG)
        stack_rng = rng_state()
        per_cell = (W * ((D.float() - X0) ** 2).flatten(2).sum(2)).mean(1)  # (S,): each cell's loss
        values = per_cell.detach().cpu()
        bad = [cells[i].name for i in range(len(cells)) if not math.isfinite(float(values[i]))]
        if bad:
            raise FloatingPointError(
                f"training diverged in cell(s) {', '.join(bad)} of stack [{names}]: loss non-finite at step "
                f"{step + 1}/{cfg.iterations}; no model was written. Lower the learning rate or use an LR warm-up.")
        opt.zero_grad(set_to_none=True)
        per_cell.sum().backward()
        sanitize_grads(params.values())
        opt.step()
        step += 1
        ema_update([ema[k] for k in params], params.values(), ema_beta(cfg, step * cfg.batch_size))

        loss_sum, loss_count = loss_sum + values, loss_count + 1
        if step % cfg.log_every == 0 or step == cfg.iterations:
            now = time.time()
            its = (step - step_last) / max(now - t_last, 1e-9)
            mean_loss = (loss_sum / loss_count).tolist()
            log.info("stack of %d: step %d/%d mean loss %.4f lr %.2e %.2f it/s (%.1f cell-it/s)", len(cells), step,
                     cfg.iterations, sum(mean_loss) / len(mean_loss), learning_rate(cfg, nimg), its, its * len(cells))
            t_last, step_last, loss_sum, loss_count = now, step, torch.zeros(len(cells)), 0
        if step % cfg.checkpoint_every == 0 and step < cfg.iterations:
            ckpt.save(state())
        if callback is not None:
            callback(step)
        step_s = max(step_s, time.monotonic() - t_step)

    seconds = time.time() - t_start
    summaries = []
    for i, (c, ccfg, model) in enumerate(zip(cells, cfgs, models)):
        with torch.no_grad():
            for name, p in model.named_parameters():
                p.copy_(ema[name][i])
        write_model_file({"precond": cfg.precond, "precond_kwargs": pre_kwargs, "net_kwargs": net_kwargs,
                          "state_dict": model.state_dict(), "train_config": dataclasses.asdict(ccfg), "steps": step},
                         c.out_path)
        summaries.append({"cell": c.name, "steps": step, "final_loss": mean_loss[i], "seconds": seconds,
                          "resumed": resumed, "stack_size": len(cells)})
    if not keep_checkpoint:
        ckpt.remove()
    log.info("stack [%s]: wrote %d models (%d steps, %.1f s this run)", names, len(cells), step, seconds)
    return summaries
