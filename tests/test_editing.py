"""DDIM inversion/generation in sigma-space, singular vectors by subspace iteration, edits and the
random baseline (molrg/editing.py), checked on the closed-form MoLRG denoiser."""
from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from molrg.checkpoint import VPEpsilonDenoiser, ddpm_linear_sigmas, is_torchscript, load_checkpoint_denoiser
from molrg.editing import (
    ddim_generate,
    ddim_invert,
    ddim_sigmas,
    edit_distances,
    edit_grid,
    edit_scale,
    edit_starts,
    generate_batched,
    leading_singular_vectors,
    random_unit_direction,
    random_unit_directions,
    vp_sigma,
)
from molrg.jacobian import jacobian
from molrg.mixture import MoLRG, MoLRGDenoiser, orthogonal_bases, sample, sample_balanced, standard_molrg


def _standard(n=48, K=2, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    U = orthogonal_bases(n, K, d, g)
    return MoLRGDenoiser(standard_molrg(U)), U, g


def test_vp_time_grid():
    # t = 0.7 of the linear-beta DDPM: sigma = sqrt(exp(0.5 * 19.9 * 0.49 + 0.07) - 1) ~ 11.82
    assert vp_sigma(0.7) == pytest.approx(math.sqrt(math.exp(4.9455) - 1))
    s = ddim_sigmas(0.7, 70)
    assert len(s) == 71 and (s[1:] > s[:-1]).all()
    assert float(s[-1]) == pytest.approx(vp_sigma(0.7)) and float(s[0]) == pytest.approx(vp_sigma(1e-3))
    # the continuous schedule matches the discrete 1000-step DDPM at t = 700 to 2%
    assert float(ddpm_linear_sigmas()[699]) == pytest.approx(vp_sigma(0.7), rel=0.02)
    with pytest.raises(ValueError):
        ddim_sigmas(0.7, 10, t_min=0.8)


def test_ddim_inversion_then_generation_returns_to_the_start():
    D, U, g = _standard()
    x0, _ = sample_balanced(U, 3, g)  # 6 images on the data support
    errors = []
    for steps in (100, 200):
        sigmas = ddim_sigmas(0.7, steps)
        xt = ddim_invert(D, x0, sigmas)
        assert xt.norm(dim=1).mean() > 5 * x0.norm(dim=1).mean()  # really noised: sigma ~ 11.8
        rec = ddim_generate(D, xt, sigmas)
        errors.append(((rec - x0).norm(dim=1) / x0.norm(dim=1)).max().item())
    # DDIM is a first-order scheme: ~4% after 100 steps (LOCO's count), halving with twice as many
    assert errors[0] < 0.05, errors
    assert errors[1] < 0.6 * errors[0], errors


def test_subspace_iteration_matches_the_dense_svd():
    # distinct eigenvalues so that the singular vectors are unique (up to sign)
    g = torch.Generator().manual_seed(3)
    K, n, d = 2, 20, 4
    U = orthogonal_bases(n, K, d, g)
    lam = torch.tensor([[4.0, 2.0, 1.0, 0.5], [3.0, 1.5, 0.8, 0.3]], dtype=torch.float64)
    m = MoLRG(torch.tensor([0.5, 0.5], dtype=torch.float64), torch.zeros(K, n, dtype=torch.float64), U, lam)
    D = MoLRGDenoiser(m)
    x, _ = sample(m, 1, g)
    sigma = 0.8
    x = x + sigma * torch.randn(x.shape, generator=g, dtype=torch.float64)
    V, S, used = leading_singular_vectors(D, x, sigma, k=3, iters=300, tol=1e-10, generator=g)
    _, S_ref, Vh_ref = torch.linalg.svd(jacobian(D, x, sigma)[0])
    torch.testing.assert_close(S, S_ref[:3], rtol=1e-6, atol=1e-8)
    overlap = (V * Vh_ref[:3]).sum(1).abs()
    assert (overlap > 1 - 1e-6).all(), overlap
    assert torch.allclose(V @ V.T, torch.eye(3, dtype=torch.float64), atol=1e-10)
    assert used < 300  # stopped on the tolerance


def test_zero_strength_edit_returns_the_unedited_image_and_edits_move_it():
    n = 400  # large enough that a random direction is mostly orthogonal to the 8-dim data support
    D, U, g = _standard(n=n)
    x0, _ = sample_balanced(U, 1, g)
    x0 = x0[:1]
    sigmas = ddim_sigmas(0.7, 70)
    xt = ddim_invert(D, x0, sigmas)
    reference = ddim_generate(D, xt, sigmas)
    V, S, _ = leading_singular_vectors(D, xt, float(sigmas[-1]), k=2, iters=15, generator=g)
    dirs = torch.cat([V, random_unit_direction(n, g, torch.float64).unsqueeze(0)])
    strengths = [-4.0, 0.0, 4.0]
    out = edit_grid(D, xt, dirs, strengths, sigmas, batch_size=4)  # batches split across rows
    assert out.shape == (3, 3, n)
    for i in range(3):
        torch.testing.assert_close(out[i, 1], reference[0], rtol=0, atol=1e-12)
    assert (reference - x0).norm() < 0.1 * x0.norm()  # 70 first-order steps: ~5%
    dist = edit_distances(out, reference)
    assert dist["l2"][:, 1].abs().max() < 1e-12
    torch.testing.assert_close(dist["rms"], dist["l2"] / math.sqrt(n))
    # singular directions move the image along the data subspace (by ~lambda / sqrt(1 + sigma^2));
    # a random unit direction has only ~sqrt(8 / n) of its length there, the rest is shrunk by
    # sigma_0 / sigma_edit on the way back
    assert dist["l2"][0, 2] > 3 * dist["l2"][2, 2]
    assert dist["l2"][1, 2] > 3 * dist["l2"][2, 2]
    assert dist["l2"][0, 2] > 0.2


def test_vp_strength_moves_the_edm_state_by_lambda_sqrt_one_plus_sigma_squared():
    # LOCO-Edit edits the VP state x_vp = x / sqrt(1 + sigma^2) by lambda v: in EDM space that is
    # lambda sqrt(1 + sigma^2) v (11.85 v per unit lambda at t = 0.7 T, sigma ~ 11.8)
    g = torch.Generator().manual_seed(0)
    n, sigma = 30, vp_sigma(0.7)
    assert edit_scale(sigma, "vp") == pytest.approx(math.sqrt(1 + sigma**2)) and edit_scale(sigma, "vp") > 11.8
    assert edit_scale(sigma, "edm") == 1.0
    with pytest.raises(ValueError, match="strength_units"):
        edit_scale(sigma, "ve")
    x = sigma * torch.randn(1, n, generator=g, dtype=torch.float64)
    V = torch.linalg.qr(torch.randn(n, 2, generator=g, dtype=torch.float64)).Q.T  # two unit directions
    lams = [-6.0, 0.0, 2.0, 4.0]
    starts = edit_starts(x, V, lams, sigma, "vp")
    assert starts.shape == (2, 4, n)
    for i in range(2):
        for j, lam in enumerate(lams):
            moved = starts[i, j] - x[0]
            assert moved.norm().item() == pytest.approx(abs(lam) * math.sqrt(1 + sigma**2), rel=1e-12, abs=1e-12)
            # in VP coordinates the move is exactly lambda v
            torch.testing.assert_close(moved / math.sqrt(1 + sigma**2), lam * V[i], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(edit_starts(x, V, lams, sigma, "edm")[1, 2] - x[0], 2.0 * V[1])


def test_vp_edits_along_singular_vectors_change_the_output_more_than_a_random_direction():
    # closed-form MoLRG at a noise level inside a trained range (sigma ~ 2, t = 0.4): in VP units the
    # v_i edit moves the clean estimate by ~ lambda sqrt(1 + sigma^2) s_i along the data subspace, a
    # random unit direction has ~ sqrt(K d / n) of its length there
    n = 200
    D, U, g = _standard(n=n, K=2, d=4)
    x0, _ = sample_balanced(U, 1, g)
    x0 = x0[:1]
    sigmas = ddim_sigmas(0.4, 40)
    sigma = float(sigmas[-1])
    assert sigma == pytest.approx(2.03, abs=0.01)
    xt = ddim_invert(D, x0, sigmas)
    reference = ddim_generate(D, xt, sigmas)
    V, S, _ = leading_singular_vectors(D, xt, sigma, k=3, iters=30, generator=g)
    dirs = torch.cat([V, random_unit_direction(n, g, torch.float64).unsqueeze(0)])
    strengths = [-2.0, 0.0, 2.0]
    vp = edit_distances(edit_grid(D, xt, dirs, strengths, sigmas, units="vp"), reference)["l2"]
    edm = edit_distances(edit_grid(D, xt, dirs, strengths, sigmas, units="edm"), reference)["l2"]
    for i in range(3):
        for j in (0, 2):
            assert vp[i, j] > 3 * vp[3, j], (vp, i, j)
    # the VP edit is the EDM edit scaled by sqrt(1 + sigma^2) ~ 2.26: in the linear regime the change
    # scales with it (the posterior weights move, so only roughly)
    assert (vp[:3, 2] / edm[:3, 2]).min() > 1.5
    assert vp[0, 2] > 1.0  # a visible change: the image itself has norm ~ sqrt(d) = 2


def test_norm_fraction_strength_moves_the_state_by_that_fraction_of_its_norm():
    g = torch.Generator().manual_seed(1)
    n, sigma = 64, 2.03
    x = sigma * torch.randn(1, n, generator=g, dtype=torch.float64)
    V = torch.linalg.qr(torch.randn(n, 3, generator=g, dtype=torch.float64)).Q.T
    fracs = [-0.3, 0.05, 0.2]
    starts = edit_starts(x, V, fracs, sigma, "norm_fraction")
    for i in range(3):
        for j, f in enumerate(fracs):
            assert (starts[i, j] - x[0]).norm().item() == pytest.approx(abs(f) * x.norm().item(), rel=1e-12)
    # the same fraction means the same relative move whatever the image size or the state's scale
    assert edit_scale(sigma, "norm_fraction", 7.5) == 7.5
    for bad in (None, 0.0):
        with pytest.raises(ValueError, match="norm"):
            edit_scale(sigma, "norm_fraction", bad)


def test_random_unit_directions_are_unit_seeded_and_sequential():
    R = random_unit_directions(5, 50, torch.Generator().manual_seed(2))
    assert R.shape == (5, 50) and torch.allclose(R.norm(dim=1), torch.ones(5), atol=1e-6)
    g = torch.Generator().manual_seed(2)
    assert torch.equal(R[3], [random_unit_direction(50, g) for _ in range(4)][3])
    assert random_unit_directions(0, 50, g).shape == (0, 50)


def test_generate_batched_matches_one_batch():
    D, U, g = _standard(n=48)
    x0, _ = sample_balanced(U, 3, g)
    sigmas = ddim_sigmas(0.4, 10)
    xt = ddim_invert(D, x0, sigmas)
    torch.testing.assert_close(generate_batched(D, xt, sigmas, batch_size=4), ddim_generate(D, xt, sigmas))
    with pytest.raises(ValueError, match="batch_size"):
        generate_batched(D, xt, sigmas, batch_size=0)


def test_singular_edits_beat_the_random_distribution_on_molrg_at_a_norm_fraction():
    # the experiment of the editing rule on the closed-form MoLRG (n = 200, K d = 8): at f = 0.2 the
    # median change along v_1..v_3 exceeds the 95 % quantile of 20 random directions' changes
    from molrg.edit_stats import image_exceedance

    n = 200
    D, U, g = _standard(n=n, K=2, d=4)
    x0, _ = sample_balanced(U, 2, g)
    sigmas = ddim_sigmas(0.4, 40)
    sigma = float(sigmas[-1])
    xt = ddim_invert(D, x0, sigmas)
    ref = ddim_generate(D, xt, sigmas)
    rows = []
    for b in range(len(x0)):
        V, _, _ = leading_singular_vectors(D, xt[b : b + 1], sigma, k=3, iters=30, generator=g)
        R = random_unit_directions(20, n, g, torch.float64)
        out = edit_grid(D, xt[b : b + 1], torch.cat([V, R]), [0.2], sigmas, units="norm_fraction")
        l2 = edit_distances(out, ref[b])["l2"][:, 0]
        rows += [{"image": b, "kind": "singular" if i < 3 else "random", "l2_change": float(v)}
                 for i, v in enumerate(l2)]
    ex = image_exceedance(pd.DataFrame(rows))
    assert ex.exceeds.all() and (ex.ratio > 2).all(), ex


def test_random_unit_direction_is_unit_and_seeded():
    a = random_unit_direction(100, torch.Generator().manual_seed(5))
    b = random_unit_direction(100, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.norm().item() == pytest.approx(1.0, abs=1e-6)


class _ExactEps(torch.nn.Module):
    """The exact epsilon of a DDPM whose data are all zero: eps = x_vp / sqrt(1 - abar_t)."""

    def __init__(self):
        super().__init__()
        s = ddpm_linear_sigmas()
        self.register_buffer("std", torch.sqrt(s * s / (1 + s * s)).float())  # sqrt(1 - abar)

    def forward(self, x, t):
        return x / self.std[t].reshape(-1, 1, 1, 1)


def test_vp_epsilon_wrapper_and_torchscript_loading(tmp_path):
    path = tmp_path / "eps.pt"
    torch.jit.script(_ExactEps()).save(str(path))
    assert is_torchscript(path)
    D = load_checkpoint_denoiser(path, "cpu", kind="vp_epsilon")
    sig = ddpm_linear_sigmas()
    x = torch.randn(2, 3, 4, 4)
    for t in (0, 300, 699, 999):  # at the DDPM's own noise levels the wrapper denoises exactly
        s = float(sig[t])
        assert D(x * s, s).abs().max() < 1e-4 * s
    torch.save({"not": "torchscript"}, tmp_path / "plain.pt")
    assert not is_torchscript(tmp_path / "plain.pt")
    with pytest.raises(FileNotFoundError, match="not found"):
        load_checkpoint_denoiser(tmp_path / "missing.pt", "cpu")


# --- configuration: schema and cross-field checks of the `editing` section -------------------
def _config():
    from pathlib import Path

    import yaml

    return yaml.safe_load((Path(__file__).resolve().parent.parent / "config.yaml").read_text())


def test_editing_schema_and_cross_checks(tmp_path):
    from pathlib import Path

    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    from molrg.config_checks import ConfigError, _editing

    schema = str(Path(__file__).resolve().parent.parent / "workflow" / "schemas" / "editing.schema.yaml")
    full = _config()
    cfg = full["editing"]
    validate(dict(cfg), schema)
    _editing(cfg, full)
    for bad in ({"edit_t": 1.5}, {"strengths": []}, {"checkpoint_kind": "ddpm"}, {"extra": 0},
                {"strength_units": "fraction"}, {"num_random": -1}, {"num_images": 0}, {"image_indices": []},
                {"image_indices": [1, 1]}):
        with pytest.raises(WorkflowError):
            validate({**cfg, **bad}, schema)
    with pytest.raises(ConfigError, match="editing.checkpoint"):
        _editing({**cfg, "checkpoint": str(tmp_path / "missing.pt")}, full)
    with pytest.raises(ConfigError, match="editing.strengths"):
        _editing({**cfg, "strength_units": "norm_fraction", "strengths": [0.1, 6]}, full)
    _editing({**cfg, "strength_units": "vp", "strengths": [-6, 0, 6]}, full)  # the paper's absolute values
    validate({**cfg, "image_indices": [0, 5]}, schema)
    with pytest.raises(ConfigError, match="editing.t_min"):
        _editing({**cfg, "t_min": 0.8}, full)
    with pytest.raises(ConfigError, match="editing.dataset"):
        _editing({**cfg, "dataset": "nope"}, full)
    # a path under results/ is made by the pipeline (any checkpoint it trains) and is not checked
    _editing({**cfg, "checkpoint": "results/molrg_unet/models/d4_N256_seed0/model.pt"}, full)
    existing = tmp_path / "metfaces.pt"
    existing.write_bytes(b"x")
    _editing({**cfg, "checkpoint": str(existing), "checkpoint_kind": "vp_epsilon"}, full)
