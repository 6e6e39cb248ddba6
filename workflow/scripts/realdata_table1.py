"""Table 1 (rule realdata_table1): Eq. 8, the mean l2 distance between the U-Net's samples and the
Gaussian's / MoLRG's samples from the same initial noises, per dataset, as CSV and Markdown."""
import numpy as np
import pandas as pd

from molrg.metrics import eq8_summary
from molrg.provenance import save_table, write_provenance

p = snakemake.params


def samples(path):
    # Eq. 8 on images as they would be saved: samples clipped to the data range [-1, 1]
    with np.load(path) as z:
        return np.clip(z["x"], -1, 1)


rows = []
for name in p.datasets:
    unet = samples(snakemake.input[f"{name}_unet"])
    for model in ("gaussian", "molrg"):
        other = samples(snakemake.input[f"{name}_{model}"])
        m = p.molrg[name]
        n = int(np.prod(unet.shape[1:]))
        K, d = (1, n) if model == "gaussian" else (m["K"], m["d"])  # the Gaussian is a K = 1, d = n MoLRG
        rows.append({"dataset": name, "model": model, **eq8_summary(unet, other), "K": K, "d": d, "n": n,
                     "resolution": int(unet.shape[-1]), "channels": int(unet.shape[1])})
df = pd.DataFrame(rows)
note = (f"Eq. 8: mean over M pairs of ||x_UNet - x_model||_2 (flattened images in [-1, 1], samples clipped), "
        f"same initial noise per pair; EDM Heun {p.sampler['num_steps']} steps. Pixel space: no descriptor.")
extra = {"note": note}
save_table(df, snakemake.output.csv, p.config_slice, seed=p.seed, extra=extra)

wide = df.pivot(index="dataset", columns="model", values="eq8_mean").reindex(p.datasets)
lines = ["Table 1. " + note, "", "| dataset | M | Gaussian | MoLRG (K, d) |", "|---|---|---|---|"]
for name in p.datasets:
    r = df[df.dataset == name].set_index("model")
    lines.append(f"| {name} | {int(r.loc['molrg', 'M'])} | {wide.loc[name, 'gaussian']:.2f} ± {r.loc['gaussian', 'eq8_sem']:.2f} "
                 f"| {wide.loc[name, 'molrg']:.2f} ± {r.loc['molrg', 'eq8_sem']:.2f} ({int(r.loc['molrg', 'K'])}, {int(r.loc['molrg', 'd'])}) |")
lines += ["", "± = standard error of the mean over the M pairs."]
with open(snakemake.output.md, "w") as f:
    f.write("\n".join(lines) + "\n")
write_provenance(snakemake.output.md, p.config_slice, seed=p.seed, extra=extra)
