"""The editing experiment of rule editing (Section 4.2, Fig 5, spec §8), from images to the arrays its
tables and figure are made of: the images to edit (`select_images`, `load_edit_image`), DDIM inversion,
the singular and random directions of every image and their edits (`edit_experiment`, on the
primitives of molrg.editing), the classifier's labels before and after (`edit_labels`) and the
figure's arrays (`figure_arrays`). The tidy table and its summary: molrg.edit_stats."""
from __future__ import annotations

import logging
import time
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .datasets import image_to_array, to_model_space
from .descriptors import predict_labels
from .edit_stats import RANDOM, SINGULAR
from .editing import (Denoiser, ddim_generate, ddim_invert, ddim_sigmas, edit_directions, edit_scale, edit_starts,
                      generate_batched)
from .runtime import derive_seed

Tensor = torch.Tensor
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
    net = getattr(denoiser, "net", None)  # molrg U-Nets expose their input format
    size = size or getattr(net, "img_resolution", None)
    with Image.open(path) as img:
        array = image_to_array(img, size or min(img.size), getattr(net, "in_channels", 3))
    return torch.from_numpy(to_model_space(array[None]))


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
