"""The empirical-optimal denoiser: the exact posterior mean of the empirical distribution of a
training set under Gaussian noise (the memorising baseline of Fig 4).

For the training set {x_j}_{j=1}^N and x = x_0 + sigma * n with x_0 uniform over the x_j,

    D(x; sigma) = E[x_0 | x] = sum_j w_j(x) x_j,   w(x) = softmax_j( -||x - x_j||^2 / (2 sigma^2) ).

It is the minimiser of the denoising loss over *all* functions when the loss is taken over the
training set itself, so a network that fits its training loss perfectly becomes this denoiser, and
the probability-flow ODE with it ends on a training point (as sigma -> 0, D(x; sigma) -> the nearest
training point). Sampling it gives copy rate ~ 1 and GL ~ 0: the baseline that checks that the GL
metric and the copy rate detect memorisation on real sampler outputs.

The softmax is taken in log space in float64 with a running (online) log-sum-exp over chunks of the
training set, so memory stays at one (B x ref_chunk) block and tiny sigma (0.002, or 0) neither
overflows nor underflows.
"""
from __future__ import annotations

import torch

Tensor = torch.Tensor

_SIGMA_FLOOR = 1e-30  # sigma = 0 is the limit (nearest training point); a float64-safe stand-in


class EmpiricalDenoiser(torch.nn.Module):
    """D(x, sigma) in EDM space (s = 1) for the empirical distribution of `train` (N, ...).

    x: (B, ...) whose trailing dimensions flatten to the training points' size; sigma: a float, a
    0-d tensor or a (B,) tensor. Returns a tensor of x's shape and dtype (computed in float64).
    ref_chunk: training points per block of squared distances (memory only).
    """

    def __init__(self, train: Tensor, ref_chunk: int = 4096):
        super().__init__()
        train = torch.as_tensor(train)
        if train.ndim < 2 or train.shape[0] == 0:
            raise ValueError(f"EmpiricalDenoiser needs a non-empty training set (N, ...), got shape {tuple(train.shape)}")
        flat = train.reshape(train.shape[0], -1).to(torch.float64)
        if not torch.isfinite(flat).all():
            raise ValueError("EmpiricalDenoiser: the training set contains non-finite values")
        self.register_buffer("points", flat)
        self.register_buffer("points_sq", (flat * flat).sum(1))
        self.ref_chunk = int(ref_chunk)

    def log_weights(self, x: Tensor, sigma) -> Tensor:
        """The (B, N) log posterior weights log w_j(x) (dense; for tests and small N)."""
        flat, s2 = self._prepare(x, sigma)
        logits = -self._sq_dist(flat, 0, self.points.shape[0]) / (2 * s2)
        return logits - torch.logsumexp(logits, dim=1, keepdim=True)

    def _prepare(self, x: Tensor, sigma):
        flat = x.reshape(x.shape[0], -1).to(self.points.device, torch.float64)
        if flat.shape[1] != self.points.shape[1]:
            raise ValueError(f"input has {flat.shape[1]} values per sample, the training set {self.points.shape[1]}")
        sigma = torch.as_tensor(sigma, dtype=torch.float64, device=flat.device).reshape(-1)
        if sigma.numel() not in (1, flat.shape[0]):
            raise ValueError(f"sigma must be a float or have shape (B,) = ({flat.shape[0]},), got {tuple(sigma.shape)}")
        s2 = sigma.clamp_min(_SIGMA_FLOOR).square().expand(flat.shape[0]).reshape(-1, 1)
        return flat, s2

    def _sq_dist(self, flat: Tensor, start: int, stop: int) -> Tensor:
        ref = self.points[start:stop]
        d2 = (flat * flat).sum(1, keepdim=True) + self.points_sq[start:stop] - 2 * flat @ ref.T
        return d2.clamp_min(0.0)

    def forward(self, x: Tensor, sigma) -> Tensor:
        flat, s2 = self._prepare(x, sigma)
        B = flat.shape[0]
        run_max = torch.full((B, 1), -float("inf"), dtype=torch.float64, device=flat.device)
        run_sum = torch.zeros((B, 1), dtype=torch.float64, device=flat.device)
        run_vec = torch.zeros_like(flat)
        for start in range(0, self.points.shape[0], self.ref_chunk):
            stop = min(start + self.ref_chunk, self.points.shape[0])
            logits = -self._sq_dist(flat, start, stop) / (2 * s2)
            new_max = torch.maximum(run_max, logits.max(dim=1, keepdim=True).values)
            scale = torch.exp(run_max - new_max)  # exp(-inf) = 0 on the first chunk
            w = torch.exp(logits - new_max)
            run_sum = run_sum * scale + w.sum(1, keepdim=True)
            run_vec = run_vec * scale + w @ self.points[start:stop]
            run_max = new_max
        return (run_vec / run_sum).reshape(x.shape).to(device=x.device, dtype=x.dtype)
