"""Semantic editing along the leading singular vectors of the denoiser's Jacobian (Section 4.2,
Fig. 5, Eq. 22): DDIM inversion to the edit time, subspace iteration for the right singular
vectors v_i of J_t = d x0_hat / d x_t, edits x_t + lambda v_i, DDIM back to t = 0.

Spec reference (../shared/paper_spec.md): §8 (LOCO-Edit setting). Everything is written in EDM
sigma-space (s = 1) for any denoiser `D(x, sigma)` of the package interface:

* deterministic DDIM (eta = 0) is the Euler step of the probability-flow ODE in sigma,
      x_{sigma'} = D(x; sigma) + (sigma' / sigma) (x - D(x; sigma)),
  which is exactly DDPM's DDIM update after the change of variables x_vp = x / sqrt(1 + sigma^2),
  sigma = sqrt((1 - abar) / abar); inversion runs the same update with sigma' > sigma;
* the edit time is a fraction t of T on the VP schedule of the DDPMs the paper edits with:
  sigma(t) = sqrt(exp(beta_d t^2 / 2 + beta_min t) - 1) (beta_d = 19.9, beta_min = 0.1 is the
  continuous form of the linear 1e-4 .. 0.02 DDPM schedule over 1000 steps), so t = 0.7 gives
  sigma ~ 11.8 whatever network is edited;
* edit strengths are given in one of three units (`edit_scale`): `norm_fraction` (default of the
  pipeline) moves the state by f ||x_t|| v, a fraction f of the state's own norm, which means the
  same thing at any resolution and in either coordinate system (x_vp is x scaled by a constant);
  `vp` is LOCO-Edit's absolute lambda on the variance-preserving state x_vp = x / sqrt(1 + sigma^2),
  i.e. the EDM state moves by lambda sqrt(1 + sigma^2) v; `edm` applies lambda to x unchanged.
  LOCO-Edit's |lambda| = 6 was chosen for 256 x 256 x 3 images (||x_vp|| ~ 443, 1.4 %); on an
  8 x 8 image (||x_vp|| ~ 8) the same lambda is most of the state.
"""
from __future__ import annotations

import logging
import math
import time
from typing import Callable, Sequence

import numpy as np
import torch

from .edit_stats import RANDOM, SINGULAR
from .progress import progress
from .runtime import derive_seed

Tensor = torch.Tensor
Denoiser = Callable[[Tensor, object], Tensor]


# --------------------------------------------------------------------------------------------
# Time grid
# --------------------------------------------------------------------------------------------
def vp_sigma(t, beta_d: float = 19.9, beta_min: float = 0.1):
    """sigma(t) of the VP schedule (spec §2.4); works on floats and tensors."""
    if isinstance(t, Tensor):
        return torch.sqrt(torch.expm1(0.5 * beta_d * t**2 + beta_min * t))
    return math.sqrt(math.expm1(0.5 * beta_d * t**2 + beta_min * t))


def ddim_sigmas(t_edit: float, num_steps: int, t_min: float = 1e-3, beta_d: float = 19.9, beta_min: float = 0.1) -> Tensor:
    """Increasing noise levels sigma_0 < ... < sigma_M = sigma(t_edit), uniform in VP time
    between t_min and t_edit (DDIM's uniformly spaced timesteps), float64. The clean image is
    taken as the state at sigma_0 = sigma(t_min) (~0.01 for t_min = 1e-3, below the 8-bit
    quantisation step of an image in [-1, 1])."""
    if not 0 < t_min < t_edit <= 1:
        raise ValueError(f"need 0 < t_min < t_edit <= 1, got t_min={t_min}, t_edit={t_edit}")
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    t = torch.linspace(t_min, t_edit, num_steps + 1, dtype=torch.float64)
    return vp_sigma(t, beta_d, beta_min)


# --------------------------------------------------------------------------------------------
# DDIM (eta = 0) in sigma-space
# --------------------------------------------------------------------------------------------
@torch.no_grad()
def ddim_step(denoiser: Denoiser, x: Tensor, sigma: float, sigma_next: float) -> Tensor:
    """One deterministic DDIM step from sigma to sigma_next (either direction)."""
    d = denoiser(x, float(sigma))
    return d + (float(sigma_next) / float(sigma)) * (x - d)


def ddim_invert(denoiser: Denoiser, x0: Tensor, sigmas: Tensor) -> Tensor:
    """DDIM inversion: from the clean image (the state at sigmas[0]) up to sigmas[-1]."""
    x = x0
    for s, s_next in zip(sigmas[:-1], sigmas[1:]):
        x = ddim_step(denoiser, x, s, s_next)
    return x


def ddim_generate(denoiser: Denoiser, x: Tensor, sigmas: Tensor) -> Tensor:
    """DDIM generation: from the state at sigmas[-1] down to sigmas[0] (returned as the image,
    the inverse of `ddim_invert` up to discretisation error)."""
    for s, s_next in zip(reversed(sigmas[1:]), reversed(sigmas[:-1])):
        x = ddim_step(denoiser, x, s, s_next)
    return x


# --------------------------------------------------------------------------------------------
# Leading singular vectors without a dense Jacobian
# --------------------------------------------------------------------------------------------
def _canonical_signs(V: Tensor) -> Tensor:
    """Make the largest-magnitude entry of every row positive (the SVD's sign is arbitrary; this
    makes the result reproducible and independent of the random start)."""
    idx = V.abs().argmax(dim=1, keepdim=True)
    return V * torch.sign(torch.gather(V, 1, idx))


def leading_singular_vectors(
    denoiser: Denoiser,
    x: Tensor,
    sigma: float,
    k: int,
    iters: int = 50,
    tol: float = 1e-4,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor, int]:
    """The k leading right singular vectors of J = dD(x; sigma)/dx at one point x (shape
    (1, ...) or (...)), by subspace iteration on J^T J with Jacobian-vector products only:
    J V by forward mode (jvp) and J^T W by reverse mode (vjp), each vmapped over the k columns,
    then QR; a final Rayleigh-Ritz step orders the vectors and gives the singular values.

    Stops when the projector onto span(V) moves by less than `tol` (Frobenius norm / sqrt(2k))
    or after `iters` iterations. Returns V (k, n) with unit rows, the singular values (k,), and
    the number of iterations used.
    """
    shape = tuple(x.shape[1:]) if x.shape[0] == 1 else tuple(x.shape)
    n = math.prod(shape)
    if not 1 <= k <= n:
        raise ValueError(f"number of singular vectors k={k} must lie in [1, n={n}]")
    x0 = x.detach().reshape(n)

    def f(v: Tensor) -> Tensor:
        return denoiser(v.reshape(1, *shape), float(sigma)).reshape(n)

    def J_mul(V: Tensor) -> Tensor:  # rows: J v_i
        return torch.func.vmap(lambda v: torch.func.jvp(f, (x0,), (v,))[1])(V)

    _, vjp_fn = torch.func.vjp(f, x0)

    def Jt_mul(W: Tensor) -> Tensor:  # rows: J^T w_i
        return torch.func.vmap(vjp_fn)(W)[0]

    g = torch.randn(n, k, generator=generator, dtype=torch.float64).to(x0)
    V = torch.linalg.qr(g).Q.T  # (k, n), orthonormal rows
    used = 0
    for used in progress(range(1, iters + 1), f"subspace iteration for {k} singular vectors (ends early once converged)",
                         unit="iterations"):
        V_new = torch.linalg.qr(Jt_mul(J_mul(V)).T).Q.T
        moved = torch.linalg.matrix_norm(V_new.T @ V_new - V.T @ V) / math.sqrt(2 * k)
        V = V_new
        if moved < tol:
            break
    # Rayleigh-Ritz: J V^T = P S Q^T  =>  right singular vectors (V^T Q) ordered by S.
    _, S, Qh = torch.linalg.svd(J_mul(V).T, full_matrices=False)
    V = Qh @ V
    return _canonical_signs(V), S, used


def random_unit_direction(n: int, generator: torch.Generator, dtype=torch.float32) -> Tensor:
    """A uniform direction on the unit sphere in R^n (a normalised Gaussian): the baseline edit."""
    v = torch.randn(n, generator=generator, dtype=torch.float64)
    return (v / v.norm()).to(dtype)


def random_unit_directions(m: int, n: int, generator: torch.Generator, dtype=torch.float32) -> Tensor:
    """m independent uniform directions on the unit sphere in R^n, (m, n): the random baseline,
    drawn in order from one generator (row i is what the i-th `random_unit_direction` call gives)."""
    if m < 0:
        raise ValueError(f"number of random directions must be >= 0, got {m}")
    rows = [random_unit_direction(n, generator, dtype) for _ in range(m)]
    return torch.stack(rows) if rows else torch.zeros(0, n, dtype=dtype)


# --------------------------------------------------------------------------------------------
# The editing experiment (rule editing, Fig 5)
# --------------------------------------------------------------------------------------------
SHOW_RANDOM = 2  # random directions of the first image kept for the figure's edit grid (display only)
log = logging.getLogger(__name__)


def select_images(num_available: int, indices, num_images: int, seed: int, source_name: str) -> list[int]:
    """The rows of a dataset to edit: the configured `indices` (editing.image_indices, each in
    [0, num_available)), else `num_images` rows drawn without replacement by a generator seeded from
    `seed` and the checkpoint's or dataset's name."""
    if indices:
        bad = [i for i in indices if not 0 <= i < num_available]
        if bad:
            raise IndexError(f"editing.image_indices {bad} outside the {num_available} images of {source_name}")
        return [int(i) for i in indices]
    rng = np.random.default_rng(derive_seed(seed, "editing", "images", source_name))
    return [int(r) for r in rng.choice(num_available, size=min(num_images, num_available), replace=False).tolist()]


def load_edit_image(path, denoiser, size: int | None = None) -> Tensor:
    """An external image to edit, (1, C, H, W) in [-1, 1], centre-cropped to a square and resized to
    `size` (default: the U-Net's own resolution where the model exposes it, else not resized), grey
    or RGB as the U-Net takes it (RGB if unknown): molrg.datasets.image_to_array."""
    from PIL import Image

    from .datasets import image_to_array, to_model_space

    net = getattr(denoiser, "net", None)  # molrg U-Nets expose their input format
    size = size or getattr(net, "img_resolution", None)
    with Image.open(path) as img:
        array = image_to_array(img, size or min(img.size), getattr(net, "in_channels", 3))
    return torch.from_numpy(to_model_space(array[None]))


def jacobian_gains(denoiser: Denoiser, x: Tensor, sigma: float, directions: Tensor) -> Tensor:
    """||J v|| of each row v of `directions` (m, n), J = dD(x; sigma)/dx at one point x of shape
    (1, ...): one batched jvp."""
    if not len(directions):
        return directions[:, 0]
    f = lambda v: denoiser(v.reshape(1, *x.shape[1:]), sigma).reshape(-1)  # noqa: E731
    return torch.func.vmap(lambda r: torch.func.jvp(f, (x.reshape(-1),), (r,))[1].norm())(directions)


def edit_directions(denoiser: Denoiser, x: Tensor, sigma: float, num_vectors: int, num_random: int,
                    power_iters: int, tol: float, seeds: tuple[int, int]) -> tuple[Tensor, list, int]:
    """The directions of one state x (1, ...): the leading right singular vectors v_1..v_k of the
    Jacobian (subspace iteration, seeded by seeds[0]), then `num_random` uniform unit directions
    (seeds[1]). Returns them (k + num_random, n), their gains ||J v|| (the singular values for the
    v_i) and the subspace iterations used."""
    V, S, used = leading_singular_vectors(denoiser, x, sigma, num_vectors, power_iters, tol,
                                          torch.Generator().manual_seed(seeds[0]))
    R = random_unit_directions(num_random, x.numel(), torch.Generator().manual_seed(seeds[1])).to(x)
    return torch.cat([V, R]), S.tolist() + jacobian_gains(denoiser, x, sigma, R).tolist(), used


def edit_experiment(denoiser: Denoiser, x0: Tensor, image_ids, seed: int, source_name: str, *, edit_t: float,
                    ddim_steps: int, t_min: float, num_vectors: int, num_random: int, strengths: Sequence[float],
                    units: str, power_iters: int, tol: float, batch_size: int = 64) -> dict:
    """Section 4.2's experiment on images x0 (B, C, H, W): DDIM inversion to t = edit_t T (in
    round(edit_t ddim_steps) steps from t_min), the unedited DDIM reconstructions, per image the
    directions of `edit_directions` (seeded from `seed`, `source_name` and the image's id), the
    edits x_t + lambda edit_scale v at every strength, DDIM back to t = 0, and each edited image's
    L2 change from its reconstruction.

    Returns a dict: sigma_edit, t_edit, units, strengths, names (v1.., r1..) and kinds (singular /
    random) of the directions, reference (B, ...), edited (B, m, L, ...), l2 and rms (B, m, L)
    numpy, gains (B lists of m), iters (B,), state_norm (B,) = ||x_t||, scales (B,) = EDM-space
    length of a unit edit of each image, timing (seconds per phase)."""
    t_start = time.perf_counter()
    B, shape, n = len(x0), tuple(x0.shape[1:]), x0[0].numel()
    sigmas = ddim_sigmas(edit_t, max(1, round(edit_t * ddim_steps)), t_min)
    sigma = float(sigmas[-1])
    log.info("%d images %s, n = %d; %d DDIM steps up to t = %g (sigma %.4g)", B, shape, n, len(sigmas) - 1, edit_t,
             sigma)
    x_t = ddim_invert(denoiser, x0, sigmas)
    reference = ddim_generate(denoiser, x_t, sigmas)
    state_norm = [float(v) for v in x_t.flatten(1).norm(dim=1)]
    log.info("reconstruction error (RMS per pixel, mean over images): %.4g",
             (reference - x0).flatten(1).pow(2).mean(1).sqrt().mean().item())
    t_invert = time.perf_counter()
    starts, gains, iters = [], [], []
    for b, image in enumerate(image_ids):
        seeds = tuple(derive_seed(seed, "editing", source_name, image, kind) for kind in ("subspace", "random"))
        directions, g, used = edit_directions(denoiser, x_t[b : b + 1], sigma, num_vectors, num_random, power_iters,
                                              tol, seeds)
        gains.append(g)
        iters.append(used)
        starts.append(edit_starts(x_t[b : b + 1], directions, strengths, sigma, units))
        log.info("image %s: gains %s (%d iterations)", image, [f"{v:.4g}" for v in g], used)
    t_svd = time.perf_counter()
    starts = torch.stack(starts)  # (B, m, L, n)
    m, L = starts.shape[1:3]
    edited = generate_batched(denoiser, starts.reshape(B * m * L, *shape), sigmas, batch_size).reshape(B, m, L, *shape)
    l2 = (edited.flatten(3) - reference.reshape(B, 1, 1, -1)).norm(dim=-1).cpu().numpy()
    timing = {"invert_s": t_invert - t_start, "singular_vectors_s": t_svd - t_invert,
              "edits_s": time.perf_counter() - t_svd, "ddim_trajectories": int(B * m * L)}
    log.info("timing: %s", timing)
    return {"sigma_edit": sigma, "t_edit": float(edit_t), "units": units, "strengths": list(strengths),
            "names": [f"v{i + 1}" for i in range(num_vectors)] + [f"r{j + 1}" for j in range(num_random)],
            "kinds": [SINGULAR] * num_vectors + [RANDOM] * num_random,
            "reference": reference, "edited": edited, "l2": l2, "rms": l2 / np.sqrt(n), "gains": gains,
            "iters": iters, "state_norm": state_norm, "scales": [edit_scale(sigma, units, v) for v in state_norm],
            "timing": timing}


@torch.no_grad()
def edit_labels(classifier, x0: Tensor, result: dict, resolution: int | None = None) -> dict:
    """The classifier's labels of the original images (B,), their unedited reconstructions (B,) and
    the edited images (B, m, L) of `edit_experiment`'s result, each resized (area-weighted) to the
    `resolution` the classifier was trained at where it differs."""
    import torch.nn.functional as F

    from .descriptors import predict_labels

    def labels(images):
        x = images.float().cpu()
        if resolution and x.shape[-1] != resolution:
            x = F.interpolate(x, size=(resolution,) * 2, mode="area")
        return predict_labels(classifier, x.clamp(-1, 1), batch_size=1024)

    edited = result["edited"]
    B, m, L = edited.shape[:3]
    return {"original": labels(x0), "before": labels(result["reference"]),
            "after": labels(edited.reshape(B * m * L, *edited.shape[3:])).reshape(B, m, L)}


def figure_arrays(x0: Tensor, image_ids, result: dict, labels: dict | None, sigma_train) -> dict:
    """What Fig 5's edit grid shows, for np.savez: the first image, its reconstruction and its edits
    along every singular vector and the first SHOW_RANDOM random directions (with names, gains,
    labels before / after, -1 without a classifier), the strengths, ||x_t||, the edit's sigma and
    time, the units and the trained sigma range."""
    kinds = result["kinds"]
    show = [i for i, k in enumerate(kinds) if k == SINGULAR]
    show += [i for i, k in enumerate(kinds) if k == RANDOM][:SHOW_RANDOM]
    L = len(result["strengths"])
    return {"image": np.asarray(image_ids[0]), "original": x0[0].cpu().numpy(),
            "reconstruction": result["reference"][0].cpu().numpy(), "edited": result["edited"][0, show].cpu().numpy(),
            "strengths": np.asarray(result["strengths"], dtype=np.float64),
            "directions": np.asarray([result["names"][i] for i in show]),
            "gains": np.asarray([result["gains"][0][i] for i in show]), "state_norm": np.float64(result["state_norm"][0]),
            "sigma_edit": np.float64(result["sigma_edit"]), "t_edit": np.float64(result["t_edit"]),
            "strength_units": np.asarray(result["units"]), "sigma_train": np.asarray(sigma_train, dtype=np.float64),
            "labels_before": np.asarray(-1 if labels is None else labels["before"][0]),
            "labels_after": np.full((len(show), L), -1) if labels is None else labels["after"][0, show]}


# --------------------------------------------------------------------------------------------
# Edits
# --------------------------------------------------------------------------------------------
EDIT_UNITS = ("norm_fraction", "vp", "edm")


def edit_scale(sigma: float, units: str = "vp", state_norm: float | None = None) -> float:
    """EDM-space length of a unit edit:
    * `norm_fraction`: ||x_t|| (`state_norm`), so that strength f moves the state by f ||x_t||;
    * `vp`: sqrt(1 + sigma^2), lambda in the variance-preserving units of LOCO-Edit
      (x_vp = x / sqrt(1 + sigma^2), so x_vp + lambda v <=> x + lambda sqrt(1 + sigma^2) v);
    * `edm`: 1, lambda applied to the EDM state x directly."""
    if units == "norm_fraction":
        if state_norm is None or not state_norm > 0:
            raise ValueError(f"strength_units = norm_fraction needs the state's norm > 0, got {state_norm}")
        return float(state_norm)
    if units == "vp":
        return math.sqrt(1.0 + float(sigma) ** 2)
    if units == "edm":
        return 1.0
    raise ValueError(f"editing.strength_units must be one of {EDIT_UNITS}, got {units!r}")


def edit_starts(x_t: Tensor, directions: Tensor, strengths: Sequence[float], sigma: float, units: str = "vp") -> Tensor:
    """The edited EDM states x_t + lambda * edit_scale(sigma, units, ||x_t||) * v for every direction
    v (m, n) and strength lambda, shape (m, L, n). x_t is one state ((1, ...) or (...))."""
    scale = edit_scale(sigma, units, float(x_t.norm()) if units == "norm_fraction" else None)
    lam = torch.as_tensor(list(strengths), dtype=x_t.dtype, device=x_t.device) * scale
    m, L = directions.shape[0], lam.shape[0]
    return x_t.reshape(1, 1, -1) + lam.reshape(1, L, 1) * directions.to(x_t).reshape(m, 1, -1)


def generate_batched(denoiser: Denoiser, starts: Tensor, sigmas: Tensor, batch_size: int = 64) -> Tensor:
    """DDIM from sigmas[-1] to sigmas[0] for many states (N, ...), `batch_size` at a time (the
    batches are independent; the size changes memory and speed only)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return torch.cat([ddim_generate(denoiser, b, sigmas)
                      for b in progress(starts.split(batch_size), "editing", unit="batches")])


def edit_grid(
    denoiser: Denoiser,
    x_t: Tensor,
    directions: Tensor,
    strengths: Sequence[float],
    sigmas: Tensor,
    batch_size: int = 64,
    units: str = "vp",
) -> Tensor:
    """Edit the inverted state x_t (shape (1, ...) or (...), at sigma = sigmas[-1]) along each
    direction (m, n) with each strength lambda (in `units`, see `edit_scale`) and run DDIM back to
    sigmas[0]. Returns images of shape (m, L, ...).

    lambda = 0 returns exactly the unedited DDIM reconstruction (same input, same arithmetic)."""
    shape = tuple(x_t.shape[1:]) if x_t.shape[0] == 1 else tuple(x_t.shape)
    starts = edit_starts(x_t, directions, strengths, float(sigmas[-1]), units)
    m, L = starts.shape[:2]
    out = generate_batched(denoiser, starts.reshape(m * L, *shape), sigmas, batch_size)
    return out.reshape(m, L, *shape)


def edit_distances(edited: Tensor, reference: Tensor) -> dict[str, Tensor]:
    """How far every edited image (m, L, ...) moved from the unedited reconstruction (...):
    the L2 distance over all pixels and the root-mean-square per pixel, each (m, L)."""
    diff = edited.flatten(2) - reference.reshape(1, 1, -1).to(edited)
    l2 = diff.norm(dim=-1)
    return {"l2": l2, "rms": l2 / math.sqrt(diff.shape[-1])}


# --------------------------------------------------------------------------------------------
# External DDPM checkpoints (MetFaces) in the denoiser interface
# --------------------------------------------------------------------------------------------
def ddpm_linear_sigmas(num_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> Tensor:
    """sigma_i = sqrt(1/abar_i - 1) of a discrete DDPM with linear betas (float64, increasing)."""
    betas = torch.linspace(beta_start, beta_end, num_timesteps, dtype=torch.float64)
    abar = torch.cumprod(1 - betas, dim=0)
    return torch.sqrt(1 / abar - 1)


class VPEpsilonDenoiser(torch.nn.Module):
    """An epsilon-predicting DDPM `eps_model(x_vp, t_index)` (e.g. a TorchScript export of the
    MetFaces P2 DDPM) seen as an EDM denoiser: x_vp = x / sqrt(1 + sigma^2), the timestep is the
    discrete t whose sigma_t is nearest in log scale, and D(x; sigma) = x - sigma * eps."""

    def __init__(self, eps_model, num_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02):
        super().__init__()
        self.eps_model = eps_model
        self.register_buffer("log_sigmas", ddpm_linear_sigmas(num_timesteps, beta_start, beta_end).log())

    def forward(self, x: Tensor, sigma) -> Tensor:
        sig = torch.as_tensor(sigma, dtype=torch.float64, device=x.device).reshape(-1)
        t = (self.log_sigmas.unsqueeze(0) - sig.log().unsqueeze(1)).abs().argmin(dim=1)
        t = t.expand(x.shape[0]) if t.numel() == 1 else t
        s = sig.to(x.dtype).reshape(-1, *([1] * (x.ndim - 1)))
        eps = self.eps_model(x / torch.sqrt(1 + s * s), t)
        return x - s * eps


def is_torchscript(path) -> bool:
    """TorchScript archives carry their code under `<name>/code/`; torch.save checkpoints do not."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            return any("/code/" in name for name in z.namelist())
    except zipfile.BadZipFile:
        return False


def load_checkpoint_denoiser(path, device, kind: str = "denoiser"):
    """A denoiser from any checkpoint the pipeline trained (`molrg.training.load_denoiser`) or an
    external TorchScript module. kind = "denoiser": the module already is D(x, sigma) in EDM
    space; kind = "vp_epsilon": it is eps(x_vp, t_index) of a 1000-step linear-beta DDPM and is
    wrapped by `VPEpsilonDenoiser`. The module is returned in eval mode without parameter grads."""
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"denoiser checkpoint not found: {path}")
    if kind not in ("denoiser", "vp_epsilon"):
        raise ValueError(f"checkpoint kind must be 'denoiser' or 'vp_epsilon', got {kind!r}")
    if is_torchscript(path):
        from molrg.runtime import load_torch_file

        net = load_torch_file(
            lambda p: torch.jit.load(str(p), map_location=device), path, "a TorchScript denoiser",
            "Check editing.checkpoint (and editing.checkpoint_kind).",
        )
    else:
        from molrg.training import load_denoiser  # issue #3's loader (our checkpoint format)

        net = load_denoiser(path, device)
    if kind == "vp_epsilon":
        net = VPEpsilonDenoiser(net).to(device)
    return net.eval().requires_grad_(False)


def checkpoint_train_config(path, kind: str = "denoiser") -> dict | None:
    """The training settings behind a checkpoint, for the range of noise levels it was trained on
    (molrg.jacobian.trained_sigma_range): the `train_config` a molrg.training model file stores;
    {"precond": "vp"} for an external epsilon DDPM (trained on t ~ U(0, 1) by construction);
    None where it cannot be known (an external TorchScript EDM denoiser)."""
    if kind == "vp_epsilon":
        return {"precond": "vp"}
    if is_torchscript(path):
        return None
    ck = torch.load(path, map_location="cpu", weights_only=True)
    return ck.get("train_config") if isinstance(ck, dict) else None
