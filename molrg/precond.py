"""Preconditioning (network F -> denoiser D(x, sigma)) and training losses, EDM and VP (spec §2.4).

A preconditioned model is a denoiser in EDM space (s = 1): D(x, sigma) ~ E[x_0 | x_0 + sigma * n = x],
with x of shape (B, C, H, W) and sigma a float or a (B,) tensor. Both classes expose `sigma_min` /
`sigma_max` (the range the net was trained on), which the Heun sampler clamps to.

    EDM:  D = c_skip x + c_out F(c_in x, c_noise), c_skip = sd^2/(s^2+sd^2), c_out = s sd/sqrt(s^2+sd^2),
          c_in = 1/sqrt(s^2+sd^2), c_noise = ln(s)/4;  loss: ln s ~ N(P_mean, P_std^2),
          weight (s^2+sd^2)/(s sd)^2.
    VP:   D = x - s F(x/sqrt(s^2+1), (M-1) t(s)), with s(t) = sqrt(exp(beta_d t^2/2 + beta_min t) - 1);
          loss: t ~ U(eps_t, 1), weight 1/s^2.
"""
from __future__ import annotations

import torch
from torch import nn

Tensor = torch.Tensor


def _sigma_column(sigma, x: Tensor) -> Tensor:
    """sigma as a float32 tensor of shape (B, 1, ..., 1) broadcasting against x."""
    s = torch.as_tensor(sigma, dtype=torch.float32, device=x.device)
    s = s.expand(x.shape[0]) if s.ndim == 0 else s.reshape(-1)
    return s.reshape(-1, *([1] * (x.ndim - 1)))


class EDMPrecond(nn.Module):
    """EDM preconditioning (Karras et al. 2022) around a net F(x_in, c_noise)."""

    def __init__(self, net: nn.Module, sigma_data: float = 0.5, sigma_min: float = 0.0,
                 sigma_max: float = float("inf")):
        super().__init__()
        self.net, self.sigma_data = net, float(sigma_data)
        self.sigma_min, self.sigma_max = float(sigma_min), float(sigma_max)

    def forward(self, x: Tensor, sigma) -> Tensor:
        dtype = x.dtype
        x = x.float()
        s = _sigma_column(sigma, x)
        sd = self.sigma_data
        c_skip = sd**2 / (s**2 + sd**2)
        c_out = s * sd / (s**2 + sd**2).sqrt()
        c_in = 1 / (s**2 + sd**2).sqrt()
        c_noise = s.log().reshape(-1) / 4
        F_x = self.net(c_in * x, c_noise)
        return (c_skip * x + c_out * F_x.float()).to(dtype)


class VPPrecond(nn.Module):
    """VP preconditioning (Song et al. 2021, EDM's VPPrecond) around a net F(x_in, c_noise)."""

    def __init__(self, net: nn.Module, beta_d: float = 19.9, beta_min: float = 0.1, M: int = 1000,
                 epsilon_t: float = 1e-5):
        super().__init__()
        self.net, self.beta_d, self.beta_min, self.M, self.epsilon_t = net, float(beta_d), float(beta_min), int(M), float(epsilon_t)
        self.sigma_min = float(self.sigma(epsilon_t))
        self.sigma_max = float(self.sigma(1.0))

    def sigma(self, t):
        t = torch.as_tensor(t, dtype=torch.float64)
        return ((0.5 * self.beta_d * t**2 + self.beta_min * t).exp() - 1).sqrt()

    def sigma_inv(self, sigma):
        sigma = torch.as_tensor(sigma)
        return ((self.beta_min**2 + 2 * self.beta_d * (1 + sigma**2).log()).sqrt() - self.beta_min) / self.beta_d

    def forward(self, x: Tensor, sigma) -> Tensor:
        dtype = x.dtype
        x = x.float()
        s = _sigma_column(sigma, x)
        c_out = -s
        c_in = 1 / (s**2 + 1).sqrt()
        c_noise = (self.M - 1) * self.sigma_inv(s.reshape(-1))
        F_x = self.net(c_in * x, c_noise)
        return (x + c_out * F_x.float()).to(dtype)


def edm_loss(D: EDMPrecond, x0: Tensor, P_mean: float = -1.2, P_std: float = 1.2) -> Tensor:
    """EDM denoising loss: lambda(sigma) ||D(x0 + sigma n, sigma) - x0||^2 (Eq. 5's squared norm,
    summed over pixels as in EDM), averaged over the batch.

    Random draws come from torch's global generator (saved/restored by training.py for resume)."""
    ln_sigma = torch.randn(x0.shape[0], device=x0.device) * P_std + P_mean
    sigma = ln_sigma.exp()
    sd = D.sigma_data
    weight = (sigma**2 + sd**2) / (sigma * sd) ** 2
    noise = torch.randn_like(x0) * _sigma_column(sigma, x0)
    err = (D(x0 + noise, sigma) - x0) ** 2
    return _batch_mean(weight, err)


def _batch_mean(weight: Tensor, err: Tensor) -> Tensor:
    return (weight * err.flatten(1).sum(1)).mean()


def vp_loss(D: VPPrecond, x0: Tensor) -> Tensor:
    """VP denoising loss: t ~ U(epsilon_t, 1), sigma = sigma(t), weight 1/sigma^2 (EDM's VPLoss)."""
    t = torch.rand(x0.shape[0], device=x0.device) * (1 - D.epsilon_t) + D.epsilon_t
    sigma = D.sigma(t).float().to(x0.device)
    weight = 1 / sigma**2
    noise = torch.randn_like(x0) * _sigma_column(sigma, x0)
    err = (D(x0 + noise, sigma) - x0) ** 2
    return _batch_mean(weight, err)


PRECONDS = {"edm": EDMPrecond, "vp": VPPrecond}
LOSSES = {"edm": edm_loss, "vp": vp_loss}


def make_precond(kind: str, net: nn.Module, **kwargs) -> nn.Module:
    if kind not in PRECONDS:
        raise ValueError(f"precond must be one of {sorted(PRECONDS)}, got {kind!r}")
    return PRECONDS[kind](net, **kwargs)


def loss_fn(kind: str):
    """The loss matching a preconditioning kind (EDM's P_mean/P_std are keyword arguments)."""
    return LOSSES[kind]
