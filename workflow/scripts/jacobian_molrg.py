"""Rule jacobian_molrg: the ground-truth check of the rank estimate (spec §7, Eqs. 48-49, repo
figure jacobian-MoLRG.png). Along the 18-step Heun trajectory of the closed-form MoLRG denoiser
the rank is K*d at large sigma (posterior weights mixed) and d at small sigma (one component);
optionally the same for U-Nets trained on MoLRG data (the Fig 4 left grid's models)."""
import pandas as pd
import torch

from molrg.cells import parse_cell
from molrg.checkpoint import load_checkpoint_denoiser
from molrg.jacobian import energy_fraction, rank_along_trajectory
from molrg.mixture import MoLRGDenoiser, orthogonal_bases, standard_molrg
from molrg.provenance import save_table
from molrg.runtime import derive_seed, job_context

p, log, device = job_context(snakemake, "jacobian_molrg")  # noqa: F821
chk = p.check


def trajectory_rows(model_name, denoiser, shape, d, K, dtype):
    g = torch.Generator().manual_seed(derive_seed(p.seed, "jacobian_molrg_noise", model_name))
    z = torch.randn(chk["num_noises"], *shape, generator=g, dtype=dtype)
    out = rank_along_trajectory(denoiser, z.to(device), p.num_steps, p.sigma_min, p.sigma_max, p.rho,
                                eta=p.eta, chunk_size=p.chunk_size)
    n = int(torch.tensor(shape).prod())
    # the share of the Jacobian's energy in its d and K*d largest singular values (the rank rule's
    # calibration: it counts directions until eta^2 of the energy)
    e_d = energy_fraction(out["singular_values"], d)
    e_kd = energy_fraction(out["singular_values"], min(K * d, n))
    for b in range(out["rank"].shape[0]):
        for j, (step, sigma) in enumerate(zip(out["steps"], out["sigma"])):
            r = int(out["rank"][b, j])
            yield {"model": model_name, "noise": b, "step": int(step), "sigma": float(sigma), "rank": r,
                   "n": n, "d": d, "K": K, "rank_ratio": r / n,
                   "energy_top_d": float(e_d[b, j]), "energy_top_Kd": float(e_kd[b, j])}


rows = []
# The closed-form denoiser of the authors' MoLRG (orthogonal bases, unit variances, uniform pi),
# in float64 so the rank reflects the model and not round-off.
U = orthogonal_bases(chk["n"], chk["K"], chk["d"], torch.Generator().manual_seed(derive_seed(p.seed, "jacobian_molrg_bases")))
closed = MoLRGDenoiser(standard_molrg(U)).to(device)
rows += list(trajectory_rows("closed_form", closed, (chk["n"],), chk["d"], chk["K"], torch.float64))
log.info("closed form: %s", [(r["step"], r["rank"]) for r in rows if r["noise"] == 0])

# U-Nets trained on MoLRG (optional): images (C, res, res) with C * res^2 = n.
for cell, path in zip(p.unet_cells, snakemake.input.unets):  # noqa: F821
    d = parse_cell(cell).d
    net = load_checkpoint_denoiser(path, device)
    inner = getattr(net, "net", None)
    shape = (inner.in_channels, inner.img_resolution, inner.img_resolution)
    rows += list(trajectory_rows(f"unet_{cell}", net, shape, d, chk["K"], torch.float32))
    log.info("U-Net %s: %s", cell, [(r["step"], r["rank"]) for r in rows if r["model"] == f"unet_{cell}" and r["noise"] == 0])

save_table(pd.DataFrame(rows), snakemake.output.table, p.config_slice, seed=p.seed)  # noqa: F821
