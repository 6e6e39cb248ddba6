"""Figure rule of Fig 5: the edit grid (rows: singular vectors v_1..v_k and the random direction;
columns: the strengths lambda), with the original image and the DDIM reconstruction."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from molrg.provenance import save_figure  # noqa: E402
from molrg.runtime import setup_logging  # noqa: E402

p = snakemake.params  # noqa: F821
log = setup_logging(snakemake.log[0], "plot")  # noqa: F821
style = p.style
plt.rcParams.update({"font.size": 9 * style["font_scale"]})


def to_display(x: np.ndarray) -> np.ndarray:
    """(C, H, W) in [-1, 1] -> an array imshow takes (grey for one channel)."""
    img = np.clip((x + 1) / 2, 0, 1)
    return img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)


with np.load(snakemake.input.npz) as z:  # noqa: F821
    edited, strengths, names, gains = z["edited"], z["strengths"], z["directions"], z["gains"]
    original, recon, t_edit = z["original"], z["reconstruction"], float(z["t_edit"])
    sigma_edit = float(z["sigma_edit"])
    units = str(z["strength_units"]) if "strength_units" in z else "edm"
    train = z["sigma_train"] if "sigma_train" in z else np.array([np.nan, np.nan])

m, L = edited.shape[:2]
diff = edited - recon[None, None]  # what each edit changed, shown under its row
lim = max(float(np.abs(diff).max()), 1e-6)
fig, axes = plt.subplots(2 * m, L + 2, figsize=(1.1 * (L + 2), 2.2 * m + 0.5), squeeze=False)
cmap = "gray" if original.shape[0] == 1 else None
for i in range(m):
    top, bottom = axes[2 * i], axes[2 * i + 1]
    for ax, img in zip(top, [original, recon] + [edited[i, j] for j in range(L)]):
        ax.imshow(to_display(img), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    for j in range(L):  # the change, averaged over channels, on one symmetric scale for all panels
        bottom[j + 2].imshow(diff[i, j].mean(axis=0), cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    for ax in list(top) + list(bottom):
        ax.set_xticks([])
        ax.set_yticks([])
    top[2].set_ylabel(f"{names[i]}\n|J v| = {gains[i]:.3g}", fontsize="small")
    bottom[2].set_ylabel("change", fontsize="x-small")
    for ax in list(bottom[:2]) + ([] if i == 0 else list(top[:2])):  # original/recon only once
        ax.set_visible(False)
axes[0, 0].set_title("original", fontsize="small")
axes[0, 1].set_title("DDIM recon.", fontsize="small")
for j, lam in enumerate(strengths):
    axes[0, j + 2].set_title(f"lambda = {lam:+g}", fontsize="small")
unit_text = "x_vp + lambda v (VP units, LOCO-Edit)" if units == "vp" else "x + lambda v (EDM units)"
if np.isfinite(train).all():
    inside = train[0] <= sigma_edit <= train[1]
    train_text = (f"sigma {sigma_edit:.3g} {'inside' if inside else 'OUTSIDE'} the trained range "
                  f"[{train[0]:.2g}, {train[1]:.2g}]")
else:
    train_text = f"sigma {sigma_edit:.3g} (trained range unknown)"
fig.suptitle(f"Edits {unit_text} at t = {t_edit:g} T, {train_text}, then DDIM to t = 0\n"
             f"last row pair: a random unit direction (change: edited - reconstruction, colour range +-{lim:.2g})",
             fontsize="small")
fig.tight_layout()
save_figure(fig, snakemake.output.fig, {"plot": dict(style)}, dpi=style["dpi"])  # noqa: F821
log.info("wrote %s", snakemake.output.fig)  # noqa: F821
