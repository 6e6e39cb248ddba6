"""EDM's deterministic Heun sampler for any denoiser D(x, sigma) (spec §2.4, §7).

    sigma_i = (sigma_max^(1/rho) + i/(N-1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho, sigma_N = 0,
    x_0 = sigma_0 z;  d_i = (x_i - D(x_i; sigma_i)) / sigma_i;  x_{i+1} = x_i + (sigma_{i+1} - sigma_i) d_i,
    then the trapezoidal (2nd-order) correction except on the last step.

With the defaults (18 steps) that is 35 denoiser evaluations. Samples are returned as floats
(no clipping, no quantisation: the MoLRG vectors must stay exact, spec §6.3).
"""
from __future__ import annotations

import torch

from .progress import progress

Tensor = torch.Tensor


def edm_sigma_steps(num_steps: int = 18, sigma_min: float = 0.002, sigma_max: float = 80.0,
                    rho: float = 7.0, device=None) -> Tensor:
    """The EDM noise levels sigma_0 > ... > sigma_{N-1} followed by sigma_N = 0 (float64, N + 1 values)."""
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    i = torch.arange(num_steps, dtype=torch.float64, device=device)
    frac = i / max(num_steps - 1, 1)
    t = (sigma_max ** (1 / rho) + frac * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    return torch.cat([t, torch.zeros(1, dtype=torch.float64, device=device)])


@torch.no_grad()
def heun_sample(denoiser, latents: Tensor, num_steps: int = 18, sigma_min: float = 0.002,
                sigma_max: float = 80.0, rho: float = 7.0, return_trajectory: bool = False):
    """Integrate the probability-flow ODE from x = sigma_max * latents down to sigma = 0.

    denoiser: any callable D(x, sigma) with sigma a (B,) tensor (U-Net precond, MoLRGDenoiser, ...).
    If it exposes `sigma_min`/`sigma_max` (VP-trained nets), the sigma range is clamped to them, as
    in EDM's sampler. latents: standard normal, any shape (B, ...); the trajectory is kept in float64
    and each denoiser call gets the latents' dtype.
    return_trajectory: also return the list of pre-step states [(x_i, sigma_i)], i = 0..N-1
    (the points where the Jacobian experiment evaluates D, spec §7).
    """
    sigma_min = max(sigma_min, float(getattr(denoiser, "sigma_min", 0.0)))
    sigma_max = min(sigma_max, float(getattr(denoiser, "sigma_max", float("inf"))))
    sigmas = edm_sigma_steps(num_steps, sigma_min, sigma_max, rho, device=latents.device)
    dtype, B = latents.dtype, latents.shape[0]

    def D(x: Tensor, sigma: Tensor) -> Tensor:
        return denoiser(x.to(dtype), sigma.to(dtype).expand(B)).to(torch.float64)

    x = latents.to(torch.float64) * sigmas[0]
    trajectory = []
    for i in range(num_steps):
        s_cur, s_next = sigmas[i], sigmas[i + 1]
        if return_trajectory:
            trajectory.append((x.to(dtype), float(s_cur)))
        d_cur = (x - D(x, s_cur)) / s_cur  # Euler step
        x_next = x + (s_next - s_cur) * d_cur
        if i < num_steps - 1:  # 2nd-order correction (skipped at sigma = 0)
            d_next = (x_next - D(x_next, s_next)) / s_next
            x_next = x + (s_next - s_cur) * (0.5 * d_cur + 0.5 * d_next)
        x = x_next
    x = x.to(dtype)
    return (x, trajectory) if return_trajectory else x


def generate(denoiser, num: int, shape: tuple, seed: int, batch_size: int = 1000, device="cpu",
             dtype=torch.float32, **heun_kwargs) -> Tensor:
    """`num` samples of shape `shape`, generated in batches from latents drawn on the CPU with one
    seeded generator (so the same seed gives the same samples on any device). Returned on the CPU."""
    out = []
    gen = torch.Generator().manual_seed(int(seed))
    for start in progress(range(0, num, batch_size), f"sampling {num} images", unit="batches"):
        b = min(batch_size, num - start)
        z = torch.randn((b, *shape), generator=gen, dtype=dtype).to(device)
        out.append(heun_sample(denoiser, z, **heun_kwargs).cpu())
    return torch.cat(out) if out else torch.empty((0, *shape), dtype=dtype)
