"""Table 1 (rule realdata_table1): Eq. 8, the mean l2 distance between the U-Net's samples and the
Gaussian's / MoLRG's samples from the same initial noises, per dataset, as CSV and Markdown."""
import numpy as np
import pandas as pd

from molrg.metrics import eq8_summary
from molrg.provenance import save_table, write_provenance

p = snakemake.params


def samples(path):
    with np.load(path) as z:
        return z["x"]


# Eq. 8 on images as they would be saved (samples clipped to the data range [-1, 1]); whether the
# paper clipped is UNCONFIRMED, so the distance of the raw samples is reported too.
rows = []
for name in p.datasets:
    unet = samples(snakemake.input[f"{name}_unet"])
    for model in ("gaussian", "molrg"):
        other = samples(snakemake.input[f"{name}_{model}"])
        m = p.molrg[name]
        n = int(np.prod(unet.shape[1:]))
        K, d = (1, n) if model == "gaussian" else (m["K"], m["d"])  # the Gaussian is a K = 1, d = n MoLRG
        rows.append({"dataset": name, "model": model, **eq8_summary(np.clip(unet, -1, 1), np.clip(other, -1, 1)),
                     "eq8_mean_unclipped": eq8_summary(unet, other)["eq8_mean"], "K": K, "d": d, "n": n,
                     "resolution": int(unet.shape[-1]), "channels": int(unet.shape[1]),
                     "descriptor": "none (pixel space)"})
df = pd.DataFrame(rows)
note = (f"Eq. 8: mean over M pairs of ||x_UNet - x_model||_2 (flattened images in [-1, 1], samples clipped), "
        f"same initial noise per pair; EDM Heun {p.sampler['num_steps']} steps. Pixel space: no descriptor.")
extra = {"note": note}
save_table(df, snakemake.output.csv, p.config_slice, seed=p.seed, extra=extra)

lines = ["Table 1. " + note, "", "| dataset | M | Gaussian | MoLRG (K, d) | Gaussian, unclipped | MoLRG, unclipped |",
         "|---|---|---|---|---|---|"]
for name in p.datasets:
    r = df[df.dataset == name].set_index("model")
    g, mo = r.loc["gaussian"], r.loc["molrg"]
    lines.append(f"| {name} | {int(mo['M'])} | {g['eq8_mean']:.2f} ± {g['eq8_sem']:.2f} "
                 f"| {mo['eq8_mean']:.2f} ± {mo['eq8_sem']:.2f} ({int(mo['K'])}, {int(mo['d'])}) "
                 f"| {g['eq8_mean_unclipped']:.2f} | {mo['eq8_mean_unclipped']:.2f} |")
lines += ["", "± = standard error of the mean over the M pairs."]
with open(snakemake.output.md, "w") as f:
    f.write("\n".join(lines) + "\n")
write_provenance(snakemake.output.md, p.config_slice, seed=p.seed, extra=extra)
