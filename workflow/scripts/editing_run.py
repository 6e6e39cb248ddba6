"""Rule editing (Section 4.2, Fig 5, spec §8; molrg.editing): for each of a seeded choice of training
images, DDIM inversion to the edit time, the leading right singular vectors v_1..v_k of the Jacobian
of the clean-image estimate there and `num_random` seeded uniform unit directions, edits
x_t + lambda v at every strength (default: lambda = f ||x_t||, a fraction of the state's norm), DDIM
back to t = 0, and the dataset's classifier's label of every edited image against that of the
unedited reconstruction. Writes the tidy table (molrg.edit_stats describes its columns), the summary
per strength and kind, and the edits of the first image for the figure. The table records the edit's
sigma and whether it lies inside the sigma range the network was trained on."""
import time

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from molrg.descriptors import load_classifier, predict_labels
from molrg.edit_stats import RANDOM, SINGULAR, image_exceedance, summarise
from molrg.checkpoint import checkpoint_train_config, load_checkpoint_denoiser
from molrg.editing import (ddim_generate, ddim_invert, ddim_sigmas, edit_scale, edit_starts, generate_batched,
                           leading_singular_vectors, random_unit_directions)
from molrg.jacobian import trained_sigma_range
from molrg.provenance import save_table
from molrg.runtime import derive_seed, select_device, set_threads, setup_logging

p = snakemake.params  # noqa: F821
log = setup_logging(snakemake.log[0], "editing")  # noqa: F821
set_threads(snakemake.threads)  # noqa: F821
device = select_device(p.device)
inp = snakemake.input  # noqa: F821
SHOW_RANDOM = 2  # random directions of the first image kept for the figure's edit grid (display only)
t_start = time.perf_counter()


def load_image_file(model) -> torch.Tensor:
    """An external image, (1, C, H, W) in [-1, 1], centre-cropped to a square and resized to
    `image_size` (default: the U-Net's own resolution where the model exposes it), grey or RGB as the
    U-Net takes it (RGB if unknown)."""
    from PIL import Image

    net = getattr(model, "net", None)  # molrg U-Nets expose their input format
    channels = getattr(net, "in_channels", 3)
    size = p.image_size or getattr(net, "img_resolution", None)
    img = Image.open(inp.image).convert("L" if channels == 1 else "RGB")
    side = min(img.size)
    left, top = (img.width - side) // 2, (img.height - side) // 2
    img = img.crop((left, top, left + side, top + side))
    if size:
        img = img.resize((size, size), Image.LANCZOS)
    x = torch.from_numpy(np.asarray(img, dtype=np.float32)).reshape(img.height, img.width, -1)
    return (x.permute(2, 0, 1) / 127.5 - 1).unsqueeze(0)


def load_images(model) -> tuple[torch.Tensor, list]:
    """The images to edit (B, C, H, W) and their ids: the configured rows of the dataset's
    train.npz (`image_indices`), else `num_images` rows drawn without replacement by a seeded
    generator; or the one external `image_file`."""
    if p.image_file:
        return load_image_file(model), ["file"]
    with np.load(inp.data) as z:
        N = len(z["x"])
        if p.image_indices:
            bad = [i for i in p.image_indices if not 0 <= i < N]
            if bad:
                raise IndexError(f"editing.image_indices {bad} outside the {N} images of {inp.data}")
            rows = list(p.image_indices)
        else:
            rng = np.random.default_rng(derive_seed(p.seed, "editing", "images", p.source_name))
            rows = rng.choice(N, size=min(p.num_images, N), replace=False).tolist()
        return torch.from_numpy(z["x"][rows].astype(np.float32)), [int(r) for r in rows]


@torch.no_grad()
def classify(images: torch.Tensor) -> np.ndarray | None:
    """The classifier's labels of (N, C, H, W) images, resized (area-weighted) to the resolution it
    was trained at where they differ; None without a classifier."""
    if classifier is None:
        return None
    x = images.float().cpu()
    if p.classifier_resolution and x.shape[-1] != p.classifier_resolution:
        x = F.interpolate(x, size=(p.classifier_resolution,) * 2, mode="area")
    return predict_labels(classifier, x.clamp(-1, 1), batch_size=1024)


model = load_checkpoint_denoiser(inp.model, device, kind=p.checkpoint_kind)
classifier = load_classifier(inp.classifier) if "classifier" in inp.keys() else None
classifier_accuracy = float("nan")
if "classifier_metrics" in inp.keys():
    import json

    with open(inp.classifier_metrics) as f:
        acc = json.load(f).get("heldout_accuracy")
    classifier_accuracy = float("nan") if acc is None else float(acc)
x0, image_ids = load_images(model)
x0 = x0.to(device)
B, shape = len(x0), tuple(x0.shape[1:])
n = x0[0].numel()
num_steps = max(1, round(p.edit_t * p.ddim_steps))  # DDIM steps from t_min up to the edit time
sigmas = ddim_sigmas(p.edit_t, num_steps, p.t_min)
sigma_edit = float(sigmas[-1])
log.info("%d images %s, n = %d; %d DDIM steps up to t = %g (sigma %.4g) on %s",
         B, shape, n, num_steps, p.edit_t, sigma_edit, device)
train_config = checkpoint_train_config(inp.model, p.checkpoint_kind)
lo, hi = trained_sigma_range(train_config, p.train_sigma_mass) if train_config else (float("nan"), float("nan"))
inside = bool(lo <= sigma_edit <= hi) if train_config else None
log.info("trained sigma range (central %g): [%.4g, %.4g]; edit sigma inside: %s", p.train_sigma_mass, lo, hi, inside)

x_t = ddim_invert(model, x0, sigmas)
reference = ddim_generate(model, x_t, sigmas)  # the unedited DDIM reconstructions
state_norm = x_t.flatten(1).norm(dim=1)
log.info("reconstruction error (RMS per pixel, mean over images): %.4g; ||x_t|| median %.4g",
         (reference - x0).flatten(1).pow(2).mean(1).sqrt().mean().item(), state_norm.median().item())
t_invert = time.perf_counter()

names = [f"v{i + 1}" for i in range(p.num_vectors)] + [f"r{j + 1}" for j in range(p.num_random)]
kinds = [SINGULAR] * p.num_vectors + [RANDOM] * p.num_random
starts, gains, iters = [], [], []
for b, image in enumerate(image_ids):
    xb = x_t[b : b + 1]
    g_v = torch.Generator().manual_seed(derive_seed(p.seed, "editing", p.source_name, image, "subspace"))
    g_r = torch.Generator().manual_seed(derive_seed(p.seed, "editing", p.source_name, image, "random"))
    V, S, used = leading_singular_vectors(model, xb, sigma_edit, p.num_vectors, p.power_iters, p.tol, g_v)
    R = random_unit_directions(p.num_random, n, g_r).to(xb)
    # ||J r|| of each random direction, beside the singular values (one batched jvp)
    f = lambda v: model(v.reshape(1, *shape), sigma_edit).reshape(-1)  # noqa: E731
    gain_r = torch.func.vmap(lambda r: torch.func.jvp(f, (xb.reshape(-1),), (r,))[1].norm())(R) if len(R) else R[:, 0]
    gains.append(S.tolist() + gain_r.tolist())
    iters.append(used)
    starts.append(edit_starts(xb, torch.cat([V, R]), p.strengths, sigma_edit, p.strength_units))
    log.info("image %s: singular values %s (%d iterations); random gains median %.4g",
             image, [f"{s:.4g}" for s in S.tolist()], used, gain_r.median().item() if len(R) else float("nan"))
t_svd = time.perf_counter()

starts = torch.stack(starts)  # (B, m, L, n)
m, L = starts.shape[1:3]
edited = generate_batched(model, starts.reshape(B * m * L, *shape), sigmas, p.batch_size).reshape(B, m, L, *shape)
diff = edited.flatten(3) - reference.reshape(B, 1, 1, -1)
l2 = diff.norm(dim=-1).cpu().numpy()
rms = l2 / np.sqrt(n)
t_edit = time.perf_counter()

label_orig, label_ref = classify(x0), classify(reference)
label_edit = classify(edited.reshape(B * m * L, *shape))
label_edit = None if label_edit is None else label_edit.reshape(B, m, L)
scales = [edit_scale(sigma_edit, p.strength_units, float(state_norm[b])) for b in range(B)]

rows = []
for b, image in enumerate(image_ids):
    for i, (name, kind) in enumerate(zip(names, kinds)):
        for j, lam in enumerate(p.strengths):
            step = abs(float(lam)) * scales[b]  # EDM-space length of the edit
            before = None if label_ref is None else int(label_ref[b])
            after = None if label_edit is None else int(label_edit[b, i, j])
            rows.append({
                "dataset": p.dataset, "image": image, "direction": name, "kind": kind, "strength": float(lam),
                "strength_units": p.strength_units, "strength_fraction": float(lam) * scales[b] / float(state_norm[b]),
                "edit_norm": step, "state_norm": float(state_norm[b]), "l2_change": float(l2[b, i, j]),
                "rms": float(rms[b, i, j]), "jacobian_gain": gains[b][i],
                "label_original": None if label_orig is None else int(label_orig[b]),
                "label_before": before, "label_after": after,
                "changed": None if before is None else bool(after != before),
                "classifier_heldout_accuracy": classifier_accuracy,
                "sigma_edit": sigma_edit, "t_edit": float(p.edit_t), "sigma_train_lo": lo, "sigma_train_hi": hi,
                "edit_inside_train": inside, "subspace_iters": iters[b],
            })
table = pd.DataFrame(rows)
for col in ("label_original", "label_before", "label_after"):
    table[col] = table[col].astype("Int64")
t_end = time.perf_counter()

summary = summarise(table)
exceed = {s: image_exceedance(table[table.strength.abs() == abs(s)]) for s in summary.strength.unique()}
# defined for the singular edits only (random edits are the reference): text there, not a NaN
summary["images_exceeding_q95"] = [int(exceed[s].exceeds.sum()) if k == SINGULAR else "not applicable"
                                   for s, k in zip(summary.strength, summary.kind)]
log.info("summary:\n%s", summary.to_string())
timing = {"invert_s": t_invert - t_start, "singular_vectors_s": t_svd - t_invert, "edits_s": t_edit - t_svd,
          "classify_s": t_end - t_edit, "total_s": t_end - t_start, "ddim_trajectories": int(B * m * L)}
log.info("timing: %s", {k: round(v, 2) if isinstance(v, float) else v for k, v in timing.items()})

show = list(range(p.num_vectors)) + list(range(p.num_vectors, p.num_vectors + min(SHOW_RANDOM, p.num_random)))
np.savez(
    snakemake.output.npz,  # noqa: F821
    image=np.asarray(image_ids[0]), original=x0[0].cpu().numpy(), reconstruction=reference[0].cpu().numpy(),
    edited=edited[0, show].cpu().numpy(), strengths=np.asarray(p.strengths, dtype=np.float64),
    directions=np.asarray([names[i] for i in show]), gains=np.asarray([gains[0][i] for i in show]),
    state_norm=np.float64(state_norm[0]), sigma_edit=np.float64(sigma_edit), t_edit=np.float64(p.edit_t),
    strength_units=np.asarray(p.strength_units), sigma_train=np.asarray([lo, hi], dtype=np.float64),
    labels_before=np.asarray(-1 if label_ref is None else label_ref[0]),
    labels_after=(np.full((len(show), L), -1) if label_edit is None else label_edit[0, show]),
)
save_table(table, snakemake.output.table, {"editing": p.provenance}, seed=p.seed, device=device)  # noqa: F821
save_table(summary, snakemake.output.summary, {"editing": p.provenance}, seed=p.seed, device=device)  # noqa: F821
