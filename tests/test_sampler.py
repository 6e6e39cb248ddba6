"""The EDM Heun sampler: sigma grid, clamping, determinism, and a distributional check with the
closed-form MoLRG denoiser (samples must have the MoLRG's covariance and lie on its subspaces)."""
from __future__ import annotations

import pytest
import torch

from molrg.mixture import MoLRGDenoiser, orthogonal_bases, sample, standard_molrg
from molrg.sampler import edm_sigma_steps, generate, heun_sample


def test_sigma_steps_match_the_spec_table():
    s = edm_sigma_steps(18, 0.002, 80.0, 7.0)
    assert len(s) == 19 and s[-1] == 0
    expected = [80, 57.6, 40.8, 28.37, 19.35, 12.91, 8.40, 5.32, 3.26, 1.92, 1.09, 0.585, 0.296, 0.140, 0.060, 0.023, 0.0075, 0.002]
    assert torch.allclose(s[:-1], torch.tensor(expected, dtype=torch.float64), rtol=0.01)
    assert (s[:-1].diff() < 0).all()


class Recorder(torch.nn.Module):
    """A Gaussian N(0, v I) denoiser that records the sigmas it is called with."""

    def __init__(self, v=0.25, sigma_min=None, sigma_max=None):
        super().__init__()
        self.v, self.calls = v, []
        if sigma_min is not None:
            self.sigma_min, self.sigma_max = sigma_min, sigma_max

    def forward(self, x, sigma):
        self.calls.append(sigma.clone())
        s2 = sigma.reshape(-1, *([1] * (x.ndim - 1))) ** 2
        return x * self.v / (self.v + s2)


def test_35_evaluations_and_clamping_to_the_nets_range():
    D = Recorder()
    heun_sample(D, torch.randn(4, 3, 2, 2))
    assert len(D.calls) == 35  # 18 Euler + 17 corrections
    assert D.calls[0].shape == (4,) and float(D.calls[0][0]) == pytest.approx(80.0)
    V = Recorder(sigma_min=0.01, sigma_max=20.0)  # a VP net's range
    heun_sample(V, torch.randn(4, 3, 2, 2))
    sig = torch.cat(V.calls)
    assert float(sig.max()) == pytest.approx(20.0, rel=1e-5) and float(sig.min()) == pytest.approx(0.01, rel=1e-5)


def test_gaussian_denoiser_gives_the_gaussians_variance():
    # for N(0, v I) the probability-flow ODE is linear: x(0) = x(T) sqrt(v / (v + T^2)); Heun is close
    x = heun_sample(Recorder(v=0.25), torch.randn(5000, 4, dtype=torch.float64), num_steps=40)
    assert float(x.var()) == pytest.approx(0.25, rel=0.05)


def test_generate_is_deterministic_and_returns_floats():
    D = Recorder()
    a = generate(D, 10, (3, 2, 2), seed=3, batch_size=4, num_steps=5)
    b = generate(D, 10, (3, 2, 2), seed=3, batch_size=4, num_steps=5)
    c = generate(D, 10, (3, 2, 2), seed=4, batch_size=4, num_steps=5)
    assert a.dtype == torch.float32 and a.shape == (10, 3, 2, 2)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_return_trajectory_gives_the_pre_step_states():
    x, traj = heun_sample(Recorder(), torch.randn(2, 3), num_steps=6, return_trajectory=True)
    assert len(traj) == 6 and traj[0][1] == pytest.approx(80.0) and traj[-1][1] == pytest.approx(0.002)
    assert traj[0][0].shape == x.shape


def test_molrg_denoiser_with_heun_reproduces_the_molrg():
    """Distributional check: the closed-form MoLRG posterior mean plugged into the sampler gives
    samples on the union of subspaces, balanced over components, whose covariance matches
    sum_k pi_k U_k U_k^T as closely as that of as many fresh MoLRG samples."""
    g = torch.Generator().manual_seed(0)
    K, n, d, M = 2, 48, 4, 2000
    U = orthogonal_bases(n, K, d, g)
    model = standard_molrg(U)
    z = torch.randn(M, 3, 4, 4, generator=g, dtype=torch.float64)
    # 18 steps inflate the variance by a few % at these unit eigenvalues (docs/molrg_unet.md): use 40
    x = heun_sample(MoLRGDenoiser(model), z, num_steps=40).reshape(M, n)

    proj = torch.einsum("mn,knd->kmd", x, U)  # coordinates in every subspace
    energy = (proj**2).sum(-1)
    off_subspace = (x**2).sum(1) - energy.max(0).values
    assert float(off_subspace.max()) < 1e-6 * float((x**2).sum(1).mean())  # on one subspace each
    frac = (energy.argmax(0) == 0).double().mean()
    assert abs(float(frac) - 0.5) < 4 * (0.25 / M) ** 0.5

    C_true = sum(model.pi[k] * U[k] @ U[k].T for k in range(K))
    err = float((x.T @ x / M - C_true).norm() / C_true.norm())
    fresh_err = []
    for _ in range(5):
        f, _ = sample(model, M, g)
        fresh_err.append(float((f.T @ f / M - C_true).norm() / C_true.norm()))
    assert err < 1.5 * max(fresh_err), (err, fresh_err)
    # and the right within-component covariance (identity in the subspace coordinates)
    for k in range(K):
        a = proj[k][energy.argmax(0) == k]
        assert torch.allclose(a.T @ a / len(a), torch.eye(d, dtype=torch.float64), atol=0.12)
