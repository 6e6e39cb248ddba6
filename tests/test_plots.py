"""Every figure of molrg.plots draws on constructed tables and arrays: the panels, curves and labels
it should have, and a PNG that renders."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from molrg.edit_experiment import figure_arrays
from molrg.edit_stats import edit_table, summarise
from molrg.plots.editing import fig5
from molrg.plots.gl import gl_figure
from molrg.plots.jacobian import fig7, molrg_rank_figure
from molrg.plots.memorization import memorization_figure, memorization_pairs
from molrg.plots.phase import cell_position, phase_figure
from molrg.plots.samples import fig1, stability_text, strip
from molrg.sigmoid import fit_groups, logistic_log2

STYLE = {"context": "paper", "font_scale": 1.0, "palette": "viridis", "dpi": 40}


def _renders(fig, tmp_path, name="f.png"):
    assert isinstance(fig, Figure)
    fig.savefig(tmp_path / name, dpi=STYLE["dpi"], bbox_inches="tight")
    assert (tmp_path / name).stat().st_size > 0


def _gl_table():
    rows = [{"model": "unet", "d_intr": di, "N": n, "N_over_d_intr": n / di, "gl": float(logistic_log2(n / di, 1.5, 3))}
            for di in (2, 4) for n in (2, 4, 8, 16, 32, 64, 128)]
    rows += [{"model": "empirical_optimal", "d_intr": 2, "N": 8, "N_over_d_intr": 4.0, "gl": 0.0}]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("legend", ["inside", "outside"])
def test_gl_figure_draws_groups_fits_and_the_baseline(tmp_path, legend):
    table = _gl_table()
    fits = fit_groups(table[table.model == "unet"], ["N_over_d_intr", "N"], "gl", "d_intr", n_boot=0,
                      plateau=1.0, fraction=0.5)
    fig = gl_figure(table, fits, STYLE, {"x": "N_over_d_intr", "n": "N", "hue": "d_intr", "gl": "gl"},
                    {"title": "T", "hue": "d", "x": "N/d", "n": "N"}, threshold=0.9, legend=legend,
                    group_fit_column="d_intr" if legend == "outside" else None, note="a note")
    top, bottom = fig.axes
    texts = [t.get_text() for t in top.get_legend().get_texts()]
    assert "d = 2" in texts and "d = 4" in texts and "empirical-optimal denoiser" in texts
    assert any(t.startswith("sigmoid fit: a=1.50, b=3.00") for t in texts)
    assert sum(t.startswith("its own fit") for t in texts) == (2 if legend == "outside" else 0)
    assert top.get_title() == "T" and top.get_xscale() == "log"
    _renders(fig, tmp_path)


def _theory(method, extra=None):
    rows = [{"d": d, "N_k": n, "trial": t, "success": n >= d, "method": method, "solver": "pca_svd", "noise_std": 0.05,
             "K": 2, "n": 20, "threshold": 0.5, **(extra or {})} for d in (1, 2, 3) for n in (1, 2, 3, 4) for t in (0, 1)]
    return pd.DataFrame(rows)


def test_phase_figure_has_a_panel_per_method_and_one_colour_bar(tmp_path):
    dae = _theory("dae", {"init": "perturbed_truth", "init_perturbation": 0.75, "init_error": 0.8, "iterations": 10,
                          "solver": "dae_eq11"})
    fig = phase_figure({"closed_form": _theory("closed_form"), "dae": dae}, STYLE)
    assert len(fig.axes) == 3  # two heat-maps and the colour bar
    assert fig.axes[0].get_title().startswith("closed form, noise 0.05\nPCA by SVD")
    assert "start perturbed_truth (delta 0.75)" in fig.axes[2].get_title() + fig.axes[1].get_title()
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["$N_k = d$", "measured boundary"]
    assert cell_position([1, 2, 3], 2) == 1.5
    _renders(fig, tmp_path)


def test_memorization_figure_frames_copies(tmp_path):
    rng = np.random.default_rng(0)
    train = rng.normal(size=(10, 1, 4, 4))
    nn = {"nn_idx": np.array([3, 5, 1]), "nn_dist": np.array([0.0, 2.0, 3.0]), "copy_threshold": 1.0, "gl": 0.5}
    panel = memorization_pairs("N = 10", train[[3, 0, 1]], train, nn, num_pairs=2)
    assert panel["info"] == {"gl": 0.5, "copy_threshold": 1.0} and len(panel["generated"]) == 2
    with pytest.raises(ValueError, match="3 nearest neighbours for 2 samples"):
        memorization_pairs("x", train[:2], train, nn, 2)
    fig, (lo, hi) = memorization_figure([panel, panel], num_pairs=3, suptitle="S")
    assert lo == -hi and hi > 0
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    assert len(fig.axes) == 2 * 2 * 3 and len(axes) == 2 * 2 * 2  # the third column has no pair
    red = [ax for ax in fig.axes if ax.axison and ax.spines["top"].get_edgecolor()[:3] == (1.0, 0.0, 0.0)]
    assert len(red) == 2 * 2  # the copy (distance 0 < 1) of each panel, both rows
    assert memorization_figure([panel], 2, value_range=[-1, 1])[1] == (-1.0, 1.0)
    _renders(fig, tmp_path)


def _ranks():
    sig = np.array([80.0, 10.0, 1.0, 0.1])
    rows = [{"dataset": ds, "model": m, "noise": k, "step": s, "sigma": sig[s], "rank": r, "n": 64,
             "rank_ratio": r / 64}
            for ds in ("a", "b") for m, curve in (("unet", [30, 12, 8, 20]), ("gaussian", [60, 40, 20, 5]))
            for k in range(3) for s, r in enumerate(np.array(curve) + k)]
    t2 = pd.DataFrame([{"dataset": ds, "n": 64, "sigma_train_lo": 0.05, "sigma_train_hi": 20.0, "sigma_min": 1.0,
                        "sigma_min_ci_lo": 1.0, "sigma_min_ci_hi": 10.0, "d_intr_min": 9.0, "d_intr_min_se": 0.5,
                        "u_shaped": ds == "a", "p_high_sigma": 0.01, "p_low_sigma": 0.02,
                        "reason": "" if ds == "a" else "no significant rise", "caveat": np.nan} for ds in ("a", "b")])
    return pd.DataFrame(rows), t2


def test_fig7_has_a_panel_per_dataset_with_the_verdict(tmp_path):
    ranks, t2 = _ranks()
    fig = fig7(ranks, t2, STYLE, eta=0.99)
    assert len(fig.axes) == 2
    a, b = fig.axes
    assert a.get_title().startswith("a (n = 64): d_intr = 9 +- 0.5 at sigma 1\nU-shape significant")
    assert "U-SHAPE NOT SIGNIFICANT: no significant rise" in b.get_title()
    labels = [t.get_text() for t in a.get_legend().get_texts()]
    assert "U-Net (mean, 95 % bootstrap band over noises)" in labels and "Gaussian (closed form)" in labels
    _renders(fig, tmp_path)


def test_molrg_rank_figure_draws_each_model_and_the_levels(tmp_path):
    df = pd.DataFrame([{"model": m, "sigma": s, "rank": r + k, "K": 2, "d": 3, "n": 20}
                       for m in ("closed_form", "unet_d3") for k in range(2)
                       for s, r in zip((10.0, 1.0, 0.1), (6, 4, 3))])
    fig = molrg_rank_figure(df, STYLE)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["closed form", "unet d3"]
    assert {t.get_text() for t in ax.texts} == {" d = 3", " K d = 6"}
    _renders(fig, tmp_path)


def test_fig5_draws_the_edit_grid_and_the_distributions(tmp_path):
    B, m, L = 2, 3, 2
    l2 = np.arange(B * m * L, dtype=float).reshape(B, m, L) + 1
    result = {"sigma_edit": 3.0, "t_edit": 0.5, "units": "norm_fraction", "strengths": [-0.2, 0.2],
              "names": ["v1", "r1", "r2"], "kinds": ["singular", "random", "random"], "l2": l2, "rms": l2,
              "gains": [[3.0, 1.0, 1.0]] * B, "iters": [4] * B, "state_norm": [2.0] * B, "scales": [2.0] * B,
              "reference": torch.zeros(B, 1, 4, 4), "edited": torch.rand(B, m, L, 1, 4, 4)}
    labels = {"original": np.zeros(B, int), "before": np.zeros(B, int), "after": np.ones((B, m, L), int)}
    table = edit_table("ds", [0, 1], result, labels, 0.9, (0.1, 5.0), True)
    fig = fig5(figure_arrays(torch.zeros(B, 1, 4, 4), [0, 1], result, labels, (0.1, 5.0)), table, summarise(table),
               STYLE)
    assert len(fig.axes) == 2 * m * (L + 2) + 2
    ax_l2, ax_rate = fig.axes[-2:]
    assert ax_l2.get_title() == "2 images; box: 2 random directions each (5-95 %), points: v_i"
    assert ax_rate.get_title() == "classifier label changes (Wilson 95 % CI)"
    assert fig.axes[2].get_title() == "f = -0.2\nlabel 1"
    _renders(fig, tmp_path)


def test_fig1_rows_per_dataset_and_model(tmp_path):
    x = np.random.default_rng(0).uniform(-1, 1, (5, 1, 4, 4))
    samples = {(ds, m): x for ds in ("a", "b") for m in ("unet", "gaussian", "molrg")}
    t1 = pd.DataFrame([{"dataset": ds, "model": m, "class_agreement": 0.5, "eq8_l2sq": 12.0}
                       for ds in ("a", "b") for m in ("gaussian", "molrg")])
    stab = pd.DataFrame([{"dataset": ds, "unit": "l2", "step": s, "gap": 0.1 * s, "gap_stable": "True",
                          "ordering_stable": True} for ds in ("a", "b") for s in (1, 2)])
    fig = fig1(samples, t1, stab, ["a", "b"], 18, STYLE)
    assert len(fig.axes) == 6
    assert fig.axes[0].get_title(loc="left") == "a (1x4x4); G−M gap at U-Net steps 2/1: l2 0.20/0.10"
    assert fig.axes[1].get_ylabel() == "Gaussian\nagree 0.50\nl2² 12.0"
    assert strip(x[:2]).shape == (4, 9, 3) and stability_text(stab.iloc[0:0]) == "checkpoint stability: n/a"
    _renders(fig, tmp_path)
