"""Table 1 (rule realdata_table1): Eq. 8 between the U-Net's samples and the Gaussian's / MoLRG's
samples from the same initial noises, per dataset, in both units (plain l2 and squared l2, each with
its standard error), the class agreement of the pairs (the dataset's classifier), Eq. 8 restricted to
the agreeing pairs, as CSV and Markdown; the reference U-Nets' convergence table; and the checkpoint-
stability table: the Gaussian - MoLRG gap (both units and class agreement) against the U-Net's samples
at each kept checkpoint, with its paired change against the final model (molrg.metrics.checkpoint_stability)."""
import json

import numpy as np
import pandas as pd

from molrg.descriptors import load_classifier, predict_labels
from molrg.metrics import (STABILITY_Z, agreement_mask, checkpoint_stability, class_agreement, eq8_both,
                           eq8_summary, pair_gaps)
from molrg.provenance import save_table, write_provenance
from molrg.runtime import setup_logging

log = setup_logging(snakemake.log[0], "realdata_table1")
p, inp = snakemake.params, snakemake.input


def samples(path):
    with np.load(path) as z:
        return z["x"]


# Eq. 8 on images as they would be saved (samples clipped to the data range [-1, 1]); whether the
# paper clipped is UNCONFIRMED, so the plain-l2 distance of the raw samples is reported too.
rows, conv_rows, stab_rows = [], [], []
for name in p.datasets:
    with open(inp[f"{name}_classifier_metrics"]) as f:
        clf_metrics = json.load(f)
    clf = load_classifier(inp[f"{name}_classifier"])
    unet = samples(inp[f"{name}_unet"])
    unet_c = np.clip(unet, -1, 1)
    y_unet = predict_labels(clf, unet_c)
    for model in ("gaussian", "molrg"):
        other = samples(inp[f"{name}_{model}"])
        other_c = np.clip(other, -1, 1)
        y_other = predict_labels(clf, other_c)
        agree = agreement_mask(y_unet, y_other)
        m = p.molrg[name]
        n = int(np.prod(unet.shape[1:]))
        K, d = (1, n) if model == "gaussian" else (m["K"], m["d"])  # the Gaussian is a K = 1, d = n MoLRG
        both = eq8_both(unet_c, other_c)
        agreeing = {f"{k}_agree": v for k, v in eq8_both(unet_c, other_c, mask=agree).items()}
        rows.append({"dataset": name, "model": model, **eq8_summary(unet_c, other_c),
                     "eq8_mean_unclipped": eq8_summary(unet, other)["eq8_mean"], **both,
                     "class_agreement": class_agreement(y_unet, y_other), **agreeing,
                     "classifier_heldout_accuracy": clf_metrics.get("heldout_accuracy"),
                     "classifier_targets": clf_metrics.get("targets"),
                     "K": K, "d": d, "n": n, "resolution": int(unet.shape[-1]), "channels": int(unet.shape[1]),
                     "descriptor": "none (pixel space)"})
        log.info("%s/%s: eq8_l2 %.3f, eq8_l2sq %.3f, class agreement %.3f", name, model, both["eq8_l2"],
                 both["eq8_l2sq"], rows[-1]["class_agreement"])
    with open(inp[f"{name}_convergence"]) as f:
        c = json.load(f)
    # the gaps at every kept checkpoint, against the same Gaussian / MoLRG samples (shared noises)
    steps = {k["checkpoint"]: k["step"] for k in c["kept_checkpoints"]}
    xs = {m: np.clip(samples(inp[f"{name}_{m}"]), -1, 1) for m in ("gaussian", "molrg")}
    ys = {m: predict_labels(clf, x) for m, x in xs.items()}
    gaps = {}
    for ck in ["unet", *p.back]:
        u = unet_c if ck == "unet" else np.clip(samples(inp[f"{name}_{ck}"]), -1, 1)
        yu = y_unet if ck == "unet" else predict_labels(clf, u)
        gaps[ck] = pair_gaps(u, xs["gaussian"], xs["molrg"], yu, ys["gaussian"], ys["molrg"])
    for r in checkpoint_stability(gaps, steps, "unet", STABILITY_Z):
        stab_rows.append({"dataset": name, **r})
        log.info("%s %s (step %d) %s: gap %.4f ± %.4f, change vs final %.4f ± %.4f, stable %s/%s", name,
                 r["checkpoint"], r["step"], r["unit"], r["gap"], r["gap_se"], r["dgap"], r["dgap_se"],
                 r["gap_stable"], r["ordering_stable"])
    conv_rows.append({"dataset": name, "criterion": c["criterion"],
                      "value": np.nan if c["value"] is None else c["value"], "threshold": c["threshold"],
                      "converged": bool(c["converged"]), "steps": int(c["steps"]),
                      "max_iterations": int(c["max_iterations"]), "stopped_early": bool(c["stopped_early"]),
                      "final_heldout_loss": c["final_heldout_loss"], "evaluations": len(c["history"]["steps"])})
df = pd.DataFrame(rows)
note = (f"Eq. 8 over M pairs from the same initial noise (flattened images in [-1, 1], samples clipped), "
        f"EDM Heun {p.sampler['num_steps']} steps: eq8_l2 = mean ||x_UNet - x_model||_2 (the spec's plain-l2 "
        f"reading), eq8_l2sq = mean ||x_UNet - x_model||_2^2 (squared l2, whose magnitudes fit the paper's); "
        f"_se = standard error over the pairs. class_agreement = fraction of pairs the dataset's classifier "
        f"puts in one class; *_agree = Eq. 8 over the agreeing pairs only. Pixel space: no descriptor.")
extra = {"note": note}
save_table(df, snakemake.output.csv, p.config_slice, seed=p.seed, extra=extra)
conv = pd.DataFrame(conv_rows)
save_table(conv, snakemake.output.convergence, p.config_slice, seed=p.seed,
           extra={"note": "reference U-Net convergence (molrg.convergence): value = relative improvement of "
                          "the best held-out loss over the last window; converged = value < threshold"})

stab = pd.DataFrame(stab_rows)
save_table(stab, snakemake.output.stability, p.config_slice, seed=p.seed,
           extra={"note": "Gaussian - MoLRG gap against the U-Net's samples at each kept checkpoint (unet = final "
                          "model, unet_backC = the C-th kept EMA checkpoint before it), same shared noises: gap = "
                          "mean over pairs of dist(Gaussian, U-Net) - dist(MoLRG, U-Net) (l2, l2sq) or of "
                          "1[MoLRG same class] - 1[Gaussian same class] (class_agreement), positive = MoLRG closer; "
                          "dgap = gap - gap of the final model, dgap_se its paired standard error; gap_stable = "
                          "|dgap| <= z dgap_se; ordering_stable = no checkpoint's gap significantly (z SE) of "
                          "the opposite sign to another's (molrg.metrics.checkpoint_stability)"})


def f(v, digits=2):
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.{digits}f}"


lines = ["Table 1. " + note, "",
         "| dataset | model (K, d) | M | Eq. 8, l2 | Eq. 8, squared l2 | class agreement "
         "| l2, agreeing pairs | squared l2, agreeing pairs | l2 unclipped |",
         "|---|---|---|---|---|---|---|---|---|"]
for r in df.itertuples():
    lines.append(f"| {r.dataset} | {r.model} ({r.K}, {r.d}) | {r.n_pairs} | {f(r.eq8_l2)} ± {f(r.eq8_l2_se)} "
                 f"| {f(r.eq8_l2sq)} ± {f(r.eq8_l2sq_se)} | {f(r.class_agreement, 3)} ({r.n_pairs_agree} pairs) "
                 f"| {f(r.eq8_l2_agree)} ± {f(r.eq8_l2_se_agree)} | {f(r.eq8_l2sq_agree)} ± {f(r.eq8_l2sq_se_agree)} "
                 f"| {f(r.eq8_mean_unclipped)} |")
lines += ["", "± = standard error of the mean over the pairs. Classifier held-out accuracy: "
          + ", ".join(f"{r.dataset} {f(r.classifier_heldout_accuracy, 3)}" for r in df[df.model == "molrg"].itertuples()),
          "", "Reference U-Nets (reference_unet_convergence.csv): "
          + "; ".join(f"{r.dataset}: {'converged' if r.converged else 'NOT converged'} after {r.steps} steps "
                      f"(improvement {f(r.value, 4)} vs threshold {r.threshold})" for r in conv.itertuples())]
lines += ["", f"Checkpoint stability (table1_checkpoint_stability.csv; gap = Gaussian - MoLRG, change against the "
          f"final model, paired SE; stable = |change| <= {STABILITY_Z:g} SE and no significant sign reversal):", "",
          "| dataset | checkpoint (step) | unit | gap | change vs final | stable |", "|---|---|---|---|---|---|"]
for r in stab.itertuples():
    lines.append(f"| {r.dataset} | {r.checkpoint} ({r.step}) | {r.unit} | {f(r.gap, 3)} ± {f(r.gap_se, 3)} "
                 f"| {f(r.dgap, 3)} ± {f(r.dgap_se, 3)} | {'yes' if r.gap_stable and r.ordering_stable else 'NO'} |")
with open(snakemake.output.md, "w") as fh:
    fh.write("\n".join(lines) + "\n")
write_provenance(snakemake.output.md, p.config_slice, seed=p.seed, extra=extra)
log.info("wrote %s, %s, %s, %s", snakemake.output.csv, snakemake.output.md, snakemake.output.convergence,
         snakemake.output.stability)
