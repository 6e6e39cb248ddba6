"""Rule editing: DDIM inversion of one image to the edit time, the leading right singular vectors
of the Jacobian of the clean-image estimate there, edits x_t + lambda v_i (and a random unit
direction; lambda in LOCO-Edit's variance-preserving units by default) and DDIM back to t = 0
(Section 4.2, Fig. 5, spec §8; molrg.editing). The table records the edit's sigma and whether it lies
inside the sigma range the network was trained on (issue #9)."""
import numpy as np
import pandas as pd
import torch

from molrg.editing import (checkpoint_train_config, ddim_generate, ddim_invert, ddim_sigmas, edit_distances,
                           edit_grid, edit_scale, leading_singular_vectors, load_checkpoint_denoiser,
                           random_unit_direction)
from molrg.jacobian import trained_sigma_range
from molrg.provenance import save_table
from molrg.runtime import derive_seed, select_device, set_threads, setup_logging

p = snakemake.params  # noqa: F821
log = setup_logging(snakemake.log[0], "editing")  # noqa: F821
set_threads(snakemake.threads)  # noqa: F821
device = select_device(p.device)
inp = snakemake.input  # noqa: F821


def load_image(model) -> torch.Tensor:
    """The image to edit, (1, C, H, W) in [-1, 1]: a row of the dataset's train.npz, or an external
    image file, centre-cropped to a square and resized to `image_size` (default: the U-Net's own
    resolution where the model exposes it), grey or RGB as the U-Net takes it (RGB if unknown)."""
    if p.image_file:
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
    with np.load(inp.data) as z:
        if not 0 <= p.image_index < len(z["x"]):
            raise IndexError(f"editing.image_index = {p.image_index} but {inp.data} holds {len(z['x'])} images")
        return torch.from_numpy(z["x"][p.image_index : p.image_index + 1].astype(np.float32))


model = load_checkpoint_denoiser(inp.model, device, kind=p.checkpoint_kind)
x0 = load_image(model).to(device)
n = x0[0].numel()
num_steps = max(1, round(p.edit_t * p.ddim_steps))  # DDIM steps from t_min up to the edit time
sigmas = ddim_sigmas(p.edit_t, num_steps, p.t_min)
sigma_edit = float(sigmas[-1])
log.info("image %s, n = %d; %d DDIM steps up to t = %g (sigma %.4g) on %s",
         tuple(x0.shape[1:]), n, num_steps, p.edit_t, sigma_edit, device)
train_config = checkpoint_train_config(inp.model, p.checkpoint_kind)
lo, hi = trained_sigma_range(train_config, p.train_sigma_mass) if train_config else (float("nan"), float("nan"))
inside = bool(lo <= sigma_edit <= hi) if train_config else None
log.info("trained sigma range (central %g): [%.4g, %.4g]; edit sigma inside: %s", p.train_sigma_mass, lo, hi, inside)
log.info("strengths in %s units: an edit of lambda moves the EDM state by %.4g lambda",
         p.strength_units, edit_scale(sigma_edit, p.strength_units))

x_t = ddim_invert(model, x0, sigmas)
reference = ddim_generate(model, x_t, sigmas)  # the unedited DDIM reconstruction
log.info("reconstruction error (RMS per pixel): %.4g", ((reference - x0).pow(2).mean().sqrt()).item())

gen = torch.Generator().manual_seed(derive_seed(p.seed, "editing", p.source_name, p.image_index))
V, S, used = leading_singular_vectors(model, x_t, sigma_edit, p.num_vectors, p.power_iters, p.tol, gen)
log.info("singular values %s after %d subspace iterations", [f"{s:.4g}" for s in S.tolist()], used)
r = random_unit_direction(n, gen).to(x_t)
# ||J r|| for the random direction, for comparison with the singular values (one jvp)
f = lambda v: model(v.reshape(x_t.shape), sigma_edit).reshape(-1)  # noqa: E731
gain_random = torch.func.jvp(f, (x_t.reshape(-1),), (r,))[1].norm().item()

directions = torch.cat([V, r.unsqueeze(0)])
names = [f"v{i + 1}" for i in range(len(V))] + ["random"]
edited = edit_grid(model, x_t, directions, p.strengths, sigmas, batch_size=p.batch_size, units=p.strength_units)
dist = edit_distances(edited, reference)

rows = []
gains = S.tolist() + [gain_random]
for i, name in enumerate(names):
    for j, lam in enumerate(p.strengths):
        rows.append({"direction": name, "strength": float(lam), "strength_units": p.strength_units,
                     "l2_change": float(dist["l2"][i, j]), "sigma_edit": sigma_edit, "t_edit": float(p.edit_t),
                     "sigma_train_lo": lo, "sigma_train_hi": hi, "edit_inside_train": inside,
                     "lambda": float(lam), "jacobian_gain": gains[i],
                     "l2": float(dist["l2"][i, j]), "rms": float(dist["rms"][i, j])})
table = pd.DataFrame(rows)
log.info("mean L2 moved per direction:\n%s", table.groupby("direction", sort=False).l2.mean().to_string())

np.savez(
    snakemake.output.npz,  # noqa: F821
    original=x0[0].cpu().numpy(), reconstruction=reference[0].cpu().numpy(), edited=edited.cpu().numpy(),
    strengths=np.asarray(p.strengths, dtype=np.float64), directions=np.asarray(names),
    gains=np.asarray(gains), sigma_edit=np.float64(sigma_edit), t_edit=np.float64(p.edit_t),
    strength_units=np.asarray(p.strength_units), sigma_train=np.asarray([lo, hi], dtype=np.float64),
)
save_table(table, snakemake.output.table, {"editing": p.provenance}, seed=p.seed, device=device)  # noqa: F821
