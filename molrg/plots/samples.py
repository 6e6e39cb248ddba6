"""Fig 1: for each dataset, rows U-Net / single Gaussian / per-class MoLRG, one column per shared
initial noise (spec §5.2, §10). Each model row is labelled with its class agreement with the U-Net
over all M pairs and its squared-l2 Eq. 8 (Table 1), each dataset's title with the Gaussian - MoLRG
gaps at the U-Net's kept checkpoints and whether they are stable (molrg.metrics.checkpoint_stability)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from ..metrics import STABILITY_Z

ROWS = (("unet", "U-Net"), ("gaussian", "Gaussian"), ("molrg", "MoLRG"))


def strip(x: np.ndarray, gap: int = 1) -> np.ndarray:
    """Images (k, C, H, W) in [-1, 1] side by side, separated by white gaps: uint8 (H, k(W+gap)-gap, 3)."""
    u = np.clip(np.rint((x + 1.0) * 127.5), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
    if u.shape[-1] == 1:
        u = np.repeat(u, 3, axis=-1)
    k, H, W, _ = u.shape
    out = np.full((H, k * (W + gap) - gap, 3), 255, np.uint8)
    for i in range(k):
        out[:, i * (W + gap) : i * (W + gap) + W] = u[i]
    return out


def stability_text(st: pd.DataFrame) -> str:
    """One dataset's gaps per unit at its kept checkpoints (latest first) and whether they are stable."""
    parts, steps = [], []
    for unit, label in (("l2", "l2"), ("l2sq", "l2²"), ("class_agreement", "agree")):
        u = st[st.unit == unit].sort_values("step", ascending=False)
        if not len(u):
            continue
        steps = u.step.tolist()
        ok = bool(u.gap_stable.all() and u.ordering_stable.all())
        parts.append(f"{label} " + "/".join(f"{g:.2f}" for g in u.gap) + ("" if ok else " UNSTABLE"))
    if not parts:
        return "checkpoint stability: n/a"
    return f"G−M gap at U-Net steps {'/'.join(str(int(s)) for s in steps)}: " + ", ".join(parts)


def fig1(samples: dict, table1: pd.DataFrame, stability: pd.DataFrame, datasets, num_steps: int,
         style: dict) -> Figure:
    """samples: {(dataset, model): the first k samples (k, C, H, W)} for every dataset and model of
    ROWS, from the same k noises; table1 and stability: Table 1 and its checkpoint-stability table."""
    sns.set_theme(context=style["context"], style="white", font_scale=style["font_scale"])
    table1 = table1.set_index(["dataset", "model"])
    stability = stability.copy()
    for col in ("gap_stable", "ordering_stable"):
        stability[col] = stability[col].astype(str).str.lower().isin(["true", "1"])
    k = len(samples[datasets[0], "unet"])
    n_rows = 3 * len(datasets)
    fig = Figure(figsize=(0.55 * k + 1.6, 0.8 * n_rows + 0.6))
    axes = fig.subplots(n_rows, 1, squeeze=False)
    for d, name in enumerate(datasets):
        for r, (model, label) in enumerate(ROWS):
            x = samples[name, model]
            ax = axes[3 * d + r, 0]
            ax.imshow(strip(x), interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
            if model != "unet":  # class agreement with the U-Net's samples over all M pairs (Table 1)
                row = table1.loc[(name, model)]
                label += f"\nagree {row['class_agreement']:.2f}\nl2² {row['eq8_l2sq']:.1f}"
            ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize="small")
            if r == 0:
                ax.set_title(f"{name} ({x.shape[1]}x{x.shape[2]}x{x.shape[3]}); "
                             + stability_text(stability[stability.dataset == name]), loc="left", fontsize="x-small")
    fig.suptitle(f"Fig 1: samples from {k} shared initial noises (EDM Heun, {num_steps} steps); "
                 "agree = class agreement with the U-Net (classifier), l2² = Eq. 8 squared l2, over all M pairs;\n"
                 "G−M gap = Gaussian − MoLRG (agree: MoLRG − Gaussian) against the U-Net's kept checkpoints, "
                 f"UNSTABLE = changes by > {STABILITY_Z:g} paired SE or reverses (table1_checkpoint_stability.csv)",
                 fontsize="small", y=1.0)
    fig.tight_layout(h_pad=0.2)
    return fig
