"""Convergence criterion of a trained denoiser (Table 1's reference U-Net).

The criterion: the EMA model's denoising loss on held-out images, over a *fixed* set of noise levels
and a *fixed* draw of noises (so that two evaluations differ only through the weights), evaluated
every `every` training steps. The run counts as converged when the best loss of the last `window`
evaluations improves on the best loss before them by less than `threshold` (relative):

    improvement = (min(L[:-window]) - min(L[-window:])) / min(L[:-window])  <  threshold

The loss is EDM's weighted denoising loss, lambda(sigma) * mean ||D(x + sigma n, sigma) - x||^2 with
lambda(sigma) = (sigma^2 + sigma_data^2) / (sigma sigma_data)^2, averaged over images and sigmas.

`HeldoutMonitor` is the callable that `molrg.training.train_denoiser(monitor=...)` calls with the EMA
model at every `every` steps; it keeps the history (saved in the training checkpoint, so a resumed run
continues it) and, with `stop_early`, ends training once the criterion holds.

Kept checkpoints (the evidence of Table 1's checkpoint-stability check): with `keep` = C > 1 the
monitor also keeps a copy of the EMA weights at every multiple of `keep_every` steps (the last C of
them, in its state, so a resumed run keeps them too). After training, `kept_checkpoints(final_step)`
gives the C - 1 latest of those strictly before the final step; with the final model they are the
"last C checkpoints at a spacing of keep_every steps". A monitor with keep > 1 never stops before
step (C - 1) keep_every + 1, so that they always exist.
"""
from __future__ import annotations

import math

import numpy as np
import torch

Tensor = torch.Tensor


def edm_weight(sigma, sigma_data: float = 0.5):
    """EDM's loss weight lambda(sigma) = (sigma^2 + sigma_data^2) / (sigma * sigma_data)^2."""
    return (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2


def fixed_eval_set(x_heldout, sigmas, num_images: int, seed: int) -> dict:
    """Every one of the first `num_images` held-out images paired with every sigma, with one seeded
    Gaussian noise per pair: tensors x (R, C, H, W), sigma (R,), noise (R, C, H, W), R = images * sigmas."""
    x = torch.as_tensor(np.asarray(x_heldout)[:num_images], dtype=torch.float32)
    if len(x) < 1:
        raise ValueError("the convergence criterion needs at least one held-out image")
    s = torch.as_tensor(list(sigmas), dtype=torch.float32)
    if s.ndim != 1 or len(s) < 1 or not bool((s > 0).all()):
        raise ValueError(f"sigmas must be a non-empty list of positive numbers, got {list(sigmas)}")
    xs = x.repeat_interleave(len(s), dim=0)
    ss = s.repeat(len(x))
    g = torch.Generator().manual_seed(int(seed))
    noise = torch.randn(xs.shape, generator=g)
    return {"x": xs, "sigma": ss, "noise": noise}


@torch.no_grad()
def heldout_loss(denoiser, evalset: dict, sigma_data: float = 0.5, batch_size: int = 512,
                 device="cpu") -> float:
    """EDM-weighted denoising loss of D(x, sigma) on a fixed evaluation set (mean over its rows)."""
    total, count = 0.0, 0
    x_all, s_all, n_all = evalset["x"], evalset["sigma"], evalset["noise"]
    for i in range(0, len(x_all), batch_size):
        x = x_all[i : i + batch_size].to(device)
        s = s_all[i : i + batch_size].to(device)
        n = n_all[i : i + batch_size].to(device)
        out = denoiser(x + s.reshape(-1, 1, 1, 1) * n, s)
        err = (out.float() - x).pow(2).flatten(1).mean(1)
        total += float((edm_weight(s, sigma_data) * err).sum())
        count += len(x)
    return total / count


def relative_improvement(values, window: int) -> float:
    """(min(L[:-window]) - min(L[-window:])) / min(L[:-window]); nan while len(L) <= window."""
    v = [float(a) for a in values]
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if len(v) <= window:
        return float("nan")
    before, last = min(v[:-window]), min(v[-window:])
    return (before - last) / abs(before) if before != 0 else float("nan")


def is_converged(values, window: int, threshold: float) -> bool:
    """True when the relative improvement over the last `window` evaluations is below `threshold`."""
    r = relative_improvement(values, window)
    return bool(math.isfinite(r) and r < threshold)


class HeldoutMonitor:
    """Held-out loss of the EMA model every `every` steps; `__call__` returns True to stop training."""

    def __init__(self, evalset: dict, every: int, window: int, threshold: float, *, sigma_data: float = 0.5,
                 stop_early: bool = True, min_steps: int = 0, batch_size: int = 512, log=None,
                 keep: int = 1, keep_every: int | None = None):
        if every < 1 or window < 1 or not math.isfinite(threshold):
            raise ValueError(f"every and window must be >= 1, threshold finite: {every}, {window}, {threshold}")
        keep_every = int(keep_every) if keep_every is not None else int(every)
        if keep < 1 or keep_every < 1 or keep_every % int(every):
            raise ValueError(f"keep must be >= 1 and keep_every a positive multiple of every ({every}): "
                             f"keep {keep}, keep_every {keep_every}")
        self.keep, self.keep_every = int(keep), keep_every
        # the kept EMA weights must exist: no early stop at or before (keep - 1) * keep_every
        min_steps = max(int(min_steps), (self.keep - 1) * self.keep_every + 1 if self.keep > 1 else 0)
        self.snapshots: dict[int, dict] = {}
        self.evalset, self.every, self.window, self.threshold = evalset, int(every), int(window), float(threshold)
        self.sigma_data, self.stop_early, self.min_steps = float(sigma_data), bool(stop_early), int(min_steps)
        self.batch_size, self.log = int(batch_size), log
        self.steps: list[int] = []
        self.values: list[float] = []

    def __call__(self, step: int, model, device="cpu") -> bool:
        value = heldout_loss(model, self.evalset, self.sigma_data, self.batch_size, device)
        self.steps.append(int(step))
        self.values.append(float(value))
        if self.keep > 1 and step % self.keep_every == 0:
            self.snapshots[int(step)] = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            for old in sorted(self.snapshots)[:-self.keep]:
                del self.snapshots[old]
        r = self.improvement()
        if self.log is not None:
            self.log.info("held-out loss at step %d: %.5f (relative improvement over the last %d evaluations: %s)",
                          step, value, self.window, "n/a" if not math.isfinite(r) else f"{r:.4f}")
        return self.stop_early and step >= self.min_steps and self.converged()

    def improvement(self) -> float:
        return relative_improvement(self.values, self.window)

    def converged(self) -> bool:
        return is_converged(self.values, self.window, self.threshold)

    def criterion(self) -> str:
        return (f"relative improvement of the best held-out EDM loss of the EMA model over the last "
                f"{self.window} evaluations (every {self.every} steps; {len(self.evalset['x'])} fixed "
                f"image-sigma-noise triples)")

    def history(self) -> dict:
        """The held-out loss curve: evaluation steps and values (JSON-serialisable)."""
        return {"steps": list(self.steps), "values": list(self.values)}

    def kept_checkpoints(self, final_step: int) -> list[tuple[int, dict]]:
        """(step, EMA state dict) of the keep - 1 latest kept snapshots strictly before `final_step`,
        latest first; ValueError if training ended before they exist."""
        before = sorted((s for s in self.snapshots if s < int(final_step)), reverse=True)[: self.keep - 1]
        if len(before) < self.keep - 1:
            raise ValueError(f"training ended at step {final_step}, before {self.keep - 1} kept checkpoints "
                             f"(every {self.keep_every} steps) existed; have steps {sorted(self.snapshots)}")
        return [(s, self.snapshots[s]) for s in before]

    def state_dict(self) -> dict:
        steps = sorted(self.snapshots)
        return {**self.history(), "snapshot_steps": steps, "snapshots": [self.snapshots[s] for s in steps]}

    def load_state_dict(self, sd: dict) -> None:
        self.steps, self.values = [int(s) for s in sd["steps"]], [float(v) for v in sd["values"]]
        self.snapshots = {int(s): dict(w) for s, w in zip(sd.get("snapshot_steps", []), sd.get("snapshots", []))}
